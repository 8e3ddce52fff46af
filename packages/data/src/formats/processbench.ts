import { basename } from "node:path";
import type { AnswerDomain, HardLabel, JsonValue, LabeledTrajectory } from "@pqm/core/reference";
import type { DataLocation } from "../errors.js";
import { createReadStats, handleItemError, ItemError } from "./read-options.js";
import type { ReadRecordsOptions } from "./record-reader.js";
import { iterateRecords } from "./record-reader.js";
import { expectObject, fieldLocation, requireNumber, requireString, requireStringArray } from "./validate.js";

/**
 * One ProcessBench item as a labelled trajectory: `label` is the index of the first wrong step
 * (-1: all right), so steps before it are 1 and steps from it on 0. `domain` is `"gsm"` for the
 * gsm8k subset (named by `domain`, else guessed from the `id` prefix) and `"math"` otherwise;
 * `question.answer` is null (ProcessBench has no gold answer). `meta` keeps `line`, `generator`,
 * `finalAnswerCorrect` and `firstErrorStep`.
 *
 * Throws an `ItemError` naming the field for missing fields, wrong types, an empty `steps` list or a
 * label outside [-1, steps - 1].
 */
export function parseProcessBenchItem(
  record: JsonValue,
  location: DataLocation,
  domain?: AnswerDomain,
): LabeledTrajectory {
  const item = expectObject(record, location);
  const id = requireString(item, "id", location);
  const problem = requireString(item, "problem", location);
  const steps = requireStringArray(item, "steps", location);
  if (steps.length === 0) {
    throw new ItemError(fieldLocation(location, "steps"), "no-steps", "expected at least one step, got []");
  }
  const firstError = requireNumber(item, "label", location);
  if (!Number.isInteger(firstError) || firstError < -1 || firstError >= steps.length) {
    throw new ItemError(
      fieldLocation(location, "label"),
      "label-out-of-range",
      `first wrong step ${firstError} is not -1 or a step index below ${steps.length}`,
    );
  }
  const meta: Record<string, JsonValue> = { line: location.line ?? null, firstErrorStep: firstError };
  if (typeof item.generator === "string") meta.generator = item.generator;
  if (typeof item.final_answer_correct === "boolean") meta.finalAnswerCorrect = item.final_answer_correct;
  return {
    question: { id, text: problem, answer: null, domain: domain ?? (id.startsWith("gsm") ? "gsm" : "math") },
    steps,
    hardLabels: steps.map((_, index): HardLabel => (firstError === -1 || index < firstError ? 1 : 0)),
    meta,
  };
}

/**
 * Streams a ProcessBench subset file (`gsm8k.json`, `math.json`, `olympiadbench.json`,
 * `omnimath.json`: a JSON list; JSONL and Parquet exports also work) as labelled trajectories.
 * Errors as {@link parseProcessBenchItem}, naming file and item, or counted with `onError: "skip"`.
 */
export async function* readProcessBench(
  path: string,
  options: ReadRecordsOptions & { domain?: AnswerDomain } = {},
): AsyncGenerator<LabeledTrajectory> {
  const onError = options.onError ?? "throw";
  const stats = options.stats ?? createReadStats();
  const domain = options.domain ?? (basename(path).toLowerCase().startsWith("gsm") ? "gsm" : undefined);
  for await (const { line, record } of iterateRecords(path, { ...options, stats })) {
    try {
      const trajectory = parseProcessBenchItem(record, { file: path, line }, domain);
      stats.yielded += 1;
      yield trajectory;
    } catch (error) {
      handleItemError(error, onError, stats);
    }
  }
}
