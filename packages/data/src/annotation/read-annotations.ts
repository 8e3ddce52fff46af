import { readResumableJsonl } from "../formats/resumable-jsonl.js";
import type { AnnotatedRow } from "./monte-carlo-annotator.js";

/**
 * Reads an annotator output file: its complete rows sorted by input index (a run with concurrency
 * writes them in finishing order). A partial last line is ignored. Throws a DataFormatError naming
 * file and line for damage before the last line.
 */
export async function readAnnotations(path: string): Promise<AnnotatedRow[]> {
  const { rows } = await readResumableJsonl<AnnotatedRow>(path);
  return rows.sort((a, b) => a.index - b.index);
}
