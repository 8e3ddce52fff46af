import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sharedAvailable, sharedPath, sharedSkipReason } from "@pqm/testing";
import { parquetWriteFile } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataFormatError } from "../errors.js";
import { readJsonArray } from "./json-array-reader.js";
import type { SourceRecord } from "./jsonl.js";
import { writeJsonl } from "./jsonl.js";
import type { ReadStats } from "./read-options.js";
import { createReadStats } from "./read-options.js";
import { readRecords, recordFormatOf } from "./record-reader.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pqm-records-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(iterable: AsyncIterable<SourceRecord>): Promise<SourceRecord[]> {
  const records: SourceRecord[] = [];
  for await (const record of iterable) records.push(record);
  return records;
}

async function arrayFile(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

describe("readJsonArray", () => {
  it("streams the elements of tricky arrays exactly as JSON.parse reads them, at every read size", async () => {
    const values = [
      { text: 'brackets ] } [ { and "quotes" and \\ backslashes \\\\', list: [1, [2, [3]]] },
      "a string with , and ]",
      42,
      -1.5e-3,
      null,
      true,
      [],
      {},
      { unicode: "ки → 日本 😀" },
    ];
    const path = await arrayFile(
      "tricky.json",
      `\ufeff [\n ${values.map((value) => JSON.stringify(value)).join(" ,\n")} \n] \n`,
    );
    for (const chunkBytes of [1, 3, 16, 1 << 20]) {
      const records = await collect(readJsonArray(path, { chunkBytes }));
      expect(records.map((record) => record.record)).toEqual(values);
      expect(records.map((record) => record.line)).toEqual(values.map((_, index) => index + 1));
    }
    expect(await collect(readJsonArray(await arrayFile("empty-array.json", "[]")))).toEqual([]);
  });

  it("reports structural errors with the file and element", async () => {
    const cases: [string, RegExp][] = [
      ['{"a": 1}', /not-array\.json: expected a JSON array/],
      ['[{"a": 1}, {"b": 2}', /not-array\.json:2: truncated JSON array/],
      ['[{"a": 1}] x', /not-array\.json: unexpected data after the JSON array/],
      ['[{"a": 1}, {"b": tru}]', /not-array\.json:2: invalid JSON in element 2/],
      ["   ", /not-array\.json: empty file/],
    ];
    for (const [content, message] of cases) {
      const path = await arrayFile("not-array.json", content);
      const error = await collect(readJsonArray(path)).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DataFormatError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it("skips a bad element with onError skip and keeps positions", async () => {
    const path = await arrayFile(
      "skip.json",
      Buffer.concat([Buffer.from('[1, "'), Buffer.from([0xff]), Buffer.from('", {"x": }, 4]')]),
    );
    const stats: ReadStats = createReadStats();
    const records = await collect(readJsonArray(path, { onError: "skip", stats }));
    expect(records).toEqual([
      { line: 1, record: 1 },
      { line: 4, record: 4 },
    ]);
    expect(stats.skippedByReason).toEqual({ "invalid-utf8": 1, "invalid-json": 1 });
  });
});

describe("readRecords", () => {
  const rows = [
    { question: "What is 1+1?", answer: "2", level: 1, ok: true },
    { question: "ки?", answer: "None", level: 5, ok: false },
    { question: "Big", answer: "3", level: 2, ok: true },
  ];

  it("reads JSONL, JSON and Parquet by extension with 1-based positions", async () => {
    const jsonl = join(dir, "rows.jsonl");
    await writeJsonl(jsonl, rows);
    const json = await arrayFile("rows.json", JSON.stringify(rows, null, 2));
    const parquet = join(dir, "rows.parquet");
    parquetWriteFile({
      filename: parquet,
      columnData: [
        { name: "question", data: rows.map((row) => row.question), type: "STRING" },
        { name: "answer", data: rows.map((row) => row.answer), type: "STRING" },
        { name: "level", data: rows.map((row) => BigInt(row.level)), type: "INT64" },
        { name: "ok", data: rows.map((row) => row.ok), type: "BOOLEAN" },
      ],
      rowGroupSize: 2,
    });
    for (const path of [jsonl, json, parquet]) {
      const stats = createReadStats();
      const records = await collect(readRecords(path, { stats }));
      expect(records).toEqual(rows.map((record, index) => ({ line: index + 1, record })));
      expect(stats.yielded).toBe(rows.length);
    }
    expect(recordFormatOf("a/b.NDJSON")).toBe("jsonl");
    expect(() => recordFormatOf("data.csv")).toThrow(/data\.csv: unknown record format '\.csv'/);
  });

  it("names a file that is not Parquet", async () => {
    const path = await arrayFile("fake.parquet", "not parquet at all");
    await expect(collect(readRecords(path))).rejects.toThrow(/fake\.parquet: not a readable Parquet file/);
  });
});

describe.skipIf(!sharedAvailable)(`readJsonArray on ProcessBench${sharedSkipReason}`, () => {
  it("matches JSON.parse of the whole file", async () => {
    const path = sharedPath("data", "processbench", "math.json");
    const whole = JSON.parse(readFileSync(path, "utf8")) as unknown[];
    const records = await collect(readJsonArray(path, { chunkBytes: 4096 }));
    expect(records.map((record) => record.record)).toEqual(whole);
  });
});
