import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * The module each of @pqm/pipeline's training workers imports first (dist/pipeline-worker-setup.js,
 * built beside the bin from pipeline-worker-setup.ts), or none where it is absent (running from
 * sources). `pqm demo` and `pqm experiment` pass it as `workerSetup`.
 */
export function workerSetupModules(): URL[] {
  const url = new URL("./pipeline-worker-setup.js", import.meta.url);
  return existsSync(fileURLToPath(url)) ? [url] : [];
}
