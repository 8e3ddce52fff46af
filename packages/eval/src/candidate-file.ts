import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { DataFormatError } from "@pqm/data";

/** One sampled solution of a candidate file, steps split. */
export interface CandidateResponse {
  text: string;
  /** The policy that wrote it (`model_name`; empty when the file has none). */
  modelName: string;
  /** Steps of the solution: the file's `steps`, or the text split on `Step k:` markers. */
  steps: string[];
  /** Step labels when the file has them (`process_labels`). */
  processLabels?: number[];
  /** Exact Q-values per step when the file has them (`q_values`). */
  qValues?: number[];
}

/** One question's candidates. */
export interface CandidateQuestion {
  question: string;
  responses: CandidateResponse[];
}

/** A best-of-n candidate file as read: where it came from, its hash, its questions in file order. */
export interface CandidateFile {
  file: string;
  /** SHA-256 of the file's bytes, lowercase hex. */
  sha256: string;
  questions: CandidateQuestion[];
}

/** SHA-256 of some bytes as lowercase hex. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Splits a candidate's text into steps on `Step k:` markers (method.md section 7), dropping the markers
 * and empty pieces; text before the first marker is kept as its own step only when it is not blank.
 * Without markers the text is split on blank lines; a text without either is one step.
 */
export function splitCandidateSteps(text: string): string[] {
  const byMarker = text.split(/Step \d+\s*:/);
  const pieces = byMarker.length > 1 ? byMarker : text.split(/\n\s*\n/);
  const steps = pieces.map((piece) => piece.trim()).filter((piece) => piece.length > 0);
  return steps.length > 0 ? steps : [text.trim()];
}

/**
 * Reads a candidate file: a JSON list `[{question, responses: [{text, model_name, steps?,
 * process_labels?, q_values?}]}]` (the PQM paper's `eval_data` layout). Minimal reader owned by
 * @pqm/eval until @pqm/data's candidate reader lands. Throws a DataFormatError naming the file, the
 * record (1-based) and the field on bad input.
 */
export async function readCandidateFile(path: string): Promise<CandidateFile> {
  const bytes = await readFile(path);
  return parseCandidateFile(bytes, path);
}

/** Parses candidate-file bytes (see {@link readCandidateFile}); `file` names the source in errors. */
export function parseCandidateFile(bytes: Uint8Array, file: string): CandidateFile {
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new DataFormatError({ file }, `not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (!Array.isArray(data)) throw new DataFormatError({ file }, "expected a JSON list of questions");
  const questions = data.map((record: unknown, index): CandidateQuestion => {
    const line = index + 1;
    if (!isObject(record)) throw new DataFormatError({ file, line }, "expected an object");
    if (typeof record.question !== "string") {
      throw new DataFormatError(
        { file, line, field: "question" },
        `expected a string, got ${typeName(record.question)}`,
      );
    }
    if (!Array.isArray(record.responses)) {
      throw new DataFormatError(
        { file, line, field: "responses" },
        `expected a list, got ${typeName(record.responses)}`,
      );
    }
    const responses = record.responses.map((response: unknown, r): CandidateResponse => {
      const at = (field: string) => ({ file, line, field: `responses.${r}${field ? `.${field}` : ""}` });
      if (!isObject(response)) throw new DataFormatError(at(""), "expected an object");
      if (typeof response.text !== "string") {
        throw new DataFormatError(at("text"), `expected a string, got ${typeName(response.text)}`);
      }
      const modelName = response.model_name ?? "";
      if (typeof modelName !== "string") {
        throw new DataFormatError(at("model_name"), `expected a string, got ${typeName(modelName)}`);
      }
      let steps: string[];
      if (response.steps === undefined) {
        steps = splitCandidateSteps(response.text);
      } else {
        if (!Array.isArray(response.steps) || !response.steps.every((s: unknown) => typeof s === "string")) {
          throw new DataFormatError(at("steps"), "expected a list of strings");
        }
        steps = response.steps as string[];
        if (steps.length === 0) throw new DataFormatError(at("steps"), "expected at least one step");
      }
      const result: CandidateResponse = { text: response.text, modelName, steps };
      const processLabels = optionalNumbers(response.process_labels, steps.length, at("process_labels"));
      if (processLabels) result.processLabels = processLabels;
      const qValues = optionalNumbers(response.q_values, steps.length, at("q_values"));
      if (qValues) result.qValues = qValues;
      return result;
    });
    return { question: record.question, responses };
  });
  return { file, sha256: sha256Hex(bytes), questions };
}

function optionalNumbers(
  value: unknown,
  steps: number,
  location: { file: string; line: number; field: string },
): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "number")) {
    throw new DataFormatError(location, "expected a list of numbers");
  }
  if (value.length !== steps) {
    throw new DataFormatError(location, `has ${value.length} entries for ${steps} steps`);
  }
  return value as number[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "list";
  return typeof value;
}
