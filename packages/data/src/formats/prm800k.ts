import type { HardLabel, JsonValue, LabeledTrajectory } from "@pqm/core/reference";
import type { DataLocation } from "../errors.js";
import type { ReadLinesOptions } from "./line-reader.js";
import { createReadStats, handleItemError, ItemError, recordSkip } from "./read-options.js";
import { iterateRecordsOrJsonl } from "./record-reader.js";
import type { JsonObject } from "./validate.js";
import { describeType, expectObject, fieldLocation, requireArray, requireString } from "./validate.js";

/** Why a PRM800K row gives no trajectory: its first step has no usable completion. */
export type Prm800kSkipReason = "no-steps";

/** Options of {@link readPrm800k} and {@link parsePrm800kRow}. */
export interface Prm800kOptions extends ReadLinesOptions {
  /** How a neutral rating (0) counts: `"correct"` (default, as in PRM800K's own "not wrong") or `"wrong"`. */
  neutral?: "correct" | "wrong";
  /** Turn a row without a usable step (`no-steps`) into a {@link DataFormatError} instead of a counted skip. */
  strict?: boolean;
}

function ratingOf(completion: JsonObject, location: DataLocation): number | null {
  const rating = completion.rating;
  if (rating === undefined || rating === null) return null;
  if (rating !== -1 && rating !== 0 && rating !== 1) {
    throw new ItemError(
      fieldLocation(location, "rating"),
      "wrong-type",
      `expected -1, 0, 1 or null, got ${JSON.stringify(rating)}`,
    );
  }
  return rating;
}

/**
 * One PRM800K row (a labeller's pass over one solution) as a labelled trajectory. Per step it
 * follows the chosen completion (`chosen_completion`); a step without one ends the solution: when
 * a completion there is rated -1 the first such one is taken as the (wrong) last step, otherwise
 * (a human-written replacement, a step never rated, `completions: null` after giving up) the
 * trajectory stops before it. Rating -1 is wrong (0) and ends the trajectory, as is usual: the
 * first wrong step is the last one kept; 1 is correct; 0 (neutral) per `options.neutral`.
 *
 * `question.answer` is `ground_truth_answer`; `meta` keeps `line`, `labeler`, `generation`,
 * `finishReason`. Returns null when no step is usable. Throws an `ItemError` naming the field for
 * missing fields and wrong types.
 */
export function parsePrm800kRow(
  record: JsonValue,
  location: DataLocation,
  options: Pick<Prm800kOptions, "neutral"> = {},
): LabeledTrajectory | null {
  const neutralLabel: HardLabel = options.neutral === "wrong" ? 0 : 1;
  const row = expectObject(record, location);
  const questionLocation = fieldLocation(location, "question");
  const question = expectObject(row.question, questionLocation);
  const problem = requireString(question, "problem", questionLocation);
  const gold = question.ground_truth_answer;
  const labelLocation = fieldLocation(location, "label");
  const label = expectObject(row.label, labelLocation);
  const rawSteps = requireArray(label, "steps", labelLocation);

  const steps: string[] = [];
  const hardLabels: HardLabel[] = [];
  for (let index = 0; index < rawSteps.length; index += 1) {
    const stepLocation = fieldLocation(labelLocation, `steps.${index}`);
    const step = expectObject(rawSteps[index], stepLocation);
    const completionsValue = step.completions;
    const completions: JsonObject[] =
      completionsValue === null || completionsValue === undefined
        ? []
        : Array.isArray(completionsValue)
          ? completionsValue.map((value, at) =>
              expectObject(value, fieldLocation(stepLocation, `completions.${at}`)),
            )
          : (() => {
              throw new ItemError(
                fieldLocation(stepLocation, "completions"),
                "wrong-type",
                `expected an array or null, got ${describeType(completionsValue)}`,
              );
            })();
    const chosen = step.chosen_completion;
    let pickedIndex: number | null = null;
    if (typeof chosen === "number") {
      if (!Number.isInteger(chosen) || chosen < 0 || chosen >= completions.length) {
        throw new ItemError(
          fieldLocation(stepLocation, "chosen_completion"),
          "wrong-type",
          `index ${chosen} out of range for ${completions.length} completions`,
        );
      }
      pickedIndex = chosen;
    } else if (chosen !== null && chosen !== undefined) {
      throw new ItemError(
        fieldLocation(stepLocation, "chosen_completion"),
        "wrong-type",
        `expected a number or null, got ${describeType(chosen)}`,
      );
    } else {
      const wrong = completions.findIndex(
        (completion, at) => ratingOf(completion, fieldLocation(stepLocation, `completions.${at}`)) === -1,
      );
      if (wrong === -1) break;
      pickedIndex = wrong;
    }
    const completionLocation = fieldLocation(stepLocation, `completions.${pickedIndex}`);
    const completion = completions[pickedIndex]!;
    const text = requireString(completion, "text", completionLocation);
    const rating = ratingOf(completion, completionLocation);
    // An unrated chosen step carries no label: the trajectory ends before it.
    if (rating === null) break;
    steps.push(text);
    if (rating === -1) {
      hardLabels.push(0);
      break;
    }
    hardLabels.push(rating === 0 ? neutralLabel : 1);
  }
  if (steps.length === 0) return null;
  const meta: Record<string, JsonValue> = {
    line: location.line ?? null,
    labeler: row.labeler ?? null,
    generation: row.generation ?? null,
    finishReason: label.finish_reason ?? null,
  };
  return {
    question: {
      id: String(location.line ?? ""),
      text: problem,
      answer: typeof gold === "string" ? gold : null,
      domain: "math",
    },
    steps,
    hardLabels,
    meta,
  };
}

/**
 * Streams a raw PRM800K JSONL file (`openai/prm800k` phase 1/2 rows) as labelled trajectories, as
 * {@link parsePrm800kRow} builds them. Rows without a usable step are counted under `no-steps`
 * (thrown with `strict`).
 * Malformed input throws a {@link DataFormatError} naming file, line and field, or is counted with
 * `onError: "skip"`.
 */
export async function* readPrm800k(
  path: string,
  options: Prm800kOptions = {},
): AsyncGenerator<LabeledTrajectory> {
  const onError = options.onError ?? "throw";
  const stats = options.stats ?? createReadStats();
  for await (const { line, record } of iterateRecordsOrJsonl(path, { ...options, stats })) {
    let trajectory: LabeledTrajectory | null;
    try {
      trajectory = parsePrm800kRow(record, { file: path, line }, options);
    } catch (error) {
      handleItemError(error, onError, stats);
      continue;
    }
    if (trajectory === null) {
      const skip = new ItemError({ file: path, line }, "no-steps", "no step with a usable rating");
      if (options.strict) throw skip;
      recordSkip(stats, "no-steps", line, skip.message);
      continue;
    }
    stats.yielded += 1;
    yield trajectory;
  }
}
