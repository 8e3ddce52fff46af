import { existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { WorkerInput, WorkerMessage } from "./pipeline-worker.js";
import type { PipelineEvent } from "./progress.js";
import { jobResultFile, loadJobResult, saveJobResult } from "./run-state.js";
import {
  TrainingStoppedError,
  type TrainJob,
  type TrainJobResult,
  trainAndScore,
} from "./train-and-score.js";

// Built beside the bundle that imports this module (dist/pipeline-worker.js), so it is found wherever
// the package is installed; absent when this module runs from its TypeScript sources.
const workerFile = fileURLToPath(new URL("./pipeline-worker.js", import.meta.url));

/** Whether training can go to worker threads here (the built worker entry exists beside this module). */
export function workerEntryAvailable(): boolean {
  return existsSync(workerFile);
}

/** Worker threads at once by default: one per core of the machines the recipe was sized on (wasm runs one thread). */
export const DEFAULT_WORKERS = 2;

/** Milliseconds a worker asked to stop may take to reach its next step before it is ended. */
const STOP_GRACE_MS = 2000;

/** Options of {@link runTrainJobs}. */
export interface TrainJobsOptions {
  /** Worker threads when true and the worker entry exists, else one job after another in this thread. */
  parallel: boolean;
  /** Seed of the run, for the events. */
  seed: number;
  workers?: number;
  workerSetup?: readonly (string | URL)[];
  signal?: AbortSignal;
  onProgress?: (event: PipelineEvent) => void;
  /** Told when a job's result is at hand: trained now (and kept, with `outDir`), or kept by an earlier run. */
  onResult?: (job: TrainJob, resumed: boolean) => void;
}

function setupUrls(setup: readonly (string | URL)[] | undefined): string[] {
  return (setup ?? []).map((entry) => {
    if (entry instanceof URL) return entry.href;
    return isAbsolute(entry) ? pathToFileURL(entry).href : entry;
  });
}

/**
 * Trains and scores one model in a worker thread. Settles only once the thread has exited: with the
 * result, with the worker's error, or with {@link TrainingStoppedError} after `stop` was aborted.
 */
function runInWorker(
  job: TrainJob,
  options: TrainJobsOptions,
  stop: { flag: Int32Array; signal: AbortSignal },
): Promise<TrainJobResult> {
  const name = job.name ?? job.loss;
  const emit = options.onProgress ?? (() => {});
  return new Promise((resolve, reject) => {
    const input: WorkerInput = { job, stop: stop.flag, setup: setupUrls(options.workerSetup) };
    const worker = new Worker(workerFile, { workerData: input });
    const threadId = worker.threadId;
    emit({ type: "worker", state: "started", seed: options.seed, model: name, threadId });
    let outcome: { result: TrainJobResult } | { error: unknown } | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    const onStop = () => {
      graceTimer = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
    };
    if (stop.signal.aborted) onStop();
    else stop.signal.addEventListener("abort", onStop, { once: true });
    worker.on("message", (message: WorkerMessage) => {
      switch (message.kind) {
        case "step":
          emit({
            type: "training-step",
            seed: options.seed,
            model: name,
            loss: job.loss,
            step: message.step,
            totalSteps: job.config.trainSteps,
            value: message.loss,
          });
          return;
        case "trained": {
          const { kind: _kind, ...info } = message;
          emit({ type: "model-trained", seed: options.seed, model: name, loss: job.loss, ...info });
          return;
        }
        case "result":
          outcome ??= { result: message.result };
          break;
        case "stopped":
          outcome ??= { error: new TrainingStoppedError(name) };
          break;
        case "error":
          outcome ??= {
            error: new Error(`training the ${name} model failed in its worker: ${message.message}`),
          };
          break;
      }
      void worker.terminate();
    });
    worker.on("error", (error) => {
      outcome ??= { error };
    });
    worker.on("exit", (code) => {
      clearTimeout(graceTimer);
      stop.signal.removeEventListener("abort", onStop);
      emit({ type: "worker", state: "exited", seed: options.seed, model: name, threadId });
      if (outcome === undefined && stop.signal.aborted) outcome = { error: new TrainingStoppedError(name) };
      if (outcome === undefined) {
        reject(new Error(`the ${name} worker exited with code ${code} before it finished`));
      } else if ("result" in outcome) resolve(outcome.result);
      else reject(outcome.error);
    });
  });
}

/**
 * Trains and scores models, results in job order: `workers` at a time (default 2), each in its own
 * worker thread, when `parallel` (one core each, since wasm runs one thread a process), else one
 * after another in this thread. On an abort of `signal`, or when one job fails, every running job is
 * stopped and its thread has exited before this rejects (with the signal's reason, or the failure).
 * A job with an `outDir` keeps its result there when it finishes (`model-<name>.result.json`), and
 * a later call finds it and skips the job.
 */
export async function runTrainJobs(
  jobs: readonly TrainJob[],
  options: TrainJobsOptions,
): Promise<TrainJobResult[]> {
  const { signal, seed } = options;
  const emit = options.onProgress ?? (() => {});
  const results: TrainJobResult[] = new Array(jobs.length);
  signal?.throwIfAborted();
  // Jobs an earlier run of the same results folder finished are read back, not trained again.
  const pending: number[] = [];
  for (const [index, job] of jobs.entries()) {
    const kept = await loadJobResult(job);
    if (kept === undefined) {
      pending.push(index);
      continue;
    }
    results[index] = kept;
    const name = job.name ?? job.loss;
    emit({ type: "model-resumed", seed, model: name, loss: job.loss, file: jobResultFile(job) ?? "" });
    options.onResult?.(job, true);
  }
  const finished = async (index: number, result: TrainJobResult): Promise<void> => {
    const job = jobs[index]!;
    results[index] = result;
    await saveJobResult(job, result);
    options.onResult?.(job, false);
  };
  if (!(options.parallel && workerEntryAvailable())) {
    for (const index of pending) {
      const job = jobs[index]!;
      const name = job.name ?? job.loss;
      try {
        const result = await trainAndScore(job, {
          onStep: (step, value) =>
            emit({
              type: "training-step",
              seed,
              model: name,
              loss: job.loss,
              step,
              totalSteps: job.config.trainSteps,
              value,
            }),
          onTrained: (info) => emit({ type: "model-trained", seed, model: name, loss: job.loss, ...info }),
          shouldStop: () => signal?.aborted === true,
        });
        await finished(index, result);
      } catch (error) {
        if (error instanceof TrainingStoppedError) signal?.throwIfAborted();
        throw error;
      }
    }
    return results;
  }

  // One stop for every worker: the caller's abort, or the first failure.
  const stopAll = new AbortController();
  const flag = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  stopAll.signal.addEventListener("abort", () => Atomics.store(flag, 0, 1), { once: true });
  const onAbort = () => stopAll.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  let failure: { error: unknown } | undefined;
  let next = 0;
  const lane = async () => {
    while (next < pending.length && !stopAll.signal.aborted) {
      const index = pending[next++]!;
      try {
        await finished(index, await runInWorker(jobs[index]!, options, { flag, signal: stopAll.signal }));
      } catch (error) {
        if (!(error instanceof TrainingStoppedError)) failure ??= { error };
        stopAll.abort();
      }
    }
  };
  try {
    const workers = Math.max(1, options.workers ?? DEFAULT_WORKERS);
    await Promise.all(Array.from({ length: Math.min(workers, pending.length) }, lane));
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  signal?.throwIfAborted();
  if (failure) throw failure.error;
  return results;
}
