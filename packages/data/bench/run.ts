// `pnpm bench` for @pqm/data: runs each benchmark of this package in its own process (so one's
// memory and JIT state cannot colour the next), one after another; each writes bench/results/*.json.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const benchmarks: [file: string, args: string[]][] = [
  ["answers.bench.ts", []],
  ["answer-quality.ts", []],
  ["math-shepherd-stream.bench.ts", ["--mb", "500"]],
  ["arith-stats.ts", ["500", "8"]],
  ["annotation-quality.ts", ["100", "4"]],
  ["annotation-http.ts", ["4000"]],
];

let failed = 0;
for (const [file, args] of benchmarks) {
  console.log(`\n== ${file} ${args.join(" ")}`);
  const run = spawnSync(process.execPath, ["--import", "tsx", join(here, file), ...args], {
    stdio: "inherit",
  });
  if (run.status !== 0) {
    failed += 1;
    console.error(`${file} exited with ${run.status ?? run.signal}`);
  }
}
process.exitCode = failed ? 1 : 0;
