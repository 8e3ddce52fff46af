import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CandidateFile, readCandidateFile } from "./candidate-file.js";

/**
 * Writes candidate-file records (the release layout) as JSON to a fresh temporary folder under
 * `name` and reads them back with {@link readCandidateFile}: tests go through the real reader.
 */
export async function writeCandidateFixture(records: unknown, name = "cands.json"): Promise<CandidateFile> {
  const path = join(await mkdtemp(join(tmpdir(), "pqm-eval-candidates-")), name);
  await writeFile(path, JSON.stringify(records));
  return readCandidateFile(path);
}
