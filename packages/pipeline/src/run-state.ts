import { existsSync } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { InterruptedError, writeFileAtomic } from "@pqm/data";
import type { TrainJob, TrainJobResult } from "./train-and-score.js";

/** The file in a results folder that records what run the folder holds, so a rerun can resume it. */
export const RUN_FILE = "run.json";

/** What `run.json` holds: the kind of run and its settings (the recipe as resolved, the experiment). */
interface RunRecord {
  format: "pqm-pipeline-run/1";
  settings: Record<string, unknown>;
}

/**
 * A results folder holds another run (other settings, or files of a run whose settings were not
 * recorded): resuming into it would mix two runs. Start over with `overwrite: true`, or use another folder.
 */
export class RunMismatchError extends Error {
  /** The results folder. */
  readonly folder: string;
  /** The first setting that differs, as a dotted path (`recipe.trainSteps`); null when none was recorded. */
  readonly field: string | null;

  constructor(folder: string, field: string | null, detail: string) {
    super(`${folder} already holds ${detail}`);
    this.name = "RunMismatchError";
    this.folder = folder;
    this.field = field;
  }
}

/** What an interrupted `runDemo` or `runExperiment` kept (the `saved` of its `InterruptedError`). */
export interface PipelineSaved {
  /** The results folder; null when the run had none (then nothing was kept). */
  out: string | null;
  /** Finished units, in the order they finished: `seed 0: annotation`, `seed 0: model pqm`. */
  finished: string[];
  /** Units stopped part way whose finished part is kept: `seed 0: annotation (20 of 48 rows)`. */
  partial: string[];
}

/** The first dotted path where two JSON values differ, or null when they are equal. */
function firstDifference(a: unknown, b: unknown, path: string): string | null {
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return Object.is(a, b) ? null : path;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return path;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const found = firstDifference(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
      path === "" ? key : `${path}.${key}`,
    );
    if (found !== null) return found;
  }
  return null;
}

/** Names of a results folder's entries that belong to a run's resumable state. */
function isRunState(name: string): boolean {
  return (
    name === RUN_FILE ||
    /^seed-\d+$/.test(name) ||
    /^annotations(-n\d+)?\.jsonl(\.failures\.jsonl|\.run\.json)?$/.test(name) ||
    /^metrics-.+\.jsonl$/.test(name) ||
    /^model-.+\.result\.json$/.test(name)
  );
}

/**
 * Opens a results folder for a run with these settings: a new or empty folder is claimed (its
 * `run.json` written), one holding the same run is resumed, and one holding another run is refused
 * with {@link RunMismatchError}, unless `overwrite`, which deletes the other run's resumable state
 * first (its `run.json`, annotations, metrics, saved models and `seed-*` folders; reports are
 * rewritten at the end anyway).
 */
export async function openRunFolder(
  out: string,
  settings: Record<string, unknown>,
  overwrite: boolean,
): Promise<void> {
  const record: RunRecord = { format: "pqm-pipeline-run/1", settings };
  const entries = existsSync(out) ? await readdir(out) : [];
  const state = entries.filter(isRunState);
  if (overwrite) {
    for (const name of state) await rm(join(out, name), { recursive: true, force: true });
  } else if (state.length > 0) {
    if (!state.includes(RUN_FILE)) {
      throw new RunMismatchError(
        out,
        null,
        `files of a run whose settings were not recorded (${state.slice(0, 3).join(", ")})`,
      );
    }
    const file = join(out, RUN_FILE);
    let found: RunRecord;
    try {
      found = JSON.parse(await readFile(file, "utf8")) as RunRecord;
    } catch (error) {
      throw new RunMismatchError(
        out,
        null,
        `a ${RUN_FILE} that cannot be read (${(error as Error).message})`,
      );
    }
    const field = firstDifference(found.settings, settings, "");
    if (field === null) return;
    const value = (source: unknown) =>
      JSON.stringify(
        field.split(".").reduce<unknown>((at, key) => (at as Record<string, unknown>)?.[key], source),
      );
    throw new RunMismatchError(
      out,
      field,
      `a run with other settings (${field}: ${value(found.settings)} there, ${value(settings)} now)`,
    );
  }
  await writeFileAtomic(join(out, RUN_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

/** Where a finished model's result is kept: `<outDir>/model-<name>.result.json`. */
export function jobResultFile(job: TrainJob): string | undefined {
  if (job.outDir === undefined) return undefined;
  return join(job.outDir, `model-${(job.name ?? job.loss).replace(/[^\w.=-]+/g, "_")}.result.json`);
}

/** What identifies a job in its result file: a result made for another job is not reused. */
function jobIdentity(job: TrainJob): Record<string, unknown> {
  return {
    name: job.name ?? job.loss,
    loss: job.loss,
    zeta: job.zeta ?? job.config.zeta,
    labels: job.labels ?? "hard",
    seed: job.seed,
    trainSteps: job.config.trainSteps,
    trajectories: job.corpus.length,
    candidates: job.candidates.length,
  };
}

/** Keeps a finished model's result (atomically), so that a rerun of the run skips its training. */
export async function saveJobResult(job: TrainJob, result: TrainJobResult): Promise<void> {
  const file = jobResultFile(job);
  if (file === undefined) return;
  await writeFileAtomic(file, `${JSON.stringify({ job: jobIdentity(job), result })}\n`);
}

/**
 * The result a previous run kept for this job, or undefined when there is none.
 * @throws Error naming the file when it holds the result of another job.
 */
export async function loadJobResult(job: TrainJob): Promise<TrainJobResult | undefined> {
  const file = jobResultFile(job);
  if (file === undefined || !existsSync(file)) return undefined;
  const { job: identity, result } = JSON.parse(await readFile(file, "utf8")) as {
    job: Record<string, unknown>;
    result: TrainJobResult;
  };
  const field = firstDifference(identity, jobIdentity(job), "job");
  if (field !== null) {
    throw new Error(
      `${file}: field '${field}': the saved result belongs to another model; delete the file to retrain it`,
    );
  }
  return result;
}

/** Records what a run has finished, to say what an interrupt kept. */
export class RunLedger {
  private readonly finished: string[] = [];
  private readonly inFlight = new Map<string, string>();

  constructor(private readonly out: string | undefined) {}

  /** A unit is done (and, with a results folder, kept). */
  done(unit: string): void {
    this.inFlight.delete(unit);
    this.finished.push(unit);
  }

  /** A unit is part way, with this much of it kept (`20 of 48 rows`). */
  progress(unit: string, kept: string): void {
    this.inFlight.set(unit, kept);
  }

  /** The error an aborted run rejects with. */
  interrupted(reason: unknown): InterruptedError<PipelineSaved> {
    const saved: PipelineSaved = {
      out: this.out ?? null,
      finished: [...this.finished],
      partial: [...this.inFlight].map(([unit, kept]) => `${unit} (${kept})`),
    };
    const units = [...saved.finished, ...saved.partial];
    const kept =
      this.out === undefined
        ? "nothing kept (the run had no results folder)"
        : units.length === 0
          ? `nothing was finished in ${this.out}`
          : `kept in ${this.out}: ${units.join(", ")}`;
    return new InterruptedError<PipelineSaved>(reason, kept, saved);
  }
}
