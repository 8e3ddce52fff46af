import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataFormatError } from "../errors.js";
import type { ReadLinesOptions } from "./line-reader.js";
import { readLines } from "./line-reader.js";
import { createReadStats } from "./read-options.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pqm-lines-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function lines(name: string, content: string | Buffer, options: ReadLinesOptions = {}) {
  const path = join(dir, name);
  await writeFile(path, content);
  const result: { line: number; text: string }[] = [];
  for await (const line of readLines(path, options)) result.push(line);
  return result;
}

describe("readLines", () => {
  it("gives the same lines as String.split for every read size, across multi-byte characters", async () => {
    const content = ["α-β ки", "", "   ", "Step 1: 日本語 +", "last line without newline ки"].join("\n");
    const expected = content
      .split("\n")
      .map((text, index) => ({ line: index + 1, text }))
      .filter(({ text }) => text.trim() !== "");
    for (const chunkBytes of [1, 2, 3, 5, 7, 64, 1 << 20]) {
      expect(await lines(`split-${chunkBytes}.txt`, content, { chunkBytes })).toEqual(expected);
    }
  });

  it("strips CRLF line ends and the byte-order mark, counts blank lines", async () => {
    const stats = createReadStats();
    const result = await lines("crlf.txt", "\ufeffa\r\n\r\nb\r\n", { stats });
    expect(result).toEqual([
      { line: 1, text: "a" },
      { line: 3, text: "b" },
    ]);
    expect(stats.blankLines).toBe(1);
    expect(stats.seen).toBe(3);
  });

  it("names the line with invalid UTF-8, or counts it with onError skip", async () => {
    const bad = Buffer.concat([
      Buffer.from("ok\nalso ok\nbad "),
      Buffer.from([0xc3, 0x28]),
      Buffer.from("\nfine\n"),
    ]);
    await expect(lines("bad.txt", bad)).rejects.toThrow(/bad\.txt:3: invalid UTF-8/);
    await expect(lines("bad.txt", bad)).rejects.toBeInstanceOf(DataFormatError);
    const stats = createReadStats();
    const kept = await lines("bad2.txt", bad, { onError: "skip", stats, chunkBytes: 4 });
    expect(kept.map((line) => line.line)).toEqual([1, 2, 4]);
    expect(stats.skippedByReason).toEqual({ "invalid-utf8": 1 });
  });

  it("refuses a line longer than maxLineBytes", async () => {
    await expect(
      lines("long.txt", `short\n${"x".repeat(5000)}\n`, { maxLineBytes: 1000, chunkBytes: 256 }),
    ).rejects.toThrow(/long\.txt:2: line longer than 1000 bytes/);
  });

  it("yields nothing for an empty file", async () => {
    expect(await lines("empty.txt", "")).toEqual([]);
  });
});
