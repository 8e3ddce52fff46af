import type { JsonValue, Question, Trajectory } from "@pqm/core/reference";
import type { DataLocation } from "../errors.js";
import { DataFormatError } from "../errors.js";
import { readJsonArray } from "./json-array-reader.js";
import type { WriteOptions } from "./jsonl.js";
import { formatJsonLine, writeLinesAtomically } from "./jsonl.js";
import type { ReadOptions } from "./read-options.js";
import { createReadStats, handleItemError, ItemError } from "./read-options.js";
import type { StepSplitOptions } from "./step-split.js";
import { splitSolutionSteps } from "./step-split.js";
import type { JsonObject } from "./validate.js";
import { describeType, expectObject, fieldLocation, requireArray, requireString } from "./validate.js";

/** Extra per-candidate fields written by the built-in environment, kept when present. */
export interface CandidateAnnotations {
  /** The steps as the generator cut them (`steps`). */
  steps?: string[];
  /** A hard label per step (`process_labels`), 1 correct, 0 wrong. */
  processLabels?: number[];
  /** The true Q-value per step (`q_values`), in [0, 1]. */
  qValues?: number[];
}

/** One sampled solution of a best-of-n candidate file. */
export interface CandidateResponse {
  text: string;
  /** The policy that wrote it (`model_name`). */
  modelName: string;
  /** The solution cut into steps (see {@link ReadCandidatesOptions}). */
  steps: string[];
  annotations?: CandidateAnnotations;
}

/** The candidates of one question: element `index` of the file, aligned with the test set. */
export interface CandidateSet {
  /** 0-based position in the file. */
  index: number;
  question: string;
  responses: CandidateResponse[];
}

/** Options of {@link readCandidates}. */
export interface ReadCandidatesOptions extends ReadOptions, StepSplitOptions {
  /** Use a candidate's own `steps` field, when it has one, instead of splitting its text (default true). */
  useProvidedSteps?: boolean;
}

function numberArray(value: JsonValue, location: DataLocation): number[] {
  if (!Array.isArray(value)) {
    throw new ItemError(location, "wrong-type", `expected an array of numbers, got ${describeType(value)}`);
  }
  return value.map((entry, index) => {
    if (typeof entry === "boolean") return entry ? 1 : 0;
    if (typeof entry !== "number" || !Number.isFinite(entry)) {
      throw new ItemError(
        fieldLocation(location, String(index)),
        "wrong-type",
        `expected a number, got ${describeType(entry)}`,
      );
    }
    return entry;
  });
}

function parseResponse(
  value: JsonValue,
  location: DataLocation,
  options: ReadCandidatesOptions,
): CandidateResponse {
  const object: JsonObject = expectObject(value, location);
  const text = requireString(object, "text", location);
  const modelName = object.model_name === undefined ? "" : requireString(object, "model_name", location);
  const annotations: CandidateAnnotations = {};
  if (object.steps !== undefined && object.steps !== null) {
    const steps = requireArray(object, "steps", location);
    annotations.steps = steps.map((step, index) => {
      if (typeof step !== "string") {
        throw new ItemError(
          fieldLocation(location, `steps.${index}`),
          "wrong-type",
          `expected a string, got ${describeType(step)}`,
        );
      }
      return step;
    });
  }
  if (object.process_labels !== undefined && object.process_labels !== null) {
    annotations.processLabels = numberArray(object.process_labels, fieldLocation(location, "process_labels"));
  }
  if (object.q_values !== undefined && object.q_values !== null) {
    annotations.qValues = numberArray(object.q_values, fieldLocation(location, "q_values"));
  }
  const useProvided = options.useProvidedSteps ?? true;
  const response: CandidateResponse = {
    text,
    modelName,
    steps:
      useProvided && annotations.steps !== undefined ? annotations.steps : splitSolutionSteps(text, options),
  };
  if (Object.keys(annotations).length > 0) response.annotations = annotations;
  return response;
}

/**
 * One element of a candidate file (`{question, responses: [{text, model_name, ...}]}`) as a
 * {@link CandidateSet}. Throws an `ItemError` naming the field (`responses.7.text`).
 */
export function parseCandidateSet(
  record: JsonValue,
  location: DataLocation,
  index: number,
  options: ReadCandidatesOptions = {},
): CandidateSet {
  const object = expectObject(record, location);
  const question = requireString(object, "question", location);
  const responses = requireArray(object, "responses", location).map((value, at) =>
    parseResponse(value, fieldLocation(location, `responses.${at}`), options),
  );
  return { index, question, responses };
}

/**
 * Streams a best-of-n candidate file in the PQM release format (a JSON list aligned with the test
 * set, `[{question, responses: [{text, model_name}] x 128}]`) one question at a time: the file is
 * stream-parsed element by element (the release files are hundreds of MB), so memory holds one
 * question's candidates. Responses are split into steps per {@link StepSplitOptions} (default:
 * `Step N:` headers when present, text before `Step 1:` dropped; blank lines otherwise), unless a
 * candidate brings its own `steps`. `steps`, `process_labels` and `q_values` are kept in
 * `annotations`; any other extra field is ignored.
 *
 * Throws a {@link DataFormatError} naming file, element (`line` = index + 1) and field, or counts
 * the element as skipped with `onError: "skip"` (the `index` of later sets stays their position).
 */
export async function* readCandidates(
  path: string,
  options: ReadCandidatesOptions = {},
): AsyncGenerator<CandidateSet> {
  const onError = options.onError ?? "throw";
  const stats = options.stats ?? createReadStats();
  for await (const { line, record } of readJsonArray(path, { ...options, stats })) {
    try {
      const set = parseCandidateSet(record, { file: path, line }, line - 1, options);
      stats.yielded += 1;
      yield set;
    } catch (error) {
      handleItemError(error, onError, stats);
    }
  }
}

/** A question whose candidates were written for another question. */
export interface AlignmentMismatch {
  /** 0-based position in both files. */
  index: number;
  candidateQuestion: string;
  testQuestion: string;
}

/** How a candidate file lines up with its test set. */
export interface AlignmentReport {
  candidateFile: string;
  testFile: string;
  /** Positions compared. */
  checked: number;
  mismatches: AlignmentMismatch[];
  /** Candidate sets beyond the end of the test set. */
  extraCandidates: number;
}

/** Options of {@link loadCandidates}. */
export interface LoadCandidatesOptions extends ReadCandidatesOptions {
  /** The test set the file must line up with, and its file (named in errors). */
  testSet?: { questions: readonly Question[]; file: string };
  /** `"throw"` (default): a mismatch or extra candidate sets raise an error; `"report"`: listed in the report. */
  onMismatch?: "throw" | "report";
}

/**
 * A question text with whitespace runs folded to one space and the ends trimmed: how `loadCandidates`
 * compares a candidate file's questions with a test set's, for callers that check alignment themselves.
 */
export function normalizeQuestionText(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/**
 * Reads a whole candidate file (stream-parsed, see {@link readCandidates}) and, given a test set,
 * checks it lines up: same question text at every position (whitespace normalised).
 *
 * Throws a {@link DataFormatError} when the file has fewer sets than the test set (naming both
 * files, always), and by default (`onMismatch: "throw"`) at the first mismatch (naming the file,
 * the index and both texts) or when the file has more sets; with `"report"` those go into the
 * returned `alignment` report instead.
 */
export async function loadCandidates(
  path: string,
  options: LoadCandidatesOptions = {},
): Promise<{ sets: CandidateSet[]; alignment: AlignmentReport | null }> {
  const sets: CandidateSet[] = [];
  const testSet = options.testSet;
  const report: AlignmentReport | null = testSet
    ? { candidateFile: path, testFile: testSet.file, checked: 0, mismatches: [], extraCandidates: 0 }
    : null;
  for await (const set of readCandidates(path, options)) {
    sets.push(set);
    if (testSet === undefined || report === null) continue;
    const test = testSet.questions[set.index];
    if (test === undefined) {
      report.extraCandidates += 1;
      continue;
    }
    report.checked += 1;
    if (normalizeQuestionText(test.text) !== normalizeQuestionText(set.question)) {
      const mismatch = { index: set.index, candidateQuestion: set.question, testQuestion: test.text };
      if ((options.onMismatch ?? "throw") === "throw") {
        throw new DataFormatError(
          { file: path, line: set.index + 1, field: "question" },
          `candidate set ${set.index} is for another question than ${testSet.file} item ${set.index}: ` +
            `candidate ${JSON.stringify(set.question.slice(0, 200))} vs test ${JSON.stringify(test.text.slice(0, 200))}`,
        );
      }
      report.mismatches.push(mismatch);
    }
  }
  if (testSet !== undefined && report !== null) {
    const count = sets.length === 0 ? 0 : sets.at(-1)!.index + 1;
    if (count < testSet.questions.length) {
      throw new DataFormatError(
        { file: path },
        `has ${count} candidate sets but the test set ${testSet.file} has ${testSet.questions.length} questions`,
      );
    }
    if (report.extraCandidates > 0 && (options.onMismatch ?? "throw") === "throw") {
      throw new DataFormatError(
        { file: path },
        `has ${count} candidate sets, more than the ${testSet.questions.length} questions of ${testSet.file}`,
      );
    }
  }
  return { sets, alignment: report };
}

/** The candidates of one set as trajectories of `question` (its steps; `meta.modelName`, `meta.candidate`). */
export function candidateTrajectories(set: CandidateSet, question: Question): Trajectory[] {
  return set.responses.map((response, index) => ({
    question,
    steps: response.steps,
    meta: { modelName: response.modelName, candidate: index },
  }));
}

function toReleaseRecord(set: CandidateSet): Record<string, JsonValue> {
  return {
    question: set.question,
    responses: set.responses.map((response) => {
      const record: Record<string, JsonValue> = { text: response.text, model_name: response.modelName };
      const annotations = response.annotations;
      if (annotations?.steps) record.steps = annotations.steps;
      if (annotations?.processLabels) record.process_labels = annotations.processLabels;
      if (annotations?.qValues) record.q_values = annotations.qValues;
      return record;
    }),
  };
}

/**
 * Writes candidate sets in the PQM release format (a JSON list, one set per line), streaming,
 * through a temporary file renamed into place; annotations go back under their original names.
 * Returns the number of sets written.
 */
export async function writeCandidates(
  path: string,
  sets: Iterable<CandidateSet> | AsyncIterable<CandidateSet>,
  options: WriteOptions = {},
): Promise<number> {
  return writeLinesAtomically(
    path,
    sets,
    (set, index) => `${index === 0 ? "" : ",\n"}${formatJsonLine(toReleaseRecord(set), options)}`,
    { header: "[\n", footer: "\n]\n" },
  );
}
