import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Root of this repository (two levels above tooling/testing/src). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/**
 * Folder holding the shared reference data (`../shared` beside the checkout), or `PQM_SHARED_DIR`
 * when set. It exists in CI and on the developers' machines, not in a user's clone.
 */
export const sharedRoot: string = process.env.PQM_SHARED_DIR
  ? resolve(process.env.PQM_SHARED_DIR)
  : resolve(repoRoot, "..", "shared");

/** True when the shared reference folder is present. */
export const sharedAvailable: boolean = existsSync(join(sharedRoot, "data"));

/** Absolute path of a file under the shared folder, e.g. `sharedPath("data", "math500", "test.jsonl")`. */
export function sharedPath(...parts: string[]): string {
  return join(sharedRoot, ...parts);
}

/** Why shared-data tests are skipped, for test names, or `""` when they run. */
export const sharedSkipReason: string = sharedAvailable
  ? ""
  : ` [skipped: ${sharedRoot} not found; set PQM_SHARED_DIR]`;
