// The full fuzzing of every file reader in the repository: runs each package's `*.fuzz.test.ts`
// with PQM_FUZZ=full (the full run counts, about 124,000 generated and mutated inputs in all, against
// the CI share of about 5,000), collects what each reader's property recorded (runs, inputs accepted,
// rejections by kind, seconds) and writes bench/results/fuzz-readers.json with the machine, the date
// and the command. The readers live in several packages (data, model, eval, the CLI), so this runs
// their test files in their own folders, one package after another.
//
//   cd packages/data && node --import tsx bench/fuzz-readers.ts        (or: pnpm --filter @pqm/data fuzz)
//   PQM_FUZZ_SEED=7 ... shifts every reader's seed (each run stays reproducible).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, hostname, tmpdir, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const packages = ["packages/data", "packages/model", "packages/eval", "apps/cli"];
const vitest = join(root, "node_modules", "vitest", "vitest.mjs");

function fuzzFiles(folder: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith(".fuzz.test.ts")) out.push(full);
    }
  };
  walk(join(folder, "src"));
  return out.sort();
}

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((entry) => entry.startsWith("model name"));
    if (line) return line.split(":")[1]!.trim();
  } catch {
    // Not Linux: fall back to what Node reports.
  }
  return cpus()[0]?.model ?? "unknown";
}

interface ReaderResult {
  reader: string;
  runs: number;
  accepted: number;
  rejected: Record<string, number>;
  seconds: number;
  mode: string;
}

const resultsFile = join(tmpdir(), `pqm-fuzz-results-${process.pid}.jsonl`);
rmSync(resultsFile, { force: true });
const started = Date.now();
let failed = 0;
for (const pkg of packages) {
  const folder = join(root, pkg);
  const files = fuzzFiles(folder).map((file) => relative(folder, file));
  if (files.length === 0) continue;
  console.log(`\n== ${pkg}: ${files.join(", ")}`);
  // The full counts take minutes per file: no per-test time limit (each input has its own, 5 s).
  const run = spawnSync(process.execPath, [vitest, "run", "--testTimeout", "3600000", ...files], {
    cwd: folder,
    stdio: "inherit",
    env: { ...process.env, PQM_FUZZ: "full", PQM_FUZZ_RESULTS: resultsFile },
  });
  if (run.status !== 0) {
    failed += 1;
    console.error(`${pkg}: the fuzz tests failed (exit ${run.status ?? run.signal})`);
  }
}
const wallSeconds = (Date.now() - started) / 1000;

const readers: ReaderResult[] = existsSync(resultsFile)
  ? readFileSync(resultsFile, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as ReaderResult)
  : [];
rmSync(resultsFile, { force: true });
const totalRuns = readers.reduce((sum, reader) => sum + reader.runs, 0);
const report = {
  benchmark: "fuzz-readers",
  date: new Date().toISOString(),
  command: "cd packages/data && node --import tsx bench/fuzz-readers.ts",
  seedShift: Number(process.env.PQM_FUZZ_SEED ?? 0),
  machine: {
    host: hostname(),
    cpu: cpuModel(),
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  },
  failedPackages: failed,
  totalRuns,
  fuzzSeconds: Math.round(readers.reduce((sum, reader) => sum + reader.seconds, 0) * 10) / 10,
  wallSeconds: Math.round(wallSeconds * 10) / 10,
  readers,
};
const out = join(here, "results", "fuzz-readers.json");
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);

console.log("\nreader                      runs  accepted  rejected  seconds");
for (const reader of readers) {
  const rejected = reader.runs - reader.accepted;
  console.log(
    `${reader.reader.padEnd(26)} ${String(reader.runs).padStart(6)} ${String(reader.accepted).padStart(9)} ` +
      `${String(rejected).padStart(9)} ${reader.seconds.toFixed(1).padStart(8)}`,
  );
}
console.log(
  `total ${totalRuns} runs in ${report.fuzzSeconds} s of fuzzing (${report.wallSeconds} s wall); ${out}`,
);
process.exitCode = failed === 0 && totalRuns > 0 ? 0 : 1;
