import { existsSync } from "node:fs";
import type { AnswerDomain, Question } from "@pqm/core";
import { fetchDataset, loadGsm8k, loadGsmPlus, loadMath500, loadQuestions } from "@pqm/data";
import { CliError } from "./cli-error.js";
import { progressStyle, withDownloadProgress } from "./progress-views.js";

/** The test sets known by name, each with the loader that reads its file. */
export const knownTestSets = ["math500", "gsm-plus", "gsm8k"] as const;

/** A test set as read: its questions in file order and the file they came from. */
export interface LoadedTestSet {
  /** The name given on the command line. */
  name: string;
  file: string;
  questions: Question[];
}

/** Options of {@link loadTestSet}. */
export interface LoadTestSetOptions {
  /** The checker of a test file's questions (default `math`); known names bring their own. */
  domain?: AnswerDomain;
  /** Folder of local data copies (default: `PQM_DATA_DIR`). */
  dataDir?: string;
  /** Show download progress on stderr (a bar on a terminal, else lines) when a known set comes from the Hub. */
  progress?: boolean;
}

/**
 * Reads a test set given as a known name (`math500`, `gsm-plus`, `gsm8k`: the copy in the data
 * folder, else a Hub download into the cache) or as a file (JSONL, JSON or Parquet with `question`
 * or `problem` and `answer`). An existing file wins over a name. Throws a usage CliError for a
 * value that is neither, and @pqm/data's errors (naming file, line and field) for a bad file.
 */
export async function loadTestSet(value: string, options: LoadTestSetOptions = {}): Promise<LoadedTestSet> {
  if (existsSync(value)) {
    return {
      name: value,
      file: value,
      questions: await loadQuestions(value, { domain: options.domain ?? "math" }),
    };
  }
  const known = knownTestSets.find((name) => name === value);
  if (known === undefined) {
    throw new CliError(
      `--test '${value}' is neither a file nor a known test set (${knownTestSets.join(", ")})`,
      2,
    );
  }
  const fetched = await withDownloadProgress(progressStyle(options.progress ?? false), (hub) =>
    fetchDataset(known, { ...hub, ...(options.dataDir ? { dataDir: options.dataDir } : {}) }),
  );
  const loader = known === "math500" ? loadMath500 : known === "gsm-plus" ? loadGsmPlus : loadGsm8k;
  return { name: known, file: fetched.path, questions: await loader(fetched.path) };
}
