// Compares ways of splitting a large JSONL file into lines: node:readline (lenient UTF-8) against
// the hand-rolled byte splitter of src/formats/line-reader.ts (fatal UTF-8 check), at two read
// sizes. Run from packages/data:
//   node --import tsx bench/formats-line-split.bench.ts [--mb 200]
// Results go to bench/results/formats-line-split.json.
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { readLines } from "../src/formats/line-reader.js";

const here = dirname(fileURLToPath(import.meta.url));
const targetMb = Number(process.argv[process.argv.indexOf("--mb") + 1] ?? 200) || 200;

async function generate(path: string, targetBytes: number): Promise<number> {
  const stream = createWriteStream(path);
  let bytes = 0;
  let lines = 0;
  while (bytes < targetBytes) {
    const line = `${JSON.stringify({ input: `Question ${lines}? Step 1: ${"x".repeat(lines % 700)} ки`, task: "GSM8K" })}\n`;
    bytes += Buffer.byteLength(line);
    lines += 1;
    if (!stream.write(line)) await once(stream, "drain");
  }
  stream.end();
  await once(stream, "finish");
  return lines;
}

async function time(name: string, run: () => Promise<number>, expected: number, megabytes: number) {
  const start = performance.now();
  const lines = await run();
  const seconds = (performance.now() - start) / 1000;
  if (lines !== expected) throw new Error(`${name}: ${lines} lines, expected ${expected}`);
  process.stderr.write(`${name}: ${seconds.toFixed(2)} s\n`);
  return { name, seconds: Number(seconds.toFixed(2)), mbPerSecond: Number((megabytes / seconds).toFixed(0)) };
}

const dir = await mkdtemp(join(tmpdir(), "pqm-lines-bench-"));
try {
  const path = join(dir, "lines.jsonl");
  const expected = await generate(path, targetMb * 1e6);
  const megabytes = (await stat(path)).size / 1e6;
  const runs = [];
  for (let repeat = 0; repeat < 2; repeat += 1) {
    runs.push(
      await time(
        "node:readline",
        async () => {
          let count = 0;
          const input = createReadStream(path, { encoding: "utf8" });
          for await (const _ of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) count += 1;
          return count;
        },
        expected,
        megabytes,
      ),
    );
    for (const chunkBytes of [64 * 1024, 1024 * 1024]) {
      runs.push(
        await time(
          `readLines (byte splitter, fatal UTF-8, ${chunkBytes / 1024} KiB reads)`,
          async () => {
            let count = 0;
            for await (const _ of readLines(path, { chunkBytes })) count += 1;
            return count;
          },
          expected,
          megabytes,
        ),
      );
    }
  }
  const result = {
    benchmark: "formats-line-split",
    command: "cd packages/data && node --import tsx bench/formats-line-split.bench.ts",
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length },
    node: process.version,
    fileMb: Number(megabytes.toFixed(1)),
    lines: expected,
    runs,
  };
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results", "formats-line-split.json"), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
