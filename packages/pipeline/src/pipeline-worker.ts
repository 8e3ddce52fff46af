// Entry of a worker thread that trains and scores one model, so two models use one core each: the
// wasm backend runs on one thread in Node. Built as dist/pipeline-worker.js beside the package's
// other files; train-jobs.ts starts it and speaks the messages below.
import { parentPort, workerData } from "node:worker_threads";
import {
  TrainingStoppedError,
  type TrainJob,
  type TrainJobResult,
  trainAndScore,
} from "./train-and-score.js";

/** What the parent thread hands a worker. */
export interface WorkerInput {
  job: TrainJob;
  /** Over a SharedArrayBuffer: the parent sets element 0 to 1 to stop training between steps. */
  stop: Int32Array;
  /** Module URLs to import before training. */
  setup: string[];
}

/** What a worker tells its parent thread. */
export type WorkerMessage =
  | { kind: "step"; step: number; loss: number }
  | {
      kind: "trained";
      steps: number;
      seconds: number;
      tokensPerSecond: number;
      validationAuroc: number | null;
    }
  | { kind: "result"; result: TrainJobResult }
  | { kind: "stopped" }
  | { kind: "error"; message: string };

const port = parentPort;
if (!port) throw new Error("pipeline-worker.js runs only as a worker thread");
const input = workerData as WorkerInput;
const send = (message: WorkerMessage) => port.postMessage(message);

try {
  for (const url of input.setup) await import(url);
  const result = await trainAndScore(input.job, {
    onStep: (step, loss) => send({ kind: "step", step, loss }),
    onTrained: (info) => send({ kind: "trained", ...info }),
    shouldStop: () => Atomics.load(input.stop, 0) === 1,
  });
  send({ kind: "result", result });
} catch (error) {
  if (error instanceof TrainingStoppedError) send({ kind: "stopped" });
  else
    send({ kind: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
