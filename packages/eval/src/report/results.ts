import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { JsonValue } from "@pqm/core/reference";
import type { VerdictTable } from "../answers/verdicts.js";
import type { BestOfNResult } from "../best-of-n/best-of-n.js";
import type { CandidateEvaluation } from "../best-of-n/evaluate-candidates.js";
import type { ProcessBenchEvaluation } from "../step-metrics/processbench.js";
import type { QValueFidelity } from "../step-metrics/q-value-fidelity.js";
import type { StepLabelMetrics } from "../step-metrics/step-labels.js";

/** The format tag of results.json. */
export const RESULTS_FORMAT = "pqm-eval-results/1";

/**
 * Everything an evaluation produced, as written to results.json. NaN numbers (an undefined metric) are
 * written as `null`.
 */
export interface EvaluationResults {
  format: typeof RESULTS_FORMAT;
  title: string;
  /** ISO 8601 time of creation. */
  createdAt: string;
  /** The options the evaluation ran with. */
  config: Record<string, JsonValue>;
  /** Versions of this package, its dependencies and Node. */
  versions: Record<string, string>;
  inputs?: CandidateEvaluation["inputs"];
  bestOfN?: BestOfNResult;
  /** Per-candidate answers and verdicts, for audit. */
  verdicts?: VerdictTable;
  /** Test-set indices of the questions that entered best-of-n. */
  evaluatedQuestions?: number[];
  processBench?: ProcessBenchEvaluation;
  stepLabels?: StepLabelMetrics;
  qValues?: QValueFidelity;
}

/** The parts of an evaluation to record; everything is optional but the title. */
export interface EvaluationParts {
  title: string;
  config?: Record<string, JsonValue>;
  candidates?: CandidateEvaluation;
  processBench?: ProcessBenchEvaluation;
  stepLabels?: StepLabelMetrics;
  qValues?: QValueFidelity;
}

/** Assembles results with the creation time and package versions. */
export function createEvaluationResults(parts: EvaluationParts): EvaluationResults {
  const results: EvaluationResults = {
    format: RESULTS_FORMAT,
    title: parts.title,
    createdAt: new Date().toISOString(),
    config: parts.config ?? {},
    versions: packageVersions(),
  };
  if (parts.candidates) {
    results.inputs = parts.candidates.inputs;
    results.bestOfN = parts.candidates.bestOfN;
    results.verdicts = parts.candidates.verdicts;
    results.evaluatedQuestions = parts.candidates.evaluatedQuestions;
  }
  if (parts.processBench) results.processBench = parts.processBench;
  if (parts.stepLabels) results.stepLabels = parts.stepLabels;
  if (parts.qValues) results.qValues = parts.qValues;
  return results;
}

let cachedVersions: Record<string, string> | null = null;

/** Versions of @pqm/eval, its pinned dependencies (as declared) and Node. */
export function packageVersions(): Record<string, string> {
  if (cachedVersions) return { ...cachedVersions };
  const versions: Record<string, string> = { node: process.version };
  // Source and bundled builds sit at different depths: walk up to this package's package.json.
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    const candidate = join(directory, "package.json");
    if (existsSync(candidate)) {
      const manifest = JSON.parse(readFileSync(candidate, "utf8")) as {
        name?: string;
        version?: string;
        dependencies?: Record<string, string>;
      };
      if (manifest.name === "@pqm/eval") {
        versions["@pqm/eval"] = manifest.version ?? "unknown";
        for (const [name, version] of Object.entries(manifest.dependencies ?? {})) versions[name] = version;
        break;
      }
    }
    directory = dirname(directory);
  }
  cachedVersions = versions;
  return { ...versions };
}

/**
 * Reads a results.json written by `writeEvaluationReport`. Throws when the file is not JSON or has
 * another format tag.
 */
export async function readEvaluationResults(path: string): Promise<EvaluationResults> {
  const data = JSON.parse(await readFile(path, "utf8")) as { format?: unknown };
  if (data.format !== RESULTS_FORMAT) {
    throw new Error(
      `${path}: field 'format': expected "${RESULTS_FORMAT}", got ${JSON.stringify(data.format)}`,
    );
  }
  return data as EvaluationResults;
}

/** A fraction as a percentage with one decimal (`0.514` gives `51.4`), `n/a` for NaN or null. */
export function formatPercent(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "n/a";
  return (100 * value).toFixed(1);
}

/** A number with `digits` decimals, `n/a` for NaN or null. */
export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "n/a";
  return value.toFixed(digits);
}
