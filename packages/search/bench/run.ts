// `pnpm bench` for @pqm/search: each benchmark in its own process, one after another; each writes
// bench/results/*.json with the machine, CPU model, date and exact command.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const benchmarks: [file: string, args: string[]][] = [
  ["overhead.ts", ["200"]],
  ["http-nodes.ts", ["200"]],
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
