import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SourceRecord } from "./jsonl.js";
import { formatJsonLine, readJsonl, writeJsonl } from "./jsonl.js";
import type { ReadStats } from "./read-options.js";
import { createReadStats } from "./read-options.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pqm-jsonl-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(path: string, options: { onError?: "throw" | "skip"; stats?: ReadStats } = {}) {
  const records: SourceRecord[] = [];
  for await (const record of readJsonl(path, options)) records.push(record);
  return records;
}

describe("readJsonl / writeJsonl", () => {
  it("round-trips values, including non-ASCII text, with line numbers", async () => {
    const values = [{ a: 1, text: "ки +" }, [1, 2], "plain", null, { nested: { deep: [true, false] } }];
    const path = join(dir, "round.jsonl");
    expect(await writeJsonl(path, values)).toBe(values.length);
    const read = await collect(path);
    expect(read.map((record) => record.record)).toEqual(values);
    expect(read.map((record) => record.line)).toEqual([1, 2, 3, 4, 5]);
    expect((await readdir(dir)).filter((name) => name.includes(".tmp-"))).toEqual([]);
  });

  it("writes ASCII-only lines like Python's json.dumps when asked", async () => {
    expect(formatJsonLine({ t: "ки" }, { asciiOnly: true })).toBe('{"t":"\\u043a\\u0438"}');
    const path = join(dir, "ascii.jsonl");
    await writeJsonl(path, [{ t: "ки é" }], { asciiOnly: true });
    const text = await readFile(path, "utf8");
    expect([...text].every((char) => char.charCodeAt(0) < 0x80)).toBe(true);
    expect((await collect(path))[0]?.record).toEqual({ t: "ки é" });
  });

  it("names file and line of malformed JSON; skips it with onError skip", async () => {
    const path = join(dir, "bad.jsonl");
    await writeFile(path, '{"a": 1}\n\n{"a": 2,}\n{"a": 3}\n');
    await expect(collect(path)).rejects.toThrow(/bad\.jsonl:3: invalid JSON/);
    const stats = createReadStats();
    const read = await collect(path, { onError: "skip", stats });
    expect(read.map((record) => record.line)).toEqual([1, 4]);
    expect(stats.skippedByReason["invalid-json"]).toBe(1);
    expect(stats.blankLines).toBe(1);
  });

  it("rejects an empty file and a blank-only file", async () => {
    const empty = join(dir, "empty.jsonl");
    await writeFile(empty, "");
    await expect(collect(empty)).rejects.toThrow(/empty\.jsonl: empty file/);
    const blank = join(dir, "blank.jsonl");
    await writeFile(blank, "\n  \n");
    await expect(collect(blank)).rejects.toThrow(/empty file/);
    const stats = createReadStats();
    expect(await collect(empty, { onError: "skip", stats })).toEqual([]);
    expect(stats.skippedByReason["empty-file"]).toBe(1);
  });
});
