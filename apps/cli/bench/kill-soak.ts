// The kill soak: SIGKILLs real `pqm train` and `pqm annotate` runs at many seeded random moments and
// reruns the same command into the same output until it finishes, then compares the end result with an
// uninterrupted run's (weights and optimizer state bit for bit, every step logged once; the same rows).
// Kill points come in series of `--series-length` kills into one fresh output folder each, until
// `--points` kills have landed.
//
//   npx -y pnpm@12.4.2 --filter @pqm/cli soak --points 50 --seed 0   (builds the CLI first)
//   (or, with apps/cli built: cd apps/cli && node --import tsx bench/kill-soak.ts --points 50 --seed 0)
//
// Options: --points N (kill points landed per command, default 50), --seed S (default 0), --commands
// train,annotate, --series-length K (default 5), --out <file> (default bench/results/kill-soak.json).
// Writes the figures (machine, CPU, date, the exact command, kill points survived, work lost per kill,
// mismatches) to the results file and a summary line per command to stdout.
import { cp, mkdir, mkdtemp, rm } from "node:fs/promises";
import { cpus, hostname, platform, release, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  annotateTarget,
  type KillPoint,
  type KillTarget,
  killSeries,
  seededRandom,
  trainTarget,
  uninterrupted,
  usePqmBin,
  writeJson,
} from "../test/kill-harness.js";

const here = dirname(fileURLToPath(import.meta.url));
// `pnpm soak -- --points 5` passes the `--` on: it is not an end of options here.
const argv = process.argv.slice(2).filter((word) => word !== "--");
const { values } = parseArgs({
  args: argv,
  options: {
    points: { type: "string", default: "50" },
    seed: { type: "string", default: "0" },
    commands: { type: "string", default: "train,annotate" },
    "series-length": { type: "string", default: "5" },
    out: { type: "string", default: join(here, "results", "kill-soak.json") },
  },
});
const points = Number(values.points);
const seed = Number(values.seed);
const seriesLength = Number(values["series-length"]);
const commands = values.commands.split(",").map((name) => name.trim());
for (const [name, value] of [
  ["--points", points],
  ["--seed", seed],
  ["--series-length", seriesLength],
] as const) {
  if (!Number.isInteger(value) || value < (name === "--seed" ? 0 : 1)) {
    throw new Error(`${name}: expected a whole number, got ${String(value)}`);
  }
}

/** Mean, median and max of a list (0 for an empty one). */
function spread(values: readonly number[]): { mean: number; median: number; max: number } {
  if (values.length === 0) return { mean: 0, median: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  return {
    mean: Number(mean.toFixed(3)),
    median: sorted[Math.floor(sorted.length / 2)]!,
    max: sorted.at(-1)!,
  };
}

interface CommandFigures {
  command: string;
  unit: string;
  totalUnits: number;
  /** The command line of one run (the output folder varies). */
  exampleCommand: string;
  killPointsPlanned: number;
  /** Kills that landed (series go on until `killPointsPlanned` have; a run that finished first ends its series). */
  killPointsLanded: number;
  /** Landed kills whose series ended with the uninterrupted run's result. */
  killPointsSurvived: number;
  series: number;
  seriesMatching: number;
  mismatches: { series: number; field: string; expected: string; found: string }[];
  failures: { series: number; error: string }[];
  /** Units done again after a kill (training steps; the row being written), and output bytes dropped. */
  workLostPerKill: {
    unitsRedone: { mean: number; median: number; max: number };
    bytesDropped: { mean: number; median: number; max: number };
    /** From the last durable write of the killed run (or its spawn, when it wrote none) to the kill. */
    msLost: { mean: number; median: number; max: number };
  };
  /** Leftover temporary folders of saves a kill cut short, over all series. */
  debris: number;
  uninterruptedSeconds: number;
  seconds: number;
  points: (KillPoint & { series: number })[];
}

async function soak(name: string, folder: string, random: () => number): Promise<CommandFigures> {
  const started = performance.now();
  if (name !== "train" && name !== "annotate") throw new Error(`--commands: unknown command '${name}'`);
  const target: KillTarget = name === "train" ? await trainTarget(join(folder, "data")) : annotateTarget();
  const straightOut = join(folder, "straight");
  const straight = await uninterrupted(target, straightOut, folder);
  const end = await target.progressEnd(straightOut);
  // Kills land once the work reaches a random point, plus up to one unit's time for train (a step:
  // inside the step, the metrics write or a checkpoint save) and 20 ms for annotate (a few rows).
  const withinMs =
    name === "train" ? (straight.run.ms - (straight.run.markerMs ?? 0)) / target.totalUnits : 20;
  const figures: CommandFigures = {
    command: name,
    unit: target.unit,
    totalUnits: target.totalUnits,
    exampleCommand: ["pqm", ...target.args("<out>")].join(" "),
    killPointsPlanned: points,
    killPointsLanded: 0,
    killPointsSurvived: 0,
    series: 0,
    seriesMatching: 0,
    mismatches: [],
    failures: [],
    workLostPerKill: { unitsRedone: spread([]), bytesDropped: spread([]), msLost: spread([]) },
    debris: 0,
    uninterruptedSeconds: Number((straight.run.ms / 1000).toFixed(2)),
    seconds: 0,
    points: [],
  };
  // Series until `points` kills have landed (a run that finishes before its kill ends its series
  // early); at most twice the series that would take.
  const maxSeries = 2 * Math.ceil(points / seriesLength);
  while (figures.killPointsLanded < points && figures.series < maxSeries) {
    const index = figures.series++;
    const out = join(folder, `series-${index}`);
    await mkdir(out, { recursive: true });
    try {
      const series = await killSeries(target, out, {
        cwd: folder,
        kills: Math.min(seriesLength, points - figures.killPointsLanded),
        end,
        withinMs,
        random,
      });
      const landed = series.points.filter((point) => point.killed);
      figures.killPointsLanded += landed.length;
      figures.debris += series.debris.length;
      figures.points.push(...series.points.map((point) => ({ ...point, series: index })));
      let matching = true;
      for (const [field, expected] of Object.entries(straight.result)) {
        const found = series.result[field] ?? "(missing)";
        if (found !== expected) {
          matching = false;
          figures.mismatches.push({ series: index, field, expected, found });
        }
      }
      if (matching) {
        figures.seriesMatching++;
        figures.killPointsSurvived += landed.length;
      }
      process.stderr.write(
        `${name} series ${index}: ${landed.length} kills, ${matching ? "same result" : "MISMATCH"}, ` +
          `redone ${landed.map((point) => point.unitsRedone).join("/")} ${target.unit}\n`,
      );
    } catch (error) {
      figures.failures.push({ series: index, error: error instanceof Error ? error.message : String(error) });
      process.stderr.write(`${name} series ${index}: FAILED ${String(error)}\n`);
    }
    await rm(out, { recursive: true, force: true });
  }
  const landed = figures.points.filter((point) => point.killed);
  figures.workLostPerKill = {
    unitsRedone: spread(landed.map((point) => point.unitsRedone)),
    bytesDropped: spread(landed.map((point) => point.bytesDropped)),
    msLost: spread(landed.map((point) => point.msLost)),
  };
  figures.seconds = Number(((performance.now() - started) / 1000).toFixed(1));
  return figures;
}

// A copy of the built command (beside the original, so that it finds the same node_modules): a
// rebuild of apps/cli/dist during a long soak cannot pull the files from under a run.
const copy = join(here, ".soak", "dist");
await rm(copy, { recursive: true, force: true });
await cp(join(here, "..", "dist"), copy, { recursive: true });
usePqmBin(join(copy, "bin.js"));
const root = await mkdtemp(join(tmpdir(), "pqm-kill-soak-"));
const results: CommandFigures[] = [];
try {
  const random = seededRandom(seed);
  for (const name of commands) results.push(await soak(name, join(root, name), random));
} finally {
  await rm(root, { recursive: true, force: true });
  await rm(join(here, ".soak"), { recursive: true, force: true });
}
const outFile = resolve(values.out);
await mkdir(dirname(outFile), { recursive: true });
await writeJson(outFile, {
  format: "pqm-kill-soak/1",
  date: new Date().toISOString(),
  command: `node --import tsx bench/kill-soak.ts ${argv.join(" ")}`.trim(),
  seed,
  seriesLength,
  machine: {
    hostname: hostname(),
    platform: `${platform()} ${release()}`,
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    node: process.version,
  },
  commands: results,
});
for (const figures of results) {
  const lost = figures.workLostPerKill;
  console.log(
    `${figures.command}: ${figures.killPointsSurvived}/${figures.killPointsLanded} kill points survived ` +
      `(${figures.killPointsPlanned} planned, ${figures.seriesMatching}/${figures.series} series equal to an ` +
      `uninterrupted run, ${figures.mismatches.length} mismatches, ${figures.failures.length} failures); ` +
      `work lost per kill: ${lost.unitsRedone.mean} ${figures.unit} on average (max ${lost.unitsRedone.max}), ` +
      `${lost.bytesDropped.mean} bytes dropped (max ${lost.bytesDropped.max}), ${lost.msLost.mean} ms of work ` +
      `(median ${lost.msLost.median}, max ${lost.msLost.max}); ${figures.debris} leftover temporary folders`,
  );
}
console.log(`results: ${outFile}`);
if (results.some((figures) => figures.mismatches.length + figures.failures.length > 0)) process.exitCode = 1;
