// Kills a real `pqm train` or `pqm annotate` (SIGKILL: no handler runs, nothing is flushed) at seeded
// random moments, reruns the same command into the same output until it finishes, and checks that the
// result equals an uninterrupted run's: the final checkpoint's weights and optimizer state bit for bit
// and every step logged once (train), the same rows (annotate). Used by test/kill-resume.test.ts (a few
// kill points) and bench/kill-soak.ts (many, with the figures written to a results file).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ArithEnvironment, writeJsonl } from "@pqm/data";
import { cliBinPath } from "../src/run-cli.test-helper.js";

let pqmBin = cliBinPath;

/** Runs `bin` (a copy of the built `pqm`, e.g. one that a rebuild cannot replace mid-run) instead of apps/cli/dist/bin.js. */
export function usePqmBin(bin: string): void {
  pqmBin = bin;
}

/** One run of the built `pqm`, maybe killed. */
export interface KilledRun {
  exitCode: number | null;
  /** The signal that ended it (SIGKILL when the harness killed it). */
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  /** Milliseconds from spawn to exit. */
  ms: number;
  /** Milliseconds from spawn to the first stderr line matching the work marker; null when none came. */
  markerMs: number | null;
  /** Wall-clock times (Date.now()) of the spawn and of the kill (null when not killed). */
  spawnedAt: number;
  killedAt: number | null;
}

/** When a run is killed: once `reached()` (polled every 5 ms after the work marker) holds, plus `thenMs`. */
export interface KillWhen {
  reached: () => boolean;
  thenMs: number;
}

/**
 * Runs `pqm args`; with `killWhen`, sends SIGKILL `thenMs` after `reached()` first holds, polling from
 * the first stderr line matching `marker` (the work has begun; before it the command only loads code
 * and data, and a resumed run tidies its output), or from the spawn when `marker` is null.
 */
export function runPqm(
  args: readonly string[],
  options: { cwd: string; marker: RegExp | null; killWhen?: KillWhen; timeoutMs?: number },
): Promise<KilledRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const spawnedAt = Date.now();
    let killedAt: number | null = null;
    const child = spawn(process.execPath, [pqmBin, ...args], {
      cwd: options.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const kill = () => {
      killedAt ??= Date.now();
      child.kill("SIGKILL");
    };
    let stderr = "";
    let stdout = "";
    let markerMs: number | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    const watch = () => {
      const when = options.killWhen;
      if (when === undefined) return;
      poll = setInterval(() => {
        if (!when.reached()) return;
        clearInterval(poll);
        killTimer = setTimeout(kill, when.thenMs);
      }, 5);
    };
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    if (options.marker === null) watch();
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      if (markerMs === null && options.marker !== null && options.marker.test(stderr)) {
        markerMs = performance.now() - started;
        watch();
      }
    });
    const timeout = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timeout);
      clearTimeout(killTimer);
      clearInterval(poll);
      resolve({
        exitCode: code,
        signal,
        stderr,
        stdout,
        ms: performance.now() - started,
        markerMs,
        spawnedAt,
        killedAt: signal === "SIGKILL" ? killedAt : null,
      });
    });
  });
}

/** A small deterministic generator (mulberry32) for the kill moments. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** What the output folder holds at a moment: units done, units a rerun keeps, what the end result is. */
export interface KillTarget {
  name: "train" | "annotate";
  /** The command's words (after `pqm`), writing into `out`. */
  args(out: string): string[];
  /** The stderr line after which the command works (kills are placed from it); null: from the spawn. */
  marker: RegExp | null;
  /** Units of work the command does in all (steps, rows). */
  totalUnits: number;
  /**
   * How far the work is, read from the output while the command runs (steps logged; bytes of rows
   * written): kills are placed by it. `progressKept` is where a rerun starts from, `progressEnd` where
   * an uninterrupted run (its output in `out`) ends.
   */
  progress(out: string): number;
  progressKept(out: string): Promise<number>;
  progressEnd(out: string): Promise<number>;
  unit: string;
  /** Units done when the process died, as the output shows them (steps logged, complete rows). */
  unitsDone(out: string): Promise<number>;
  /** Of those, the units a rerun resumes from (the latest complete checkpoint's step; complete rows). */
  unitsKept(out: string): Promise<number>;
  /** Bytes a rerun drops (metrics rows past the checkpoint; a torn last line). */
  bytesDropped(out: string): Promise<number>;
  /** The end result, as comparable text (digests of weights and optimizer state; sorted rows). */
  result(out: string): Promise<Record<string, string>>;
  /** Hidden temporary folders a killed save left behind (`.checkpoint-*.tmp-*`). */
  debris(out: string): Promise<string[]>;
  /** When the last durable piece of work was written (ms since the epoch), or null when none was. */
  lastDurable(out: string): Promise<number | null>;
}

/** Lines of a JSONL file: the complete ones, and the bytes of a torn last line. */
async function jsonlLines(path: string): Promise<{ rows: unknown[]; tornBytes: number }> {
  if (!existsSync(path)) return { rows: [], tornBytes: 0 };
  const text = await readFile(path, "utf8");
  const rows: unknown[] = [];
  let tornBytes = 0;
  const lines = text.split("\n");
  lines.forEach((line, index) => {
    if (line.trim() === "") return;
    try {
      rows.push(JSON.parse(line));
    } catch {
      // Only a last line without its newline may be torn; anything else is a real error.
      if (index !== lines.length - 1) throw new Error(`${path}:${index + 1}: not JSON`);
      tornBytes = Buffer.byteLength(line);
    }
  });
  return { rows, tornBytes };
}

const checkpointName = /^checkpoint-(\d+)$/;

async function checkpointSteps(out: string): Promise<number[]> {
  if (!existsSync(out)) return [];
  const steps: number[] = [];
  for (const name of await readdir(out)) {
    const match = checkpointName.exec(name);
    if (match !== null && existsSync(join(out, name, "pqm.json"))) steps.push(Number(match[1]));
  }
  return steps.sort((a, b) => a - b);
}

/** Training rows of a metrics log (not the final validation line). */
async function metricSteps(out: string): Promise<{ step: number; loss: number; gradNorm: number }[]> {
  const { rows } = await jsonlLines(join(out, "metrics.jsonl"));
  return (rows as { step: number; loss?: number; gradNorm?: number; final?: boolean }[])
    .filter((row) => row.final !== true)
    .map((row) => ({ step: row.step, loss: row.loss ?? Number.NaN, gradNorm: row.gradNorm ?? Number.NaN }));
}

/**
 * `pqm train` on a tiny arith corpus (exact labels, 40 trajectories): a preset:tiny model, `steps`
 * steps of 4 rows, a checkpoint every 2 steps. Writes the corpus into `folder` first.
 */
export async function trainTarget(folder: string, steps = 12): Promise<KillTarget> {
  await mkdir(folder, { recursive: true });
  const data = join(folder, "train.jsonl");
  const environment = new ArithEnvironment({ seed: 0 });
  await writeJsonl(data, environment.exactTrainingCorpus({ questions: 20, samplesPerQuestion: 2 }));
  return {
    name: "train",
    unit: "steps",
    totalUnits: steps,
    // Printed once the metrics log has been cut back to the checkpoint resumed from.
    marker: /^train: (starting|resuming)/m,
    progress: (out) => {
      // The highest step logged (a torn last line ignored); read every few ms, and the log is small.
      let text = "";
      try {
        text = readFileSync(join(out, "metrics.jsonl"), "utf8");
      } catch {
        return 0;
      }
      let step = 0;
      for (const line of text.split("\n")) {
        const match = /^\{"step":(\d+),/.exec(line);
        if (match !== null && line.endsWith("}")) step = Math.max(step, Number(match[1]));
      }
      return step;
    },
    progressKept: async (out) => Math.max(0, ...(await checkpointSteps(out))),
    progressEnd: async () => steps,
    args: (out) => [
      ...["train", "--train", data, "--backbone", "preset:tiny", "--steps", String(steps)],
      ...["--batch-size", "4", "--checkpoint-every", "2", "--eval-every", "0", "--backend", "wasm"],
      ...["--out", out],
    ],
    unitsDone: async (out) => Math.max(0, ...(await metricSteps(out)).map((row) => row.step)),
    unitsKept: async (out) => Math.max(0, ...(await checkpointSteps(out))),
    bytesDropped: async (out) => {
      const kept = Math.max(0, ...(await checkpointSteps(out)));
      const path = join(out, "metrics.jsonl");
      if (!existsSync(path)) return 0;
      const text = await readFile(path, "utf8");
      let dropped = 0;
      for (const line of text.split(/(?<=\n)/)) {
        let step: number | undefined;
        try {
          step = (JSON.parse(line) as { step?: number }).step;
        } catch {
          step = undefined;
        }
        if (step === undefined || step > kept) dropped += Buffer.byteLength(line);
      }
      return dropped;
    },
    result: async (out) => {
      const last = join(out, `checkpoint-${String(steps).padStart(6, "0")}`);
      const state = JSON.parse(await readFile(join(last, "training-state", "state.json"), "utf8")) as Record<
        string,
        unknown
      >;
      delete state.elapsedSeconds;
      return {
        "model.safetensors": sha256(await readFile(join(last, "model.safetensors"))),
        "training-state/optimizer.safetensors": sha256(
          await readFile(join(last, "training-state", "optimizer.safetensors")),
        ),
        "training-state/state.json (without elapsedSeconds)": JSON.stringify(state),
        checkpoints: (await checkpointSteps(out)).join(","),
        "metrics.jsonl (step, loss, gradNorm)": JSON.stringify(await metricSteps(out)),
      };
    },
    debris: async (out) =>
      existsSync(out) ? (await readdir(out)).filter((name) => /^\.checkpoint-.*\.(tmp|old)-/.test(name)) : [],
    // A checkpoint is durable once renamed into place; its pqm.json is written last.
    lastDurable: async (out) => {
      const latest = (await checkpointSteps(out)).at(-1);
      if (latest === undefined) return null;
      return statSync(join(out, `checkpoint-${String(latest).padStart(6, "0")}`, "pqm.json")).mtimeMs;
    },
  };
}

/** `pqm annotate` of `questions` arith questions x 4 samples with the arith completer, N = 8. */
export function annotateTarget(questions = 300): KillTarget {
  const rows = questions * 4;
  const output = (out: string) => join(out, "labels.jsonl");
  return {
    name: "annotate",
    unit: "rows",
    totalUnits: rows,
    // Rows are appended (and fsynced) as they finish: kills are placed by the output's size.
    marker: null,
    progress: (out) => {
      try {
        return statSync(output(out)).size;
      } catch {
        return 0;
      }
    },
    progressKept: async (out) => (existsSync(output(out)) ? (await stat(output(out))).size : 0),
    progressEnd: async (out) => (await stat(output(out))).size,
    args: (out) => [
      ...["annotate", "--arith", String(questions), "--samples", "4", "--completer", "arith"],
      ...["--n", "8", "--concurrency", "4", "--output", output(out)],
    ],
    // A torn last line is a row that was being written: done, but not kept.
    unitsDone: async (out) => {
      const { rows: found, tornBytes } = await jsonlLines(output(out));
      return found.length + (tornBytes > 0 ? 1 : 0);
    },
    unitsKept: async (out) => (await jsonlLines(output(out))).rows.length,
    bytesDropped: async (out) => (await jsonlLines(output(out))).tornBytes,
    result: async (out) => {
      const { rows: found } = await jsonlLines(output(out));
      const sorted = (found as { index: number }[]).sort((a, b) => a.index - b.index);
      const indexes = sorted.map((row) => row.index);
      return {
        rows: String(sorted.length),
        "distinct rows": String(new Set(indexes).size),
        "rows (sorted by index), sha256": sha256(JSON.stringify(sorted)),
        failures: existsSync(`${output(out)}.failures.jsonl`)
          ? String((await jsonlLines(`${output(out)}.failures.jsonl`)).rows.length)
          : "0",
      };
    },
    debris: async () => [],
    // Each row is fsynced as it is appended.
    lastDurable: async (out) => (existsSync(output(out)) ? statSync(output(out)).mtimeMs : null),
  };
}

/** What one kill did. */
export interface KillPoint {
  /** Where the kill was placed: once `progress` reached this (steps logged; bytes of rows)... */
  atProgress: number;
  /** ...plus this many ms. */
  thenMs: number;
  /** Whether the process was killed (false: it finished first). */
  killed: boolean;
  /** Units done when it died, and of those the units the rerun resumes from. */
  unitsDone: number;
  unitsKept: number;
  /** unitsDone - unitsKept: done again by the rerun (steps redone; rows are never redone but a torn one). */
  unitsRedone: number;
  /** Bytes of output the rerun drops (metrics rows past the checkpoint, a torn last line). */
  bytesDropped: number;
  /**
   * Milliseconds of work lost: from the killed run's last durable write (a checkpoint, a row) or, when
   * it wrote none, from the start of its work (the marker; the spawn without one), to the kill. It
   * covers the units redone and the work in flight.
   */
  msLost: number;
  /** The rerun's first line saying where it resumed, if any. */
  resumedWith: string | null;
}

/** The outcome of a series of kills and reruns into one output folder. */
export interface KillSeries {
  points: KillPoint[];
  /** The exit code of the run that finished. */
  finalExitCode: number | null;
  finalStderr: string;
  result: Record<string, string>;
  /** Leftover temporary folders of killed saves. */
  debris: string[];
  /** Runs started in all. */
  runs: number;
}

/**
 * Kills `target` `kills` times in the same output folder, then runs it to the end. Each kill is
 * placed by the work's progress: once it reaches a random point between where the run starts from
 * and `end` (where an uninterrupted run ends: `target.progressEnd`), plus a random delay below
 * `withinMs` (about one step's time, so that kills land anywhere inside a step or a save). A run
 * that finishes before its kill lands ends the series early.
 * @throws Error when a rerun fails instead of resuming (with its stderr).
 */
export async function killSeries(
  target: KillTarget,
  out: string,
  options: { cwd: string; kills: number; end: number; withinMs: number; random: () => number },
): Promise<KillSeries> {
  await mkdir(out, { recursive: true });
  const points: KillPoint[] = [];
  let runs = 0;
  let previous: KilledRun | undefined;
  for (let k = 0; k < options.kills; k++) {
    const from = await target.progressKept(out);
    const atProgress = from + options.random() * Math.max(0, options.end - from);
    const thenMs = Math.round(options.random() * options.withinMs);
    const run = await runPqm(target.args(out), {
      cwd: options.cwd,
      marker: target.marker,
      killWhen: { reached: () => target.progress(out) >= atProgress, thenMs },
    });
    runs++;
    if (previous !== undefined) points.at(-1)!.resumedWith = resumeLine(run.stderr);
    if (run.signal !== "SIGKILL") {
      if (run.exitCode !== 0) throw new Error(`run ${runs} failed (exit ${run.exitCode}):\n${run.stderr}`);
      points.push({
        atProgress,
        thenMs,
        killed: false,
        unitsDone: target.totalUnits,
        unitsKept: target.totalUnits,
        unitsRedone: 0,
        bytesDropped: 0,
        msLost: 0,
        resumedWith: null,
      });
      previous = run;
      return finish(run);
    }
    const unitsDone = await target.unitsDone(out);
    const unitsKept = await target.unitsKept(out);
    // From this run's last durable write, else from when its work began (the marker, else the spawn):
    // loading code and data is paid by every run, killed or not.
    const began = run.spawnedAt + (run.markerMs ?? 0);
    const durable = await target.lastDurable(out);
    const since = durable !== null && durable > began ? durable : began;
    points.push({
      atProgress,
      thenMs,
      killed: true,
      unitsDone,
      unitsKept,
      unitsRedone: Math.max(0, unitsDone - unitsKept),
      bytesDropped: await target.bytesDropped(out),
      msLost: Math.max(0, Math.round((run.killedAt ?? since) - since)),
      resumedWith: null,
    });
    previous = run;
  }
  const last = await runPqm(target.args(out), { cwd: options.cwd, marker: target.marker });
  runs++;
  if (points.length > 0) points.at(-1)!.resumedWith = resumeLine(last.stderr);
  if (last.exitCode !== 0) throw new Error(`the final run failed (exit ${last.exitCode}):\n${last.stderr}`);
  return finish(last);

  async function finish(run: KilledRun): Promise<KillSeries> {
    return {
      points,
      finalExitCode: run.exitCode,
      finalStderr: run.stderr,
      result: await target.result(out),
      debris: await target.debris(out),
      runs,
    };
  }
}

function resumeLine(stderr: string): string | null {
  return /^.*(resum|starting it over).*$/m.exec(stderr)?.[0] ?? null;
}

/** Runs `target` once without interruption into `out`; returns its result and timings. */
export async function uninterrupted(
  target: KillTarget,
  out: string,
  cwd: string,
): Promise<{ result: Record<string, string>; run: KilledRun }> {
  await mkdir(out, { recursive: true });
  const run = await runPqm(target.args(out), { cwd, marker: target.marker });
  if (run.exitCode !== 0)
    throw new Error(`the uninterrupted run failed (exit ${run.exitCode}):\n${run.stderr}`);
  return { result: await target.result(out), run };
}

/** Writes `value` as pretty JSON. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}
