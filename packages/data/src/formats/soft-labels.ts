import type { HardLabel, JsonValue, LabeledTrajectory, Question } from "@pqm/core/reference";
import type { DataLocation } from "../errors.js";
import { DataFormatError } from "../errors.js";
import type { WriteOptions } from "./jsonl.js";
import { formatJsonLine, writeLinesAtomically } from "./jsonl.js";
import type { ReadLinesOptions } from "./line-reader.js";
import { MATH_SHEPHERD_STEP_TAG } from "./math-shepherd.js";
import { createReadStats, handleItemError, ItemError } from "./read-options.js";
import { iterateRecordsOrJsonl } from "./record-reader.js";
import { applySeparators, captureSeparators } from "./text-layout.js";
import type { JsonObject } from "./validate.js";
import {
  describeType,
  expectObject,
  fieldLocation,
  requireArray,
  requireField,
  requireNumber,
  requireString,
} from "./validate.js";

/** One sampled solution of a {@link SoftLabelRow}. */
export interface SoftLabelOutput {
  /** The solution, each step followed by the tag `ки`. */
  response: string;
  /** The final answer the solution gives. */
  response_answer: string;
  /** Whether that answer is right (the outcome); the source also has strings such as `"[invalid]"`, kept as is. */
  label: boolean | string;
  /** A third label per step from the source (booleans, or strings such as `"[invalid]"`), kept as is. */
  step_labels: JsonValue[];
  /** Monte-Carlo hard label per step: some rollout from the step reached the gold answer. */
  step_h_label: boolean[];
  /** Monte-Carlo soft label per step: the fraction of rollouts that reached it, in [0, 1]. */
  step_s_label: number[];
}

/** One row of the rollout-labelled format (BiRM's `*_process.jsonl`): a question and its sampled solutions. */
export interface SoftLabelRow {
  idx: number;
  input: string;
  question: string;
  /** The reference solution. */
  answer: string;
  /** The gold final answer. */
  ground_truth: string;
  outputs: SoftLabelOutput[];
}

function requireBooleans(values: JsonValue[], location: DataLocation, field: string): boolean[] {
  return values.map((value, index) => {
    if (typeof value !== "boolean") {
      throw new ItemError(
        fieldLocation(location, `${field}.${index}`),
        "wrong-type",
        `expected a boolean, got ${describeType(value)}`,
      );
    }
    return value;
  });
}

function requireProbabilities(values: JsonValue[], location: DataLocation, field: string): number[] {
  return values.map((value, index) => {
    if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
      throw new ItemError(
        fieldLocation(location, `${field}.${index}`),
        "wrong-type",
        `expected a number in [0, 1], got ${JSON.stringify(value)}`,
      );
    }
    return value;
  });
}

/** Checks one parsed line of the soft-label format; throws an `ItemError` naming the field. */
export function validateSoftLabelRecord(record: JsonValue, location: DataLocation): SoftLabelRow {
  const object = expectObject(record, location);
  const outputs = requireArray(object, "outputs", location).map((value, index) => {
    const at = fieldLocation(location, `outputs.${index}`);
    const output: JsonObject = expectObject(value, at);
    const labelValue = requireField(output, "label", at);
    if (typeof labelValue !== "boolean" && typeof labelValue !== "string") {
      throw new ItemError(
        fieldLocation(at, "label"),
        "wrong-type",
        `expected a boolean or a string, got ${describeType(labelValue)}`,
      );
    }
    return {
      response: requireString(output, "response", at),
      response_answer: requireString(output, "response_answer", at),
      label: labelValue,
      step_labels: requireArray(output, "step_labels", at),
      step_h_label: requireBooleans(requireArray(output, "step_h_label", at), at, "step_h_label"),
      step_s_label: requireProbabilities(requireArray(output, "step_s_label", at), at, "step_s_label"),
    } satisfies SoftLabelOutput;
  });
  return {
    idx: requireNumber(object, "idx", location),
    input: requireString(object, "input", location),
    question: requireString(object, "question", location),
    answer: requireString(object, "answer", location),
    ground_truth: requireString(object, "ground_truth", location),
    outputs,
  };
}

/**
 * The labelled trajectories of one soft-label row, one per output: steps are the response split on
 * `ки` (trimmed; the text after the last tag must be blank), `hardLabels` from `step_h_label`,
 * `softLabels` from `step_s_label`; `meta` keeps `line`, `output` (index), `outcome`,
 * `responseAnswer`, `stepLabels` and, for non-canonical whitespace, `responseLayout`. The question's
 * `meta` keeps `input` and the reference `solution`.
 *
 * Throws an `ItemError` (`step-count-mismatch`) when the label arrays and the steps differ in length,
 * and (`no-steps`) for a response without any tagged step.
 */
export function parseSoftLabelRow(row: SoftLabelRow, location: DataLocation): LabeledTrajectory[] {
  const question: Question = {
    id: String(row.idx),
    text: row.question,
    answer: row.ground_truth,
    domain: "math",
    meta: { input: row.input, solution: row.answer },
  };
  return row.outputs.map((output, index) => {
    const at = fieldLocation(location, `outputs.${index}`);
    const chunks = output.response.split(MATH_SHEPHERD_STEP_TAG);
    const tail = chunks.pop() ?? "";
    const steps = chunks.map((chunk) => chunk.trim());
    if (steps.length === 0) {
      throw new ItemError(
        fieldLocation(at, "response"),
        "no-steps",
        `no step tagged '${MATH_SHEPHERD_STEP_TAG}' in the response`,
      );
    }
    const counts = [
      steps.length,
      output.step_h_label.length,
      output.step_s_label.length,
      output.step_labels.length,
    ];
    if (tail.trim() !== "" || counts.some((count) => count !== steps.length)) {
      throw new ItemError(
        at,
        "step-count-mismatch",
        `response has ${steps.length} tagged steps${tail.trim() !== "" ? " and untagged text after the last tag" : ""}; ` +
          `step_h_label ${counts[1]}, step_s_label ${counts[2]}, step_labels ${counts[3]} values`,
      );
    }
    const meta: Record<string, JsonValue> = {
      line: location.line ?? null,
      output: index,
      outcome: output.label,
      responseAnswer: output.response_answer,
      stepLabels: output.step_labels,
    };
    if (renderCanonicalResponse(steps) !== output.response) {
      const layout = captureSeparators(output.response, steps);
      if (layout !== null) meta.responseLayout = layout;
    }
    return {
      question,
      steps,
      hardLabels: output.step_h_label.map((value): HardLabel => (value ? 1 : 0)),
      softLabels: output.step_s_label,
      meta,
    };
  });
}

function renderCanonicalResponse(steps: readonly string[]): string {
  return `${steps.join(`${MATH_SHEPHERD_STEP_TAG}\n`)}${MATH_SHEPHERD_STEP_TAG}`;
}

/**
 * Streams a soft-label JSONL file (rows of {@link SoftLabelRow}) as labelled trajectories with
 * hard and soft labels, one per sampled solution. Malformed input throws a {@link DataFormatError}
 * naming file, line and field (`outputs.3.step_s_label.2`), or is counted with `onError: "skip"`
 * (a bad output skips its whole row).
 */
export async function* readSoftLabels(
  path: string,
  options: ReadLinesOptions = {},
): AsyncGenerator<LabeledTrajectory> {
  const onError = options.onError ?? "throw";
  const stats = options.stats ?? createReadStats();
  for await (const { line, record } of iterateRecordsOrJsonl(path, { ...options, stats })) {
    const location = { file: path, line };
    let trajectories: LabeledTrajectory[];
    try {
      trajectories = parseSoftLabelRow(validateSoftLabelRecord(record, location), location);
    } catch (error) {
      handleItemError(error, onError, stats);
      continue;
    }
    for (const trajectory of trajectories) {
      stats.yielded += 1;
      yield trajectory;
    }
  }
}

/** The output object of one trajectory (inverse of {@link parseSoftLabelRow}); throws at `location` on bad lengths. */
function toSoftLabelOutput(trajectory: LabeledTrajectory, location: DataLocation): SoftLabelOutput {
  const { steps, hardLabels, softLabels } = trajectory;
  if (softLabels === undefined || softLabels.length !== steps.length || hardLabels.length !== steps.length) {
    throw new DataFormatError(
      fieldLocation(location, "softLabels"),
      `needs ${steps.length} hard and soft labels, has ${hardLabels.length} and ${softLabels?.length ?? "no"}`,
    );
  }
  steps.forEach((step, index) => {
    if (step.includes(MATH_SHEPHERD_STEP_TAG)) {
      throw new DataFormatError(fieldLocation(location, `steps.${index}`), "contains the step tag 'ки'");
    }
  });
  const meta = trajectory.meta ?? {};
  const layout = meta.responseLayout;
  const response =
    Array.isArray(layout) && layout.length === steps.length + 1
      ? applySeparators(steps, layout as string[])
      : renderCanonicalResponse(steps);
  const outcome =
    typeof meta.outcome === "boolean" || typeof meta.outcome === "string"
      ? meta.outcome
      : hardLabels.at(-1) === 1;
  return {
    response,
    response_answer: typeof meta.responseAnswer === "string" ? meta.responseAnswer : "",
    label: outcome,
    step_labels: Array.isArray(meta.stepLabels) ? meta.stepLabels : hardLabels.map((label) => label === 1),
    step_h_label: hardLabels.map((label) => label === 1),
    step_s_label: softLabels,
  };
}

/**
 * Writes labelled trajectories in the soft-label format, one row per run of consecutive
 * trajectories with the same `question.id` (as {@link readSoftLabels} yields them), streaming,
 * through a temporary file renamed into place. Returns the rows written. Throws a
 * {@link DataFormatError} naming the trajectory for missing soft labels or mismatched lengths.
 */
export async function writeSoftLabels(
  path: string,
  trajectories: Iterable<LabeledTrajectory> | AsyncIterable<LabeledTrajectory>,
  options: WriteOptions = {},
): Promise<number> {
  async function* rows(): AsyncGenerator<SoftLabelRow> {
    let current: SoftLabelRow | null = null;
    let currentId: string | null = null;
    let index = 0;
    for await (const trajectory of trajectories) {
      index += 1;
      const { question } = trajectory;
      if (current === null || question.id !== currentId) {
        if (current !== null) yield current;
        const meta = question.meta ?? {};
        const idx = Number(question.id);
        current = {
          idx: Number.isFinite(idx) ? idx : index - 1,
          input: typeof meta.input === "string" ? meta.input : question.text,
          question: question.text,
          answer: typeof meta.solution === "string" ? meta.solution : "",
          ground_truth: question.answer ?? "",
          outputs: [],
        };
        currentId = question.id;
      }
      current.outputs.push(toSoftLabelOutput(trajectory, { file: path, line: index, field: undefined }));
    }
    if (current !== null) yield current;
  }
  return writeLinesAtomically(path, rows(), (row) => `${formatJsonLine(row, options)}\n`);
}
