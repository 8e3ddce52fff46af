// Imported by each of @pqm/pipeline's training worker threads before TF.js runs there (the CLI passes
// it as `workerSetup`; built as dist/pipeline-worker-setup.js): TF.js's flags belong to each thread's
// engine, so its console banner is silenced in every worker, as in the main thread.
import { quietTfjs } from "./quiet-tfjs.js";

quietTfjs();
