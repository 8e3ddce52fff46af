// What the reader fuzz tests (`*.fuzz.test.ts`) accept as an outcome: a well-formed result, or a
// DataFormatError whose message names the file and, for an item, its line and field.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabeledTrajectory, Question } from "@pqm/core/reference";
import type { FuzzTally } from "@pqm/testing/fuzz";
import fc from "fast-check";
import { expect } from "vitest";
import { DataFormatError } from "../errors.js";
import { ItemError } from "./read-options.js";

/** Problems of a whole file, which have no line. */
const FILE_LEVEL =
  /^(empty file|expected a JSON array|unexpected data after the JSON array|the file holds no records|not a readable Parquet file|has \d+ candidate sets)/;

/**
 * Problems of a whole record (its line is named, but no single field is to blame): syntax, encoding,
 * a record of the wrong type, a record that fits no format, a row whose parts disagree.
 */
const RECORD_LEVEL =
  /^(invalid JSON|invalid UTF-8|expected a JSON object|cannot tell the format|line longer than|truncated JSON array|unbalanced|empty element|input has \d+ steps|cannot decode Parquet rows|no step with a usable rating)/;

/**
 * Checks that `error` is the project's own data error for `file` and tallies it by kind; rethrows
 * anything else (a TypeError, a RangeError, a raw SyntaxError...) so that the property fails on it.
 */
export function expectDataError(error: unknown, file: string, tally: FuzzTally): void {
  if (!(error instanceof DataFormatError)) throw error;
  expect(error.file).toBe(file);
  expect(error.message.startsWith(file)).toBe(true);
  // One line: the CLI prints the message as the first (and only) line of its error.
  expect(error.message).not.toContain("\n");
  if (error.line === undefined) {
    expect(error.reason).toMatch(FILE_LEVEL);
  } else {
    expect(Number.isInteger(error.line) && error.line >= 1).toBe(true);
    expect(error.message.startsWith(`${file}:${error.line}`)).toBe(true);
  }
  if (error.field === undefined) {
    if (error.line !== undefined) expect(error.reason).toMatch(RECORD_LEVEL);
  } else {
    expect(error.field).not.toBe("");
    expect(error.message).toContain(`field '${error.field}'`);
  }
  tally.reject(error instanceof ItemError ? error.skipReason : error.reason.split(/[:(]/)[0]!.trim());
}

/** A labelled trajectory a trainer can use: steps, one 0/1 label each, soft labels in [0, 1]. */
export function expectWellFormedTrajectory(trajectory: LabeledTrajectory): void {
  expectWellFormedQuestion(trajectory.question);
  expect(Array.isArray(trajectory.steps)).toBe(true);
  expect(trajectory.steps.length).toBeGreaterThan(0);
  for (const step of trajectory.steps) expect(typeof step).toBe("string");
  expect(trajectory.hardLabels).toHaveLength(trajectory.steps.length);
  for (const label of trajectory.hardLabels) expect(label === 0 || label === 1).toBe(true);
  if (trajectory.softLabels !== undefined) {
    expect(trajectory.softLabels).toHaveLength(trajectory.steps.length);
    for (const value of trajectory.softLabels) expect(value >= 0 && value <= 1).toBe(true);
  }
}

/** A question with a string id and text, a string or null answer, and a known domain. */
export function expectWellFormedQuestion(question: Question): void {
  expect(typeof question.id).toBe("string");
  expect(typeof question.text).toBe("string");
  expect(question.answer === null || typeof question.answer === "string").toBe(true);
  expect(["math", "gsm"]).toContain(question.domain);
}

/** A temporary folder for one fuzz file; `write` puts the bytes of one run in it, `dispose` removes it. */
export async function fuzzFolder(prefix: string): Promise<{
  path: (name: string) => string;
  write: (name: string, bytes: Uint8Array) => Promise<string>;
  dispose: () => Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), `pqm-fuzz-${prefix}-`));
  return {
    path: (name) => join(dir, name),
    write: async (name, bytes) => {
      const file = join(dir, name);
      await writeFile(file, bytes);
      return file;
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Collects an async iterable. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const WORDS = [
  "3",
  "5",
  "=",
  "<<3+5=8>>8",
  "apples",
  "x²",
  "é",
  "漢字",
  "😀",
  "\\frac{1}{2}",
  "$",
  "+",
  "-",
  "Step",
  "is",
  "the",
  "answer",
  "0.5",
];

/** A word of generated text: digits, arithmetic, LaTeX, accents, CJK, an emoji, a stray sign. */
export const fuzzWord: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...WORDS),
  fc.stringMatching(/^[a-z]{1,6}$/),
);

/** A short text of words joined by spaces: no leading or trailing white space, never a tag or a `Step N:` header. */
export const fuzzText: fc.Arbitrary<string> = fc
  .array(fuzzWord, { minLength: 1, maxLength: 6 })
  .map((words) => words.join(" "));

/** A probability in [0, 1], ends included. */
export const fuzzProbability: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, 1, 0.5),
  fc.double({ min: 0, max: 1, noNaN: true }),
);
