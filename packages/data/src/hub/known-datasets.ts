import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { HfDownloadOptions } from "./hf-download.js";
import { hfDownload } from "./hf-download.js";
import { parseHfUri } from "./hf-uri.js";

/** How a data file is stored, so a loader knows how to read it. */
export type DatasetFileFormat = "jsonl" | "json" | "parquet";

/** A named data set file: where it is on the Hub and, optionally, where a local copy would be. */
export interface KnownDataset {
  /** The Hub file, `hf://datasets/...` or `hf://owner/name/...`. */
  uri: string;
  /** The Hub file's format. */
  format: DatasetFileFormat;
  /** The path of a local copy under the data folder (`PQM_DATA_DIR`), `/`-separated. */
  localPath?: string;
  /** The local copy's format when it differs from the Hub file's (e.g. jsonl beside a parquet). */
  localFormat?: DatasetFileFormat;
  /** One line about what the file is. */
  description: string;
  /** True when the Hub path was inferred rather than seen; override it if the Hub says otherwise. */
  bestEffort?: boolean;
}

/** The policies whose 128 best-of-n candidates per question the PQM paper released. */
export const PQM_BON_POLICIES = ["metamath-mistral-7b", "muggle-math-13b", "llama-3-70b-instruct"] as const;
/** The test sets those candidates answer. */
export const PQM_BON_TESTS = ["math500", "gsm-plus"] as const;

// The PQM authors' README links their checkpoints and candidates at huggingface.co/Windy0822/PQM: a
// *model* repository (no `datasets/`), files under `eval_data/`. The MetaMath and MuggleMath names
// were seen in a public script that downloads them; the Llama-3-70B names follow the authors'
// local file names in their evaluation script and are unconfirmed.
const PQM_BON_FILES: Record<
  (typeof PQM_BON_TESTS)[number],
  Record<(typeof PQM_BON_POLICIES)[number], string>
> = {
  math500: {
    "metamath-mistral-7b": "math-metamath-mistral-128.json",
    "muggle-math-13b": "math-muggle-128.json",
    "llama-3-70b-instruct": "math-llama3-70b-inst-128.json",
  },
  "gsm-plus": {
    "metamath-mistral-7b": "gsm8k-plus-metamath-mistral-128.json",
    "muggle-math-13b": "gsm8k-plus-muggle-128.json",
    "llama-3-70b-instruct": "gsm8k-plus-llama3-70b-inst-128.json",
  },
};

const PROCESSBENCH_SUBSETS = ["gsm8k", "math", "olympiadbench", "omnimath"] as const;

function buildKnownDatasets(): Record<string, KnownDataset> {
  const table: Record<string, KnownDataset> = {
    math500: {
      uri: "hf://datasets/HuggingFaceH4/MATH-500/test.jsonl",
      format: "jsonl",
      localPath: "math500/test.jsonl",
      description: "MATH500: the 500-problem MATH test split used by PQM and PRM800K",
    },
    "gsm-plus": {
      uri: "hf://datasets/qintongli/GSM-Plus/data/testmini-00000-of-00001.jsonl",
      format: "jsonl",
      localPath: "gsm-plus/testmini.jsonl",
      description: "GSM-Plus testmini (2,400 perturbed GSM8K questions), the split PQM evaluates on",
      bestEffort: true,
    },
    gsm8k: {
      uri: "hf://datasets/openai/gsm8k/main/test-00000-of-00001.parquet",
      format: "parquet",
      localPath: "gsm8k/test.jsonl",
      localFormat: "jsonl",
      description: "GSM8K test split (1,319 questions)",
    },
    "math-shepherd": {
      uri: "hf://datasets/peiyi9979/Math-Shepherd/math-shepherd.jsonl",
      format: "jsonl",
      localPath: "math-shepherd/math-shepherd.jsonl",
      description: "Math-Shepherd: 444,655 step-labelled solutions (about 800 MB), PQM's training corpus",
    },
  };
  for (const subset of PROCESSBENCH_SUBSETS) {
    table[`processbench/${subset}`] = {
      uri: `hf://datasets/Qwen/ProcessBench/${subset}.json`,
      format: "json",
      localPath: `processbench/${subset}.json`,
      description: `ProcessBench, ${subset} subset: solutions with the index of the first wrong step`,
    };
  }
  for (const test of PQM_BON_TESTS) {
    for (const policy of PQM_BON_POLICIES) {
      const file = PQM_BON_FILES[test][policy];
      table[`pqm-bon/${test}-${policy}`] = {
        uri: `hf://Windy0822/PQM/eval_data/${file}`,
        format: "json",
        localPath: `pqm-bon/${file}`,
        description: `PQM paper's 128 best-of-n candidates per ${test} question from ${policy}`,
        bestEffort: true,
      };
    }
  }
  return table;
}

/**
 * The short names `resolveDatasetName` knows: `math500`, `gsm-plus`, `gsm8k`, `math-shepherd`,
 * `processbench/{gsm8k,math,olympiadbench,omnimath}` and `pqm-bon/{math500,gsm-plus}-{policy}` for
 * the policies in `PQM_BON_POLICIES`. Entries marked `bestEffort` have inferred Hub paths.
 */
export const knownDatasets: Readonly<Record<string, Readonly<KnownDataset>>> = Object.freeze(
  buildKnownDatasets(),
);

/** Options of `resolveDatasetName`. */
export interface ResolveDatasetOptions {
  /** Folder of local copies; else `PQM_DATA_DIR`; none when neither is set. */
  dataDir?: string;
  /** Entries that replace or add to `knownDatasets` (e.g. a corrected Hub path). */
  datasets?: Readonly<Record<string, KnownDataset>>;
  /** The environment to read instead of `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Where to read a named data set from. */
export interface ResolvedDataset {
  name: string;
  /** The Hub file. */
  uri: string;
  /** The format of the file at `localPath` when there is one, else of the Hub file. */
  format: DatasetFileFormat;
  /** A local copy under the data folder, when it exists. */
  localPath: string | undefined;
}

/**
 * Resolves a short name (`math500`, `pqm-bon/math500-metamath-mistral-7b`, ...) or an `hf://` URI
 * (format from its extension) to its Hub file, format and, when the data folder holds it, a local
 * copy. Touches no network.
 * @throws Error naming the unknown name and listing the known ones (or a name's subsets, for
 *   `processbench` and `pqm-bon`); HubError `invalid-uri` for a bad `hf://` URI; Error for a URI
 *   whose extension is not .jsonl, .json or .parquet.
 */
export function resolveDatasetName(name: string, options: ResolveDatasetOptions = {}): ResolvedDataset {
  if (name.startsWith("hf://")) {
    const ref = parseHfUri(name);
    return { name, uri: name, format: formatFromPath(ref.path, name), localPath: undefined };
  }
  const table: Readonly<Record<string, Readonly<KnownDataset>>> = { ...knownDatasets, ...options.datasets };
  const entry = table[name];
  if (entry === undefined) {
    const names = Object.keys(table).sort();
    const family = names.filter((known) => known.startsWith(`${name}/`));
    throw new Error(
      family.length > 0
        ? `'${name}' has several files: ${family.join(", ")}`
        : `unknown data set '${name}'; known names: ${names.join(", ")}, or an hf:// URI`,
    );
  }
  const dataDir = options.dataDir ?? nonEmpty((options.env ?? process.env).PQM_DATA_DIR);
  const local =
    dataDir !== undefined && entry.localPath !== undefined
      ? join(resolve(dataDir), ...entry.localPath.split("/"))
      : undefined;
  if (local !== undefined && existsSync(local)) {
    return { name, uri: entry.uri, format: entry.localFormat ?? entry.format, localPath: local };
  }
  return { name, uri: entry.uri, format: entry.format, localPath: undefined };
}

/** A data file ready to read: its local path and format, and whether it came from the data folder. */
export interface FetchedDataset {
  path: string;
  format: DatasetFileFormat;
  source: "local" | "hub";
}

/**
 * Resolves a data set name and returns a local file for it: the copy in the data folder when there
 * is one, else the Hub file downloaded into the cache (`hfDownload`).
 * @throws what `resolveDatasetName` and `hfDownload` throw.
 */
export async function fetchDataset(
  name: string,
  options: ResolveDatasetOptions & HfDownloadOptions = {},
): Promise<FetchedDataset> {
  const resolved = resolveDatasetName(name, options);
  if (resolved.localPath !== undefined)
    return { path: resolved.localPath, format: resolved.format, source: "local" };
  return { path: await hfDownload(resolved.uri, options), format: resolved.format, source: "hub" };
}

function formatFromPath(path: string, uri: string): DatasetFileFormat {
  if (path.endsWith(".jsonl")) return "jsonl";
  if (path.endsWith(".json")) return "json";
  if (path.endsWith(".parquet")) return "parquet";
  throw new Error(`cannot tell the format of ${uri}: expected a .jsonl, .json or .parquet file`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
