// Streams a generated Math-Shepherd file of at least 500 MB through readMathShepherd and reports
// rows/s, MB/s and peak RSS. Run from packages/data:
//   node --import tsx bench/math-shepherd-stream.bench.ts [--mb 500] [--keep]
// The file is generated in os.tmpdir() and deleted afterwards; results go to
// bench/results/math-shepherd-stream.json.
import { once } from "node:events";
import { createWriteStream, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readMathShepherd } from "../src/formats/math-shepherd.js";
import { createReadStats } from "../src/formats/read-options.js";

const here = dirname(fileURLToPath(import.meta.url));
// Not @pqm/testing: its index loads TF.js, which plain Node cannot import from source here.
const sharedRoot = process.env.PQM_SHARED_DIR
  ? resolve(process.env.PQM_SHARED_DIR)
  : resolve(here, "..", "..", "..", "..", "shared");
const targetMb = Number(process.argv[process.argv.indexOf("--mb") + 1] ?? 500) || 500;

interface SampleRow {
  input: string;
  label: string;
  task: string;
}

/** Writes rows derived from the sample until the file reaches `targetBytes`; returns the row count. */
async function generate(path: string, targetBytes: number): Promise<number> {
  const samples = readFileSync(join(sharedRoot, "data", "math-shepherd", "sample.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as SampleRow);
  const stream = createWriteStream(path);
  let bytes = 0;
  let rows = 0;
  while (bytes < targetBytes) {
    const sample = samples[rows % samples.length]!;
    // Vary the question and the labels so rows differ: a number in the question, signs rotated.
    const variant = `(variant ${rows}) `;
    const flip = rows % 3 === 0;
    const label = flip
      ? sample.label.replace(/ ([+-])(?=\n|$)/g, (_, sign: string) => ` ${sign === "+" ? "-" : "+"}`)
      : sample.label;
    const line = `${JSON.stringify({ input: variant + sample.input, label: variant + label, task: sample.task })}\n`;
    bytes += Buffer.byteLength(line);
    rows += 1;
    if (!stream.write(line)) await once(stream, "drain");
    if (rows % 100_000 === 0) process.stderr.write(`generated ${(bytes / 1e6).toFixed(0)} MB\n`);
  }
  stream.end();
  await once(stream, "finish");
  return rows;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "pqm-ms-bench-"));
  const path = join(dir, "math-shepherd-synthetic.jsonl");
  try {
    const generatedRows = await generate(path, targetMb * 1e6);
    const bytes = (await stat(path)).size;
    process.stderr.write(`parsing ${(bytes / 1e6).toFixed(0)} MB (${generatedRows} rows)\n`);
    const rssSamples: number[] = [];
    const sampler = setInterval(() => rssSamples.push(process.memoryUsage().rss), 100);
    const stats = createReadStats();
    let rows = 0;
    let steps = 0;
    const start = performance.now();
    for await (const trajectory of readMathShepherd(path, { stats })) {
      rows += 1;
      steps += trajectory.steps.length;
      if (rows % 100_000 === 0) process.stderr.write(`parsed ${rows} rows\n`);
    }
    const seconds = (performance.now() - start) / 1000;
    clearInterval(sampler);
    if (rows !== generatedRows) throw new Error(`parsed ${rows} rows of ${generatedRows}`);
    const maxRssMb = process.resourceUsage().maxRSS / 1024;
    const result = {
      benchmark: "math-shepherd-stream",
      command: "cd packages/data && node --import tsx bench/math-shepherd-stream.bench.ts",
      date: new Date().toISOString(),
      machine: {
        cpu: cpus()[0]?.model ?? "unknown",
        cores: cpus().length,
        memoryGb: Math.round(totalmem() / 2 ** 30),
      },
      node: process.version,
      fileMb: Number((bytes / 1e6).toFixed(1)),
      rows,
      steps,
      skipped: stats.skipped,
      seconds: Number(seconds.toFixed(2)),
      rowsPerSecond: Math.round(rows / seconds),
      mbPerSecond: Number((bytes / 1e6 / seconds).toFixed(1)),
      peakRssMb: Number(maxRssMb.toFixed(1)),
      sampledRssMb: {
        min: Number((Math.min(...rssSamples) / 2 ** 20).toFixed(1)),
        max: Number((Math.max(...rssSamples) / 2 ** 20).toFixed(1)),
        samples: rssSamples.length,
      },
    };
    await mkdir(join(here, "results"), { recursive: true });
    await writeFile(
      join(here, "results", "math-shepherd-stream.json"),
      `${JSON.stringify(result, null, 2)}\n`,
    );
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    if (!process.argv.includes("--keep")) await rm(dir, { recursive: true, force: true });
  }
}

await main();
