// Entry of a worker thread that trains and scores one demo model, so the PQM and BCE models use one
// core each: the wasm backend runs on one thread in Node.
import { parentPort, workerData } from "node:worker_threads";
import { type TrainJob, trainAndScore } from "./demo-training.js";

const port = parentPort;
if (!port) throw new Error("demo-worker.js runs only as a worker thread");
trainAndScore(workerData as TrainJob, (line) => port.postMessage({ kind: "log", line }))
  .then((result) => port.postMessage({ kind: "result", result }))
  .catch((error: unknown) => {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    port.postMessage({ kind: "error", message });
  });
