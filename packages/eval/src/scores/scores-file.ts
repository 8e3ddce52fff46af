import { readFile } from "node:fs/promises";
import { DataFormatError, writeFileAtomic } from "@pqm/data";
import type { CandidateFile } from "../candidates/candidate-file.js";

/** The format tag of the first line of a scores file. */
export const SCORES_FORMAT = "pqm-scores/1";

/**
 * What a scores file holds per candidate: one score per step (`step`, the default when the header has
 * no `level`) or one score for the whole solution (`outcome`, e.g. an outcome reward model's).
 */
export type ScoreLevel = "step" | "outcome";

/** The header line of a scores file. */
export interface ScoresHeader {
  format: typeof SCORES_FORMAT;
  /** SHA-256 (hex) of the bytes of the candidate file the scores belong to. */
  candidates_sha256: string;
  /** What produced the scores (a scorer's name). */
  scorer: string;
  /** `outcome` for one score per candidate; absent means `step`. */
  level?: ScoreLevel;
}

/** A question whose scores hold a NaN, left out under `nan: "exclude"`. */
export interface ExcludedScore {
  question: number;
  candidate: number;
  step: number;
  /** 1-based line of the scores file. */
  line: number;
}

/**
 * A scores file as read. `scores[question][candidate][step]`, raw logits; for an outcome-level file
 * (`level: "outcome"`) each candidate's list holds its one outcome score.
 */
export interface ScoresFile {
  file: string;
  header: ScoresHeader;
  /** `step` or `outcome` (the header's `level`; `readScoresFile` always sets it, absent means `step`). */
  level?: ScoreLevel;
  scores: number[][][];
  /** Questions holding a NaN score (one entry per question, at its first NaN); empty unless excluded. */
  excluded: ExcludedScore[];
}

/** Options of {@link readScoresFile}. */
export interface ReadScoresOptions {
  /** The candidate file the scores must belong to: hash, question count, candidates and steps are checked. */
  candidates?: CandidateFile;
  /** A NaN score (written `null` or `NaN`): throw (default) or exclude the question and count it. */
  nan?: "error" | "exclude";
}

/**
 * Writes a scores file (JSONL: the header, then `{"index": i, "scores": [[...], ...]}` per question in
 * test-set order). NaN scores are written as `null` so that readers see them; infinite scores are
 * refused (RangeError naming question, candidate and step). The file is written to a temporary name and
 * renamed, so a reader never sees half a file.
 */
export async function writeScoresFile(
  path: string,
  header: { candidatesSha256: string; scorer: string },
  scores: readonly (readonly (readonly number[])[])[],
): Promise<void> {
  const lines = [
    JSON.stringify({
      format: SCORES_FORMAT,
      candidates_sha256: header.candidatesSha256,
      scorer: header.scorer,
    }),
  ];
  scores.forEach((question, index) => {
    lines.push(formatScoresLine(index, question));
  });
  await writeFileAtomic(path, `${lines.join("\n")}\n`);
}

/** One question's line of a scores file (without newline). Throws a RangeError on an infinite score. */
export function formatScoresLine(index: number, scores: readonly (readonly number[])[]): string {
  scores.forEach((steps, candidate) => {
    steps.forEach((score, step) => {
      if (score === Number.POSITIVE_INFINITY || score === Number.NEGATIVE_INFINITY) {
        throw new RangeError(
          `scores: question ${index}, candidate ${candidate}, step ${step}: score is ${score}`,
        );
      }
    });
  });
  return JSON.stringify({ index, scores });
}

/**
 * Writes an outcome-level scores file: the header with `"level": "outcome"`, then
 * `{"index": i, "scores": [s_0, s_1, ...]}` per question, one score per candidate. NaN is written
 * `null`; an infinite score is refused (RangeError naming question and candidate). Written atomically.
 */
export async function writeOutcomeScoresFile(
  path: string,
  header: { candidatesSha256: string; scorer: string },
  scores: readonly (readonly number[])[],
): Promise<void> {
  const lines = [
    JSON.stringify({
      format: SCORES_FORMAT,
      candidates_sha256: header.candidatesSha256,
      scorer: header.scorer,
      level: "outcome",
    }),
  ];
  scores.forEach((question, index) => {
    question.forEach((score, candidate) => {
      if (score === Number.POSITIVE_INFINITY || score === Number.NEGATIVE_INFINITY) {
        throw new RangeError(`scores: question ${index}, candidate ${candidate}: score is ${score}`);
      }
    });
    lines.push(JSON.stringify({ index, scores: question }));
  });
  await writeFileAtomic(path, `${lines.join("\n")}\n`);
}

/**
 * Reads a scores file (step or outcome level, as its header says). Throws a DataFormatError naming the file, line and field for a bad header or line,
 * a missing or out-of-order question, a hash that does not match `options.candidates` (naming both
 * files), counts of questions, candidates or steps that differ from the candidate file, or a NaN score
 * (file, line, question, candidate) unless `nan: "exclude"`.
 */
export async function readScoresFile(path: string, options: ReadScoresOptions = {}): Promise<ScoresFile> {
  // A byte-order mark some editors add is not part of the header's JSON.
  const text = (await readFile(path, "utf8")).replace(/^\uFEFF/, "");
  const lines = text.split("\n");
  while (lines.length > 0 && lines.at(-1)!.trim() === "") lines.pop();
  if (lines.length === 0) throw new DataFormatError({ file: path, line: 1 }, "empty scores file (no header)");
  const header = parseHeader(lines[0]!, path);
  const candidates = options.candidates;
  if (candidates && candidates.sha256 !== header.candidates_sha256) {
    throw new DataFormatError(
      { file: path, line: 1, field: "candidates_sha256" },
      `scores were computed for a candidate file with SHA-256 ${header.candidates_sha256}, but ${candidates.file} ` +
        `has SHA-256 ${candidates.sha256} (scores for another candidate file)`,
    );
  }
  const scores: number[][][] = [];
  const excluded: ExcludedScore[] = [];
  for (let l = 1; l < lines.length; l++) {
    const line = l + 1;
    const { index, questionScores } = parseScoresLine(lines[l]!, path, line, header.level ?? "step");
    if (index !== scores.length) {
      throw new DataFormatError(
        { file: path, line, field: "index" },
        `expected question ${scores.length}, got ${index}`,
      );
    }
    const nan = findNaN(questionScores);
    if (nan) {
      if (options.nan !== "exclude") {
        const outcome = header.level === "outcome";
        throw new DataFormatError(
          {
            file: path,
            line,
            field: outcome ? `scores.${nan.candidate}` : `scores.${nan.candidate}.${nan.step}`,
          },
          `question ${index}, candidate ${nan.candidate}${outcome ? "" : `, step ${nan.step}`}: score is NaN ` +
            `(read with nan: "exclude" to leave such questions out, counted)`,
        );
      }
      excluded.push({ question: index, candidate: nan.candidate, step: nan.step, line });
    }
    if (candidates)
      checkAgainstCandidates(questionScores, candidates, index, path, line, header.level ?? "step");
    scores.push(questionScores);
  }
  if (candidates && scores.length !== candidates.questions.length) {
    throw new DataFormatError(
      { file: path, line: lines.length },
      `has scores for ${scores.length} questions but ${candidates.file} has ${candidates.questions.length}`,
    );
  }
  return { file: path, header, level: header.level ?? "step", scores, excluded };
}

function parseHeader(line: string, file: string): ScoresHeader {
  let header: unknown;
  try {
    header = JSON.parse(line);
  } catch (error) {
    throw new DataFormatError({ file, line: 1 }, "header is not valid JSON", { cause: error });
  }
  if (typeof header !== "object" || header === null)
    throw new DataFormatError({ file, line: 1 }, "header is not an object");
  const record = header as Record<string, unknown>;
  if (record.format !== SCORES_FORMAT) {
    throw new DataFormatError(
      { file, line: 1, field: "format" },
      `expected "${SCORES_FORMAT}", got ${JSON.stringify(record.format)}`,
    );
  }
  for (const field of ["candidates_sha256", "scorer"] as const) {
    if (typeof record[field] !== "string") {
      throw new DataFormatError(
        { file, line: 1, field },
        `expected a string, got ${JSON.stringify(record[field])}`,
      );
    }
  }
  if (!/^[0-9a-f]{64}$/.test(record.candidates_sha256 as string)) {
    throw new DataFormatError(
      { file, line: 1, field: "candidates_sha256" },
      "expected 64 lowercase hex digits",
    );
  }
  if (record.level !== undefined && record.level !== "step" && record.level !== "outcome") {
    throw new DataFormatError(
      { file, line: 1, field: "level" },
      `expected "step" or "outcome", got ${JSON.stringify(record.level)}`,
    );
  }
  return {
    format: SCORES_FORMAT,
    candidates_sha256: record.candidates_sha256 as string,
    scorer: record.scorer as string,
    ...(record.level === undefined ? {} : { level: record.level as ScoreLevel }),
  };
}

/**
 * Parses one question line; `null` and bare `NaN` (as Python writes it) become NaN. An outcome-level
 * line's scores (one number per candidate) come back as one-element lists.
 */
function parseScoresLine(
  text: string,
  file: string,
  line: number,
  level: ScoreLevel,
): { index: number; questionScores: number[][] } {
  let record: unknown;
  try {
    // Python's json module writes NaN and Infinity bare; the line holds nothing but numbers and two keys.
    record = JSON.parse(
      text
        .replace(/-Infinity\b/g, "-1e999")
        .replace(/\bInfinity\b/g, "1e999")
        .replace(/\bNaN\b/g, "null"),
    );
  } catch (error) {
    throw new DataFormatError({ file, line }, `not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (typeof record !== "object" || record === null)
    throw new DataFormatError({ file, line }, "expected an object");
  const { index, scores } = record as Record<string, unknown>;
  if (!Number.isInteger(index))
    throw new DataFormatError({ file, line, field: "index" }, "expected an integer");
  if (level === "outcome") {
    if (!Array.isArray(scores))
      throw new DataFormatError(
        { file, line, field: "scores" },
        "expected a list of numbers, one outcome score per candidate",
      );
    return {
      index: index as number,
      questionScores: scores.map((score: unknown, candidate) => {
        if (score === null) return [Number.NaN];
        if (typeof score !== "number") {
          throw new DataFormatError(
            { file, line, field: `scores.${candidate}` },
            `expected a number (the header says "level": "outcome": one score per candidate), got ${Array.isArray(score) ? "a list" : typeof score}`,
          );
        }
        return [score];
      }),
    };
  }
  if (!Array.isArray(scores))
    throw new DataFormatError({ file, line, field: "scores" }, "expected a list of lists");
  const questionScores = scores.map((steps: unknown, candidate) => {
    if (!Array.isArray(steps)) {
      throw new DataFormatError(
        { file, line, field: `scores.${candidate}` },
        typeof steps === "number"
          ? 'expected a list of step scores, got a number (a file of one score per candidate needs "level": "outcome" in its header)'
          : "expected a list of step scores",
      );
    }
    return steps.map((score: unknown, step) => {
      if (score === null) return Number.NaN;
      if (typeof score !== "number") {
        throw new DataFormatError(
          { file, line, field: `scores.${candidate}.${step}` },
          `expected a number, got ${typeof score}`,
        );
      }
      return score;
    });
  });
  return { index: index as number, questionScores };
}

function findNaN(questionScores: number[][]): { candidate: number; step: number } | null {
  for (let candidate = 0; candidate < questionScores.length; candidate++) {
    const steps = questionScores[candidate]!;
    for (let step = 0; step < steps.length; step++) if (Number.isNaN(steps[step])) return { candidate, step };
  }
  return null;
}

function checkAgainstCandidates(
  questionScores: number[][],
  candidates: CandidateFile,
  index: number,
  file: string,
  line: number,
  level: ScoreLevel,
): void {
  const question = candidates.questions[index];
  if (!question) {
    throw new DataFormatError(
      { file, line, field: "index" },
      `question ${index} is not in ${candidates.file} (${candidates.questions.length} questions)`,
    );
  }
  if (questionScores.length !== question.responses.length) {
    throw new DataFormatError(
      { file, line, field: "scores" },
      `question ${index}: ${questionScores.length} candidates scored but ${candidates.file} has ${question.responses.length}`,
    );
  }
  if (level === "outcome") return;
  questionScores.forEach((steps, candidate) => {
    const expected = question.responses[candidate]!.steps.length;
    if (steps.length !== expected) {
      throw new DataFormatError(
        { file, line, field: `scores.${candidate}` },
        `question ${index}, candidate ${candidate}: ${steps.length} step scores but ${candidates.file} has ${expected} steps` +
          (steps.length === 1 && expected > 1
            ? ' (for one score per candidate, an outcome-level file, put "level": "outcome" in the header)'
            : ""),
      );
    }
  });
}
