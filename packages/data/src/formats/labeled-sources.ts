import type { AnswerDomain, HardLabel, JsonValue, LabeledTrajectory } from "@pqm/core/reference";
import { DataFormatError, type DataLocation } from "../errors.js";
import { readMathShepherd } from "./math-shepherd.js";
import { readPrm800k } from "./prm800k.js";
import { readProcessBench } from "./processbench.js";
import type { OnError, ReadStats } from "./read-options.js";
import { createReadStats, handleItemError, ItemError } from "./read-options.js";
import { iterateRecords, iterateRecordsOrJsonl, type RecordFormat, recordFormatOf } from "./record-reader.js";
import { readSoftLabels } from "./soft-labels.js";
import { expectObject, fieldLocation, requireArray, requireString, requireStringArray } from "./validate.js";

/** The step-labelled formats pqm reads into {@link LabeledTrajectory}. */
export const labeledFormats = [
  "math-shepherd",
  "soft-labels",
  "prm800k",
  "processbench",
  "trajectories",
] as const;
/** A step-labelled file format `readLabeledTrajectories` reads (one of `labeledFormats`). */
export type LabeledFormat = (typeof labeledFormats)[number];

/** Options of {@link readLabeledTrajectories}. */
export interface ReadLabeledOptions {
  /** The format; detected from the first record when absent. */
  format?: LabeledFormat;
  /**
   * Turn every row a reader would skip and count (Math-Shepherd's reference skips and label/tag
   * mismatches, PRM800K rows without a usable step) into an error naming its line and reason.
   */
  strict?: boolean;
  onError?: OnError;
  stats?: ReadStats;
}

function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Which labelled format a record has, from its fields: `input` + `label` strings (Math-Shepherd),
 * `outputs` with `step_s_label` (soft labels), `label.steps` (PRM800K), `steps` + numeric `label`
 * (ProcessBench). Returns `null` for anything else.
 */
export function labeledFormatOfRecord(record: JsonValue): LabeledFormat | null {
  if (!isObject(record)) return null;
  if (typeof record.input === "string" && typeof record.label === "string") return "math-shepherd";
  if (isObject(record.question) && Array.isArray(record.steps) && Array.isArray(record.hardLabels)) {
    return "trajectories";
  }
  if (Array.isArray(record.outputs)) return "soft-labels";
  if (isObject(record.label) && Array.isArray(record.label.steps)) return "prm800k";
  if (Array.isArray(record.steps) && typeof record.label === "number") return "processbench";
  return null;
}

/**
 * Detects the labelled format of a JSONL, JSON or Parquet file from its first record. Throws a
 * {@link DataFormatError} naming the file (and the fields seen) when the file is empty or the
 * record fits no known format.
 */
export async function detectLabeledFormat(path: string, format?: RecordFormat): Promise<LabeledFormat> {
  for await (const { line, record } of iterateRecords(path, { format: format ?? recordFormatOf(path) })) {
    const detected = labeledFormatOfRecord(record);
    if (detected) return detected;
    const fields = isObject(record) ? Object.keys(record).join(", ") : typeof record;
    throw new DataFormatError(
      { file: path, line },
      `cannot tell the format from the fields (${fields}): expected Math-Shepherd (input, label), soft labels (outputs), PRM800K (label.steps) or ProcessBench (steps, label)`,
    );
  }
  throw new DataFormatError({ file: path }, "the file holds no records");
}

/**
 * Streams the labelled trajectories of a file in any of {@link labeledFormats}, detecting the
 * format when `options.format` is absent. Skips and errors follow each format's reader; the counts
 * land in `options.stats`.
 */
export async function* readLabeledTrajectories(
  path: string,
  options: ReadLabeledOptions = {},
): AsyncGenerator<LabeledTrajectory> {
  const format = options.format ?? (await detectLabeledFormat(path));
  const stats = options.stats ?? createReadStats();
  const common = { stats, ...(options.onError ? { onError: options.onError } : {}) };
  switch (format) {
    case "math-shepherd":
      yield* readMathShepherd(path, { ...common, strict: options.strict ?? false });
      return;
    case "soft-labels":
      yield* readSoftLabels(path, common);
      return;
    case "prm800k":
      yield* readPrm800k(path, { ...common, strict: options.strict ?? false });
      return;
    case "processbench":
      yield* readProcessBench(path, common);
      return;
    case "trajectories":
      yield* readTrajectoryJsonl(path, common);
      return;
  }
}

/**
 * Validates one line of pqm's trajectory JSONL (a `LabeledTrajectory` as JSON: `question` with `id`,
 * `text`, `answer`, `domain`; `steps`; `hardLabels` 0/1; optional `softLabels` in [0, 1]), throwing an
 * error that names the field otherwise.
 */
export function parseTrajectoryRecord(record: JsonValue, location: DataLocation): LabeledTrajectory {
  const object = expectObject(record, location);
  const questionLocation = fieldLocation(location, "question");
  const question = expectObject(object.question, questionLocation);
  const answer = question.answer;
  if (answer !== null && typeof answer !== "string") {
    throw new ItemError(fieldLocation(questionLocation, "answer"), "wrong-type", "expected a string or null");
  }
  const domain = question.domain ?? "math";
  if (domain !== "math" && domain !== "gsm") {
    throw new ItemError(fieldLocation(questionLocation, "domain"), "wrong-value", `expected "math" or "gsm"`);
  }
  const steps = requireStringArray(object, "steps", location);
  if (steps.length === 0) {
    throw new ItemError(fieldLocation(location, "steps"), "no-steps", "expected at least one step, got []");
  }
  const hardLabels = requireArray(object, "hardLabels", location).map((value, index): HardLabel => {
    if (value !== 0 && value !== 1) {
      throw new ItemError(fieldLocation(location, `hardLabels.${index}`), "wrong-value", "expected 0 or 1");
    }
    return value;
  });
  if (hardLabels.length !== steps.length) {
    throw new ItemError(
      fieldLocation(location, "hardLabels"),
      "step-count-mismatch",
      `${hardLabels.length} labels for ${steps.length} steps`,
    );
  }
  const trajectory: LabeledTrajectory = {
    question: {
      id: typeof question.id === "string" ? question.id : String(location.line ?? ""),
      text: requireString(question, "text", questionLocation),
      answer: answer ?? null,
      domain: domain as AnswerDomain,
      ...(isObject(question.meta) ? { meta: question.meta } : {}),
    },
    steps,
    hardLabels,
  };
  if (object.softLabels !== undefined) {
    const soft = requireArray(object, "softLabels", location).map((value, index) => {
      if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
        throw new ItemError(
          fieldLocation(location, `softLabels.${index}`),
          "wrong-value",
          "expected a number in [0, 1]",
        );
      }
      return value;
    });
    if (soft.length !== steps.length) {
      throw new ItemError(
        fieldLocation(location, "softLabels"),
        "step-count-mismatch",
        `${soft.length} soft labels for ${steps.length} steps`,
      );
    }
    trajectory.softLabels = soft;
  }
  if (isObject(object.meta)) trajectory.meta = object.meta;
  return trajectory;
}

async function* readTrajectoryJsonl(
  path: string,
  options: { stats: ReadStats; onError?: OnError },
): AsyncGenerator<LabeledTrajectory> {
  for await (const { line, record } of iterateRecordsOrJsonl(path, options)) {
    try {
      const trajectory = parseTrajectoryRecord(record, { file: path, line });
      options.stats.yielded += 1;
      yield trajectory;
    } catch (error) {
      handleItemError(error, options.onError ?? "throw", options.stats);
    }
  }
}
