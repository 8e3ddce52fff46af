import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { type TrainJob, type TrainJobResult, trainAndScore } from "./demo-training.js";

type WorkerMessage =
  | { kind: "log"; line: string }
  | { kind: "result"; result: TrainJobResult }
  | { kind: "error"; message: string };

// Built next to the bundle that imports this module (dist/demo-worker.js); absent when run from sources.
const workerFile = fileURLToPath(new URL("./demo-worker.js", import.meta.url));

function runInWorker(job: TrainJob, log: (line: string) => void): Promise<TrainJobResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerFile, { workerData: job });
    let settled = false;
    worker.on("message", (message: WorkerMessage) => {
      if (message.kind === "log") log(message.line);
      else if (message.kind === "result") {
        settled = true;
        resolve(message.result);
        void worker.terminate();
      } else {
        settled = true;
        reject(
          new Error(`training the ${job.name ?? job.loss} model failed in its worker: ${message.message}`),
        );
        void worker.terminate();
      }
    });
    worker.on("error", (error) => {
      if (!settled) reject(error);
    });
    worker.on("exit", (code) => {
      if (!settled) {
        reject(new Error(`the ${job.name ?? job.loss} worker exited with code ${code} before it finished`));
      }
    });
  });
}

/** Worker threads at once: one per core of the machines this was measured on (wasm runs one thread). */
export const TRAIN_WORKERS = 2;

/**
 * Trains and scores models, results in job order: `TRAIN_WORKERS` at a time, each in its own worker
 * thread, when `parallel` (one core each, since wasm runs one thread a process), else one after
 * another in this thread.
 */
export async function runTrainJobs(
  jobs: readonly TrainJob[],
  parallel: boolean,
  log: (line: string) => void,
): Promise<TrainJobResult[]> {
  const results: TrainJobResult[] = new Array(jobs.length);
  if (parallel && existsSync(workerFile)) {
    let next = 0;
    const lane = async () => {
      while (next < jobs.length) {
        const index = next++;
        results[index] = await runInWorker(jobs[index]!, log);
      }
    };
    await Promise.all(Array.from({ length: Math.min(TRAIN_WORKERS, jobs.length) }, lane));
    return results;
  }
  for (const [index, job] of jobs.entries()) results[index] = await trainAndScore(job, log);
  return results;
}
