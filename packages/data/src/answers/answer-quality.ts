// Self-checks of the answer checker on real data, shared by the quality test and
// bench/answer-quality.ts so that both report the same numbers. Not part of the public API.
import { readFileSync } from "node:fs";
import { mulberry32 } from "@pqm/core/reference";
import { DataFormatError } from "../errors.js";
import { extractAnswer, extractGoldAnswer } from "./extract-answer.js";
import { isEquivalent } from "./is-equivalent.js";
import { normalizeMathAnswer } from "./normalize-math-answer.js";

/** One MATH500 row as far as the checker needs it. */
export interface Math500Row {
  id: string;
  answer: string;
  solution: string;
}

/** One GSM8K row: its worked solution ends with `#### N`. */
export interface Gsm8kRow {
  id: string;
  solution: string;
}

/** One GSM-Plus row: a worked solution ending `#### N` (or `#### None`) and its `answer` field. */
export interface GsmPlusRow {
  id: string;
  solution: string;
  answer: string;
}

/** A pair the checker judged equal although the answers come from different problems. */
export interface MismatchedPairVerdict {
  domain: "math" | "gsm";
  first: string;
  second: string;
  /** True when the normalised strings are identical (a true duplicate such as "2" and "2"). */
  identical: boolean;
}

/** Results of the self-checks. */
export interface AnswerQualityReport {
  math500: { total: number; failures: Array<{ id: string; answer: string; boxed: string | null }> };
  gsm8k: { total: number; failures: Array<{ id: string; gold: string | null; extracted: string | null }> };
  gsmPlus?: {
    total: number;
    failures: Array<{ id: string; answer: string; extracted: string | null }>;
    /** Critical-thinking rows (gold `None`). */
    unanswerable: number;
    /** Of those, solutions still read as "None" once their `#### None` line is removed. */
    detectedWithoutMarker: number;
    missedWithoutMarker: Array<{ id: string; ending: string }>;
  };
  mismatched: {
    pairs: number;
    seed: number;
    /** Pairs whose normalised answers are identical: excluded from the rate. */
    identicalPairs: number;
    /** Judged equal, answers not identical after normalisation. */
    falseEquals: MismatchedPairVerdict[];
    /** falseEquals / (pairs - identicalPairs). */
    falseEqualRate: number;
  };
}

/**
 * Reads MATH500 rows (`answer`, `solution`, `unique_id`) from a JSONL file.
 * Throws `DataFormatError` naming the file, line and field for a bad row.
 */
export function readMath500(file: string): Math500Row[] {
  return readJsonLines(file).map(({ record, line }) => ({
    id: requireString(record, "unique_id", file, line),
    answer: requireString(record, "answer", file, line),
    solution: requireString(record, "solution", file, line),
  }));
}

/**
 * Reads GSM8K rows (`answer` holds the worked solution) from a JSONL file.
 * Throws `DataFormatError` naming the file, line and field for a bad row.
 */
export function readGsm8k(file: string): Gsm8kRow[] {
  return readJsonLines(file).map(({ record, line }) => ({
    id: `line ${line}`,
    solution: requireString(record, "answer", file, line),
  }));
}

/**
 * Reads GSM-Plus rows (`solution`, `answer`) from a JSONL file.
 * Throws `DataFormatError` naming the file, line and field for a bad row.
 */
export function readGsmPlus(file: string): GsmPlusRow[] {
  return readJsonLines(file).map(({ record, line }) => ({
    id: `line ${line}`,
    solution: requireString(record, "solution", file, line),
    answer: requireString(record, "answer", file, line),
  }));
}

/**
 * Checks GSM-Plus: every solution against its `answer` field, and for the critical-thinking rows
 * (gold `None`) whether the solution text alone, without its `#### None` line, reads as "None".
 */
export function measureGsmPlusQuality(
  rows: readonly GsmPlusRow[],
): NonNullable<AnswerQualityReport["gsmPlus"]> {
  const failures: Array<{ id: string; answer: string; extracted: string | null }> = [];
  const missedWithoutMarker: Array<{ id: string; ending: string }> = [];
  let unanswerable = 0;
  for (const row of rows) {
    if (!isEquivalent(row.solution, row.answer, "gsm")) {
      failures.push({ id: row.id, answer: row.answer, extracted: extractAnswer(row.solution, "gsm") });
    }
    if (row.answer !== "None") continue;
    unanswerable++;
    const withoutMarker = row.solution.replace(/####\s*None\s*$/, "");
    if (!isEquivalent(withoutMarker, row.answer, "gsm")) {
      missedWithoutMarker.push({ id: row.id, ending: withoutMarker.trim().slice(-160) });
    }
  }
  return {
    total: rows.length,
    failures,
    unanswerable,
    detectedWithoutMarker: unanswerable - missedWithoutMarker.length,
    missedWithoutMarker,
  };
}

/**
 * Runs the three data checks: MATH500 `answer` against the last `\boxed{}` of its solution, GSM8K
 * `#### N` gold against the answer extracted from the same solution, and `pairCount` seeded pairs
 * of golds from different problems (half MATH500, half GSM8K) that must not be judged equal.
 */
export function measureAnswerQuality(
  math500: readonly Math500Row[],
  gsm8k: readonly Gsm8kRow[],
  pairCount = 5000,
  seed = 20250101,
): AnswerQualityReport {
  const mathFailures: AnswerQualityReport["math500"]["failures"] = [];
  for (const row of math500) {
    const boxed = extractAnswer(row.solution, "math");
    if (!isEquivalent(boxed, row.answer, "math") || !isEquivalent(row.answer, boxed, "math")) {
      mathFailures.push({ id: row.id, answer: row.answer, boxed });
    }
  }
  const gsmFailures: AnswerQualityReport["gsm8k"]["failures"] = [];
  const gsmGolds: string[] = [];
  for (const row of gsm8k) {
    const gold = extractGoldAnswer(row.solution, "gsm");
    const extracted = extractAnswer(row.solution, "gsm");
    if (gold === null || !isEquivalent(extracted, gold, "gsm") || !isEquivalent(gold, row.solution, "gsm")) {
      gsmFailures.push({ id: row.id, gold, extracted });
    }
    if (gold !== null) gsmGolds.push(gold);
  }

  const random = mulberry32(seed);
  const falseEquals: MismatchedPairVerdict[] = [];
  let identicalPairs = 0;
  const mathGolds = math500.map((row) => row.answer);
  for (let pair = 0; pair < pairCount; pair++) {
    const domain = pair % 2 === 0 ? "math" : "gsm";
    const golds = domain === "math" ? mathGolds : gsmGolds;
    const firstIndex = Math.floor(random() * golds.length);
    let secondIndex = Math.floor(random() * (golds.length - 1));
    if (secondIndex >= firstIndex) secondIndex++;
    const first = golds[firstIndex] ?? "";
    const second = golds[secondIndex] ?? "";
    const identical =
      domain === "math" ? normalizeMathAnswer(first) === normalizeMathAnswer(second) : first === second;
    if (identical) {
      identicalPairs++;
      continue;
    }
    if (isEquivalent(first, second, domain)) falseEquals.push({ domain, first, second, identical });
  }
  return {
    math500: { total: math500.length, failures: mathFailures },
    gsm8k: { total: gsm8k.length, failures: gsmFailures },
    mismatched: {
      pairs: pairCount,
      seed,
      identicalPairs,
      falseEquals,
      falseEqualRate: falseEquals.length / Math.max(1, pairCount - identicalPairs),
    },
  };
}

function readJsonLines(file: string): Array<{ record: Record<string, unknown>; line: number }> {
  const rows: Array<{ record: Record<string, unknown>; line: number }> = [];
  const lines = readFileSync(file, "utf8").split("\n");
  lines.forEach((text, index) => {
    if (text.trim() === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new DataFormatError({ file, line: index + 1 }, "not valid JSON", { cause: error });
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new DataFormatError({ file, line: index + 1 }, "expected a JSON object");
    }
    rows.push({ record: parsed as Record<string, unknown>, line: index + 1 });
  });
  return rows;
}

function requireString(record: Record<string, unknown>, field: string, file: string, line: number): string {
  const value = record[field];
  if (typeof value !== "string") {
    throw new DataFormatError(
      { file, line, field },
      `expected a string, got ${value === null ? "null" : typeof value}`,
    );
  }
  return value;
}
