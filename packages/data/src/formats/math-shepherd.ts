import type { AnswerDomain, HardLabel, JsonValue, LabeledTrajectory } from "@pqm/core/reference";
import type { DataLocation } from "../errors.js";
import { DataFormatError } from "../errors.js";
import type { WriteOptions } from "./jsonl.js";
import { formatJsonLine, writeLinesAtomically } from "./jsonl.js";
import type { ReadLinesOptions } from "./line-reader.js";
import { createReadStats, handleItemError, ItemError, recordSkip } from "./read-options.js";
import { iterateRecordsOrJsonl } from "./record-reader.js";
import { applySeparators, captureSeparators } from "./text-layout.js";
import { describeType, expectObject, fieldLocation, requireString } from "./validate.js";

/** The step tag of Math-Shepherd's `input` (Cyrillic "ки"): one after every step. */
export const MATH_SHEPHERD_STEP_TAG = "ки";

/** How Math-Shepherd (and the reference parser) separates steps: `Step 1:`, `Step 2:`... */
export const STEP_HEADER_PATTERN = /Step \d+:/;

/**
 * Why a row is dropped: the reference parser's three reasons (fewer than two chunks when split on
 * `Step \d+:`, i.e. no step at all; a label chunk not ending in `+`/`-`; different step and label
 * counts), and one of this reader's own, `label-tag-mismatch`: a step of `input` that does not end
 * in exactly one tag, or a `label` that is not `input` with each tag replaced by its sign (a sign
 * too many or too few, a changed text). The reference would train on such a row with whatever sign
 * ends each chunk; here its labels are not trusted.
 */
export type MathShepherdSkipReason =
  | "too-few-chunks"
  | "label-without-sign"
  | "step-count-mismatch"
  | "label-tag-mismatch";

/** The skip reasons of {@link MathShepherdSkipReason}, for iteration and reports. */
export const MATH_SHEPHERD_SKIP_REASONS: readonly MathShepherdSkipReason[] = [
  "too-few-chunks",
  "label-without-sign",
  "step-count-mismatch",
  "label-tag-mismatch",
];

/** One Math-Shepherd row as stored; `soft_label` is this project's optional extension. */
export interface MathShepherdRow {
  /** The question, then `Step k: ...` lines each ending in the tag `ки`. */
  input: string;
  /** `input` with each tag replaced by `+` (correct) or `-` (wrong). */
  label: string;
  /** `GSM8K` or `MATH`. */
  task: string;
  /** Soft (Monte-Carlo) label per step in [0, 1]: the extension for soft-label training. */
  soft_label?: number[];
}

/** Options of {@link readMathShepherd}. */
export interface MathShepherdReadOptions extends ReadLinesOptions {
  /** Turn every row the reference would skip into a {@link DataFormatError} naming line and reason. */
  strict?: boolean;
}

/** A row the reference parser skips; counted under its reason, or thrown with `strict`. */
export class MathShepherdSkip extends ItemError {
  constructor(location: DataLocation, reason: MathShepherdSkipReason, message: string) {
    super(location, reason, `${message} (${reason})`);
  }
}

/** Layout kept in `meta.layout` for rows whose whitespace differs from the canonical form, so they write back byte for byte. */
interface MathShepherdLayout {
  input: string[];
  label: string[];
}

function domainOfTask(task: string): AnswerDomain {
  return task.toUpperCase().startsWith("GSM") ? "gsm" : "math";
}

function taskOfDomain(domain: AnswerDomain): string {
  return domain === "gsm" ? "GSM8K" : "MATH";
}

function renderCanonical(question: string, steps: readonly string[], tags: readonly string[]): string {
  return `${question} ${steps.map((step, index) => `Step ${index + 1}: ${step} ${tags[index]}`).join("\n")}`;
}

/**
 * Checks the fields of one parsed JSON line and returns it as a {@link MathShepherdRow}. Throws an
 * `ItemError` (a {@link DataFormatError}) naming the field for a missing field or a wrong type.
 */
export function validateMathShepherdRecord(record: JsonValue, location: DataLocation): MathShepherdRow {
  const object = expectObject(record, location);
  const row: MathShepherdRow = {
    input: requireString(object, "input", location),
    label: requireString(object, "label", location),
    task: requireString(object, "task", location),
  };
  const soft = object.soft_label;
  if (soft !== undefined && soft !== null) {
    if (!Array.isArray(soft)) {
      throw new ItemError(
        fieldLocation(location, "soft_label"),
        "wrong-type",
        `expected an array of numbers, got ${describeType(soft)}`,
      );
    }
    row.soft_label = soft.map((value, index) => {
      if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
        throw new ItemError(
          fieldLocation(location, `soft_label.${index}`),
          "wrong-type",
          `expected a number in [0, 1], got ${JSON.stringify(value)}`,
        );
      }
      return value;
    });
  }
  return row;
}

/**
 * Parses one Math-Shepherd row the way the reference parser does: both texts split on
 * `Step \d+:`, the first chunk of `input` (trimmed) is the question, every later chunk without its
 * tags (trimmed) is a step, and each label chunk's last non-space character gives its label (`+`
 * 1, `-` 0). `meta` holds `task` and `line` (and `layout` when the row's whitespace is not the
 * canonical one, so {@link toMathShepherdRow} can reproduce it exactly).
 *
 * Throws a {@link MathShepherdSkip} for a row the reference would skip or whose labels do not match
 * its tags (`label-tag-mismatch`), and an `ItemError` when `soft_label` has the wrong length.
 */
export function parseMathShepherdRow(row: MathShepherdRow, location: DataLocation): LabeledTrajectory {
  const inputChunks = row.input.split(STEP_HEADER_PATTERN);
  const labelChunks = row.label.split(STEP_HEADER_PATTERN);
  if (inputChunks.length < 2 || labelChunks.length < 2) {
    const field = inputChunks.length < 2 ? "input" : "label";
    throw new MathShepherdSkip(
      fieldLocation(location, field),
      "too-few-chunks",
      `no 'Step N:' header: ${field} splits into ${Math.min(inputChunks.length, labelChunks.length)} chunk(s)`,
    );
  }
  const hardLabels: HardLabel[] = [];
  const labelStepTexts: string[] = [];
  for (let index = 1; index < labelChunks.length; index += 1) {
    const chunk = labelChunks[index]!.trim();
    const sign = chunk.at(-1);
    if (sign !== "+" && sign !== "-") {
      throw new MathShepherdSkip(
        fieldLocation(location, "label"),
        "label-without-sign",
        `step ${index} of the label ends in ${JSON.stringify(sign ?? "")}, not '+' or '-'`,
      );
    }
    hardLabels.push(sign === "+" ? 1 : 0);
    labelStepTexts.push(chunk.slice(0, -1).trim());
  }
  if (inputChunks.length !== labelChunks.length) {
    throw new MathShepherdSkip(
      location,
      "step-count-mismatch",
      `input has ${inputChunks.length - 1} steps, label has ${labelChunks.length - 1}`,
    );
  }
  const question = inputChunks[0]!.trim();
  const steps = inputChunks.slice(1).map((chunk) => chunk.replaceAll(MATH_SHEPHERD_STEP_TAG, "").trim());
  checkLabelsMatchTags(inputChunks, labelChunks, labelStepTexts, steps, question, location);
  const meta: Record<string, JsonValue> = { task: row.task };
  if (location.line !== undefined) meta.line = location.line;

  const tags = steps.map(() => MATH_SHEPHERD_STEP_TAG);
  const signs = hardLabels.map((label) => (label === 1 ? "+" : "-"));
  if (
    renderCanonical(question, steps, tags) !== row.input ||
    renderCanonical(question, steps, signs) !== row.label
  ) {
    const sameTexts = labelStepTexts.every((text, index) => text === steps[index]);
    const input = captureSeparators(row.input, [question, ...steps]);
    const label = sameTexts ? captureSeparators(row.label, [question, ...steps]) : null;
    if (input !== null && label !== null) meta.layout = { input, label } satisfies MathShepherdLayout;
  }

  const trajectory: LabeledTrajectory = {
    question: {
      id: String(location.line ?? ""),
      text: question,
      answer: null,
      domain: domainOfTask(row.task),
    },
    steps,
    hardLabels,
    meta,
  };
  if (row.soft_label !== undefined) {
    if (row.soft_label.length !== steps.length) {
      throw new ItemError(
        fieldLocation(location, "soft_label"),
        "soft-label-count-mismatch",
        `has ${row.soft_label.length} values for ${steps.length} steps`,
      );
    }
    trajectory.softLabels = row.soft_label;
  }
  return trajectory;
}

function quoted(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

/**
 * The check the reference parser lacks: each step of `input` ends in exactly one tag, and `label`
 * holds the same question and step texts, each followed by one sign. Throws a
 * {@link MathShepherdSkip} (`label-tag-mismatch`) naming the field and the step otherwise.
 */
function checkLabelsMatchTags(
  inputChunks: readonly string[],
  labelChunks: readonly string[],
  labelStepTexts: readonly string[],
  steps: readonly string[],
  question: string,
  location: DataLocation,
): void {
  for (let index = 1; index < inputChunks.length; index += 1) {
    const chunk = inputChunks[index]!;
    const tags = chunk.split(MATH_SHEPHERD_STEP_TAG).length - 1;
    if (tags !== 1 || !chunk.trimEnd().endsWith(MATH_SHEPHERD_STEP_TAG)) {
      throw new MathShepherdSkip(
        fieldLocation(location, "input"),
        "label-tag-mismatch",
        tags === 1
          ? `step ${index} does not end in its tag '${MATH_SHEPHERD_STEP_TAG}'`
          : `step ${index} has ${tags} tags '${MATH_SHEPHERD_STEP_TAG}', expected one at its end`,
      );
    }
  }
  if (labelChunks[0]!.trim() !== question) {
    throw new MathShepherdSkip(
      fieldLocation(location, "label"),
      "label-tag-mismatch",
      `the question differs from the input's: ${quoted(labelChunks[0]!.trim())} vs ${quoted(question)}`,
    );
  }
  labelStepTexts.forEach((text, at) => {
    if (text !== steps[at]) {
      throw new MathShepherdSkip(
        fieldLocation(location, "label"),
        "label-tag-mismatch",
        `step ${at + 1} reads ${quoted(text)} before its sign where the input has ${quoted(steps[at]!)} ` +
          "(a sign too many, or a changed text)",
      );
    }
  });
}

/**
 * Streams a Math-Shepherd JSONL file (`peiyi9979/Math-Shepherd`, or the soft-label variant with
 * `soft_label`) as labelled trajectories, line by line with bounded memory.
 *
 * Rows the reference parser skips, and rows whose labels do not match their tags, are skipped and
 * counted in `options.stats.skippedByReason` under a {@link MathShepherdSkipReason}; with `strict`
 * they throw instead. Malformed lines
 * (invalid JSON or UTF-8, missing fields, wrong types, an empty file) throw a
 * {@link DataFormatError} naming file, line and field, or are counted with `onError: "skip"`.
 */
export async function* readMathShepherd(
  path: string,
  options: MathShepherdReadOptions = {},
): AsyncGenerator<LabeledTrajectory> {
  const onError = options.onError ?? "throw";
  const stats = options.stats ?? createReadStats();
  for await (const { line, record } of iterateRecordsOrJsonl(path, { ...options, stats })) {
    const location = { file: path, line };
    try {
      const trajectory = parseMathShepherdRow(validateMathShepherdRecord(record, location), location);
      stats.yielded += 1;
      yield trajectory;
    } catch (error) {
      if (error instanceof MathShepherdSkip && !options.strict) {
        recordSkip(stats, error.skipReason, line, error.message);
        continue;
      }
      if (error instanceof MathShepherdSkip) throw error;
      handleItemError(error, onError, stats);
    }
  }
}

/**
 * The Math-Shepherd row of a labelled trajectory: `meta.task` (or the domain's task name), the
 * canonical text `question Step 1: step ки\nStep 2: step ки` (or the row's original whitespace,
 * kept in `meta.layout` by the parser), and `soft_label` when the trajectory has soft labels.
 *
 * Throws a {@link DataFormatError} (at `location`) when labels and steps differ in count, or a
 * step contains the tag or a `Step N:` header, which would not read back as the same steps.
 */
export function toMathShepherdRow(trajectory: LabeledTrajectory, location: DataLocation): MathShepherdRow {
  const { steps, hardLabels } = trajectory;
  if (hardLabels.length !== steps.length) {
    throw new DataFormatError(
      fieldLocation(location, "hardLabels"),
      `${hardLabels.length} labels for ${steps.length} steps`,
    );
  }
  if (steps.length === 0)
    throw new DataFormatError(fieldLocation(location, "steps"), "a row needs at least one step");
  steps.forEach((step, index) => {
    if (step.includes(MATH_SHEPHERD_STEP_TAG) || STEP_HEADER_PATTERN.test(step)) {
      throw new DataFormatError(
        fieldLocation(location, `steps.${index}`),
        `contains the step tag or a 'Step N:' header, which would split it on reading back`,
      );
    }
  });
  const question = trajectory.question.text;
  const signs = hardLabels.map((label) => (label === 1 ? "+" : "-"));
  const layout = trajectory.meta?.layout as MathShepherdLayout | undefined;
  let input: string;
  let label: string;
  // Only a layout the Math-Shepherd parser wrote (two separator lists) applies; other readers keep
  // layouts of their own under other keys.
  if (
    layout &&
    Array.isArray(layout.input) &&
    Array.isArray(layout.label) &&
    layout.input.length === steps.length + 2 &&
    layout.label.length === steps.length + 2
  ) {
    input = applySeparators([question, ...steps], layout.input);
    // The label's separators carry the signs of the parsed row: put the current ones in their place.
    // Each separator after a step starts (after spaces) with that step's sign.
    const labelSeparators = layout.label.map((separator, index) =>
      index >= 2 ? separator.replace(/^(\s*)[+-]/, `$1${signs[index - 2]}`) : separator,
    );
    label = applySeparators([question, ...steps], labelSeparators);
  } else {
    input = renderCanonical(
      question,
      steps,
      steps.map(() => MATH_SHEPHERD_STEP_TAG),
    );
    label = renderCanonical(question, steps, signs);
  }
  const metaTask = trajectory.meta?.task;
  const row: MathShepherdRow = {
    input,
    label,
    task: typeof metaTask === "string" ? metaTask : taskOfDomain(trajectory.question.domain),
  };
  if (trajectory.softLabels !== undefined) {
    if (trajectory.softLabels.length !== steps.length) {
      throw new DataFormatError(
        fieldLocation(location, "softLabels"),
        `${trajectory.softLabels.length} soft labels for ${steps.length} steps`,
      );
    }
    row.soft_label = trajectory.softLabels;
  }
  return row;
}

/**
 * Writes labelled trajectories as Math-Shepherd JSONL (with `soft_label` when they carry soft
 * labels), streaming, through a temporary file renamed into place. Returns the rows written.
 * Throws as {@link toMathShepherdRow}, naming `path` and the 1-based row.
 */
export async function writeMathShepherd(
  path: string,
  trajectories: Iterable<LabeledTrajectory> | AsyncIterable<LabeledTrajectory>,
  options: WriteOptions = {},
): Promise<number> {
  return writeLinesAtomically(
    path,
    trajectories,
    (trajectory, index) =>
      `${formatJsonLine(toMathShepherdRow(trajectory, { file: path, line: index + 1 }), options)}\n`,
  );
}
