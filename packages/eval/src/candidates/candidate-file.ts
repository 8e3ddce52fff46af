import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { AlignmentReport, CandidateSet, LoadCandidatesOptions } from "@pqm/data";
import { loadCandidates } from "@pqm/data";

/**
 * A best-of-n candidate file as evaluated: where it came from, the SHA-256 of its bytes (the key
 * that ties a scores file to it), and its candidate sets in file order as @pqm/data reads them
 * (steps split by `splitSolutionSteps` unless a candidate brings its own `steps`; `process_labels`
 * and `q_values` under `annotations`).
 */
export interface CandidateFile {
  file: string;
  /** SHA-256 of the file's bytes, lowercase hex. */
  sha256: string;
  questions: CandidateSet[];
  /** How the file lines up with the test set, when one was given to {@link readCandidateFile}. */
  alignment: AlignmentReport | null;
}

/** SHA-256 of some bytes as lowercase hex. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** SHA-256 of a file's bytes as lowercase hex, streamed (release candidate files are hundreds of MB). */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Reads a candidate file (the PQM release layout `[{question, responses: [{text, model_name, ...}]}]`)
 * with @pqm/data's `loadCandidates` and hashes its bytes. With `options.testSet` the file must line
 * up with the test set (see `loadCandidates`). Throws @pqm/data's DataFormatError naming the file,
 * the record (`line` = index + 1) and the field on bad input or a misaligned file, and the
 * file-system error when the file cannot be read.
 */
export async function readCandidateFile(
  path: string,
  options: LoadCandidatesOptions = {},
): Promise<CandidateFile> {
  const sha256 = await sha256OfFile(path);
  const { sets, alignment } = await loadCandidates(path, options);
  return { file: path, sha256, questions: sets, alignment };
}
