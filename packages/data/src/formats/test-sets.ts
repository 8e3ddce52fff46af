import type { AnswerDomain, JsonValue, Question } from "@pqm/core/reference";
import type { DataLocation } from "../errors.js";
import { createReadStats, handleItemError, ItemError } from "./read-options.js";
import type { ReadRecordsOptions } from "./record-reader.js";
import { iterateRecords } from "./record-reader.js";
import type { JsonObject } from "./validate.js";
import {
  describeType,
  expectObject,
  fieldLocation,
  requireField,
  requireNumber,
  requireString,
} from "./validate.js";

/**
 * The gold number of a GSM8K worked solution: the text after the last `####`, thousands commas
 * and spaces removed (`"#### 1,234"` gives `"1234"`). Returns null when there is no `####`.
 * Kept here (a few lines) so the loaders do not depend on the answer checker.
 */
export function gsm8kGoldAnswer(solution: string): string | null {
  const marker = solution.lastIndexOf("####");
  if (marker === -1) return null;
  const gold = solution
    .slice(marker + 4)
    .trim()
    .replace(/[,\s]/g, "");
  return gold === "" ? null : gold;
}

async function collect(
  path: string,
  options: ReadRecordsOptions,
  convert: (record: JsonObject, location: DataLocation, index: number) => Question,
): Promise<Question[]> {
  const onError = options.onError ?? "throw";
  const stats = options.stats ?? createReadStats();
  const questions: Question[] = [];
  let index = 0;
  for await (const { line, record } of iterateRecords(path, { ...options, stats })) {
    const location = { file: path, line };
    try {
      questions.push(convert(expectObject(record, location), location, index));
      stats.yielded += 1;
    } catch (error) {
      handleItemError(error, onError, stats);
    }
    index += 1;
  }
  return questions;
}

function answerText(record: JsonObject, field: string, location: DataLocation): string | null {
  const value = requireField(record, field, location);
  if (value === null) return null;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "string") return value.trim() === "None" ? null : value;
  throw new ItemError(
    fieldLocation(location, field),
    "wrong-type",
    `expected a string, a number or null, got ${describeType(value)}`,
  );
}

/**
 * MATH500 (`problem`, `answer`, `subject`, `level`, `unique_id`; JSONL, JSON or Parquet) as
 * questions with domain `"math"`, `id` = `unique_id`, `meta` = `{ subject, level }`. Throws a
 * {@link DataFormatError} naming file, line and field for a missing field or wrong type.
 */
export function loadMath500(path: string, options: ReadRecordsOptions = {}): Promise<Question[]> {
  return collect(path, options, (record, location) => ({
    id: requireString(record, "unique_id", location),
    text: requireString(record, "problem", location),
    answer: requireString(record, "answer", location),
    domain: "math",
    meta: {
      subject: requireString(record, "subject", location),
      level: requireNumber(record, "level", location),
    },
  }));
}

/**
 * GSM-Plus testmini (`question`, `answer` a number or `"None"`, `perturbation_type`) as questions
 * with domain `"gsm"`: `"None"` (the critical-thinking items, which have no answer) becomes a null
 * answer; `id` is the 0-based row index; `meta` keeps `perturbation_type` (and `seed_answer`
 * when present). Throws a {@link DataFormatError} naming file, line and field.
 */
export function loadGsmPlus(path: string, options: ReadRecordsOptions = {}): Promise<Question[]> {
  return collect(path, options, (record, location, index) => {
    const meta: Record<string, JsonValue> = {
      perturbation_type: requireString(record, "perturbation_type", location),
    };
    if (typeof record.seed_answer === "string") meta.seed_answer = record.seed_answer;
    return {
      id: String(index),
      text: requireString(record, "question", location),
      answer: answerText(record, "answer", location),
      domain: "gsm",
      meta,
    };
  });
}

/**
 * GSM8K (`question`, `answer` = worked solution ending `#### N`) as questions with domain
 * `"gsm"`, the gold number from {@link gsm8kGoldAnswer}, `id` the 0-based row index. Throws a
 * {@link DataFormatError} naming file, line and field, also when a solution has no `####`.
 */
export function loadGsm8k(path: string, options: ReadRecordsOptions = {}): Promise<Question[]> {
  return collect(path, options, (record, location, index) => {
    const solution = requireString(record, "answer", location);
    const gold = gsm8kGoldAnswer(solution);
    if (gold === null) {
      throw new ItemError(
        fieldLocation(location, "answer"),
        "missing-gold",
        "no '#### N' gold answer in the solution",
      );
    }
    return {
      id: String(index),
      text: requireString(record, "question", location),
      answer: gold,
      domain: "gsm",
    };
  });
}

/** Options of {@link loadQuestions}. */
export interface LoadQuestionsOptions extends ReadRecordsOptions {
  /** The checker the questions need. */
  domain: AnswerDomain;
  /** Field holding the id (default: `id`, `unique_id` when present, else the 0-based row index). */
  idField?: string;
}

/**
 * A generic test file (JSONL, JSON or Parquet) whose records have `question` or `problem` and
 * `answer` (a string, a number, null, or `"None"` for no answer). Other fields go to `meta` when
 * they are strings, numbers or booleans. Throws a {@link DataFormatError} naming file, line and
 * field when neither `question` nor `problem` is there, or a field has the wrong type.
 */
export function loadQuestions(path: string, options: LoadQuestionsOptions): Promise<Question[]> {
  return collect(path, options, (record, location, index) => {
    const textField =
      record.question !== undefined ? "question" : record.problem !== undefined ? "problem" : null;
    if (textField === null) {
      throw new ItemError(
        fieldLocation(location, "question"),
        "missing-field",
        "missing (nor is there a 'problem')",
      );
    }
    const idField =
      options.idField ??
      (record.id !== undefined ? "id" : record.unique_id !== undefined ? "unique_id" : null);
    let id = String(index);
    if (idField !== null) {
      const value = requireField(record, idField, location);
      if (typeof value !== "string" && typeof value !== "number") {
        throw new ItemError(
          fieldLocation(location, idField),
          "wrong-type",
          `expected a string or number, got ${describeType(value)}`,
        );
      }
      id = String(value);
    }
    const meta: Record<string, JsonValue> = {};
    for (const [key, value] of Object.entries(record)) {
      if (key === textField || key === "answer" || key === idField) continue;
      if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
        meta[key] = value;
    }
    return {
      id,
      text: requireString(record, textField, location),
      answer: answerText(record, "answer", location),
      domain: options.domain,
      meta,
    };
  });
}
