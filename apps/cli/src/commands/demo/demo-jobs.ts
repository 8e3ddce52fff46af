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
        reject(new Error(`training the ${job.loss} model failed in its worker: ${message.message}`));
        void worker.terminate();
      }
    });
    worker.on("error", (error) => {
      if (!settled) reject(error);
    });
    worker.on("exit", (code) => {
      if (!settled) reject(new Error(`the ${job.loss} worker exited with code ${code} before it finished`));
    });
  });
}

/**
 * Trains and scores the demo's models: each in its own worker thread when `parallel` (one core each,
 * since wasm runs one thread a process), else one after another in this thread.
 */
export async function runTrainJobs(
  jobs: readonly TrainJob[],
  parallel: boolean,
  log: (line: string) => void,
): Promise<TrainJobResult[]> {
  if (parallel && existsSync(workerFile)) return Promise.all(jobs.map((job) => runInWorker(job, log)));
  const results: TrainJobResult[] = [];
  for (const job of jobs) results.push(await trainAndScore(job, log));
  return results;
}
