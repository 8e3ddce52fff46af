import { readFile } from "node:fs/promises";
import { DataFormatError } from "@pqm/data";

/** One ProcessBench record: a model-written solution with the index of its first wrong step. */
export interface ProcessBenchRecord {
  id: string;
  problem: string;
  steps: string[];
  /** Index of the first wrong step, or -1 when every step is right. */
  label: number;
  finalAnswerCorrect: boolean;
  generator: string;
}

/**
 * Reads a ProcessBench subset file (a JSON list of `{id, generator, problem, steps, final_answer_correct,
 * label}`). Minimal reader owned by @pqm/eval until @pqm/data has one. Throws a DataFormatError naming
 * the file, record (1-based) and field on bad input.
 */
export async function readProcessBenchFile(path: string): Promise<ProcessBenchRecord[]> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new DataFormatError({ file: path }, `not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (!Array.isArray(data)) throw new DataFormatError({ file: path }, "expected a JSON list");
  return data.map((value: unknown, index) => {
    const line = index + 1;
    if (typeof value !== "object" || value === null)
      throw new DataFormatError({ file: path, line }, "expected an object");
    const record = value as Record<string, unknown>;
    const steps = record.steps;
    if (!Array.isArray(steps) || steps.length === 0 || !steps.every((step) => typeof step === "string")) {
      throw new DataFormatError({ file: path, line, field: "steps" }, "expected a non-empty list of strings");
    }
    const label = record.label;
    if (typeof label !== "number" || !Number.isInteger(label) || label < -1 || label >= steps.length) {
      throw new DataFormatError(
        { file: path, line, field: "label" },
        `expected -1 or a step index below ${steps.length}, got ${JSON.stringify(label)}`,
      );
    }
    if (typeof record.problem !== "string") {
      throw new DataFormatError({ file: path, line, field: "problem" }, "expected a string");
    }
    return {
      id: typeof record.id === "string" ? record.id : String(index),
      problem: record.problem,
      steps: steps as string[],
      label,
      finalAnswerCorrect: record.final_answer_correct === true,
      generator: typeof record.generator === "string" ? record.generator : "",
    };
  });
}
