import type { ByteMutation, FuzzJson } from "@pqm/testing/fuzz";
import {
  applyByteMutations,
  byteMutation,
  FuzzTally,
  fuzzParameters,
  fuzzRuns,
  mutatedFile,
  renderJsonl,
  renderMutatedFile,
} from "@pqm/testing/fuzz";
import fc from "fast-check";
import { parquetWriteBuffer } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, expectDataError, fuzzFolder, fuzzText } from "./fuzz-checks.test-helper.js";
import { createReadStats } from "./read-options.js";
import { readRecords } from "./record-reader.js";

// The record layer under every reader: JSONL, JSON lists and Parquet. Any JSON values (deep,
// unicode, huge numbers) as JSONL or a list, then mutated; Parquet files written with
// hyparquet-writer (Snappy or uncompressed, several row groups), then their bytes flipped or cut.

const records = fc.array(fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<FuzzJson>, {
  minLength: 1,
  maxLength: 5,
});
const textFiles = mutatedFile(records);

const parquetRows = fc.array(
  fc.record({ question: fuzzText, level: fc.integer({ min: -5, max: 1_000_000 }), ok: fc.boolean() }),
  { minLength: 1, maxLength: 12 },
);
const parquetFiles = fc.record({
  rows: parquetRows,
  codec: fc.constantFrom("SNAPPY" as const, "UNCOMPRESSED" as const),
  rowGroupSize: fc.integer({ min: 1, max: 8 }),
  bytes: fc.oneof(
    { weight: 1, arbitrary: fc.constant<ByteMutation[]>([]) },
    { weight: 6, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 3 }) },
  ),
});

let folder: Awaited<ReturnType<typeof fuzzFolder>>;
beforeAll(async () => {
  folder = await fuzzFolder("records");
});
afterAll(async () => {
  await folder.dispose();
});

describe("readRecords under fuzzing", () => {
  it("JSONL and JSON lists: every mutated file gives JSON records or names file and line", async () => {
    const tally = new FuzzTally("records jsonl/json");
    await fc.assert(
      fc.asyncProperty(textFiles, fc.boolean(), async (input, jsonl) => {
        const bytes = renderMutatedFile(
          input,
          jsonl ? renderJsonl : (values) => JSON.stringify(values, null, 1),
        );
        const path = await folder.write(jsonl ? "records.jsonl" : "records.json", bytes);
        const stats = createReadStats();
        try {
          const read = await collect(readRecords(path, { stats }));
          for (const [position, { line }] of read.entries()) {
            expect(Number.isInteger(line) && line >= position + 1).toBe(true);
          }
          if (input.json.length === 0 && input.bytes.length === 0) {
            expect(read.map((item) => item.record)).toEqual(JSON.parse(JSON.stringify(input.records)));
          }
          tally.accept();
        } catch (error) {
          expectDataError(error, path, tally);
        }
      }),
      fuzzParameters(2120, fuzzRuns(200, 6_000)),
    );
    tally.record();
    expect(tally.accepted).toBeGreaterThan(0);
  });

  it("Parquet: every mutated file gives its rows or names the file (and row)", async () => {
    const tally = new FuzzTally("records parquet");
    const path = folder.path("records.parquet");
    await fc.assert(
      fc.asyncProperty(parquetFiles, async (input) => {
        const buffer = parquetWriteBuffer({
          columnData: [
            { name: "question", data: input.rows.map((row) => row.question), type: "STRING" },
            { name: "level", data: input.rows.map((row) => BigInt(row.level)), type: "INT64" },
            { name: "ok", data: input.rows.map((row) => row.ok), type: "BOOLEAN" },
          ],
          codec: input.codec,
          rowGroupSize: input.rowGroupSize,
        });
        await folder.write("records.parquet", applyByteMutations(new Uint8Array(buffer), input.bytes));
        try {
          const read = await collect(readRecords(path));
          if (input.bytes.length === 0) expect(read.map((item) => item.record)).toEqual(input.rows);
          tally.accept();
        } catch (error) {
          expectDataError(error, path, tally);
        }
      }),
      fuzzParameters(2121, fuzzRuns(300, 8_000)),
    );
    tally.record();
    expect(tally.accepted).toBeGreaterThan(0);
  });
});

describe("record inputs the fuzzing found", () => {
  it("JSON lists: an empty slot is an error numbered like an element, and an extra '}' is not 'truncated'", async () => {
    const cases: [string, RegExp][] = [
      ['[{"a": 1},,{"b": 2}]', /list\.json:2: empty element 2: a comma with no value before it$/],
      ['[{"a": 1},]', /list\.json:2: empty element 2: a comma before the closing '\]'$/],
      ['[{"a": 1}}, {"b": 2}]', /list\.json:1: unbalanced '\}' in element 1 at byte 9$/],
      ['[{"a": 1}] x', /list\.json: unexpected data after the JSON array at byte 11$/],
    ];
    for (const [text, message] of cases) {
      const path = await folder.write("list.json", Buffer.from(text));
      await expect(collect(readRecords(path))).rejects.toThrow(message);
    }
    // With onError "skip" the slot is counted, and the next element keeps its position's number.
    const path = await folder.write("list.json", Buffer.from('[{"a": 1},,{"b": 2}]'));
    const stats = createReadStats();
    const read = await collect(readRecords(path, { onError: "skip", stats }));
    expect(read.map((item) => item.line)).toEqual([1, 3]);
    expect(stats.skippedByReason).toEqual({ "invalid-json": 1 });
  });

  it("Parquet: a page header claiming more values than its column chunk fails before decoding (it used to hang)", async () => {
    const buffer = new Uint8Array(
      parquetWriteBuffer({
        columnData: [{ name: "level", data: [1n, 2n, 3n], type: "INT64" }],
        codec: "UNCOMPRESSED",
      }),
    );
    // The first page header follows the 4-byte magic: its data_page_header_v2 (field 8, 0x5c) starts
    // with num_values (0x15, zigzag 3 = 0x06). Make it 63.
    const at = Buffer.from(buffer).indexOf(Buffer.from([0x5c, 0x15, 0x06])) + 2;
    buffer[at] = 0x7e;
    const path = await folder.write("page.parquet", buffer);
    await expect(collect(readRecords(path))).rejects.toThrow(
      /page\.parquet:1: field 'level': page at byte \d+ holds 63 values, more than the 3 left in its column chunk/,
    );
  });
});
