import type { AnswerChecker, Question } from "@pqm/core/reference";
import { DataFormatError, normalizeQuestionText } from "@pqm/data";
import { type AnswerGrouping, checkCandidateAnswers, type VerdictTable } from "../answers/verdicts.js";
import type { CandidateFile } from "../candidates/candidate-file.js";
import type { ExcludedScore, ScoresFile } from "../scores/scores-file.js";
import {
  type BestOfNOptions,
  type BestOfNQuestion,
  type BestOfNResult,
  evaluateBestOfN,
} from "./best-of-n.js";

/** Inputs of a best-of-n evaluation over files. */
export interface CandidateEvaluationInput {
  /** The test set, in the candidate file's order. */
  questions: readonly Question[];
  candidates: CandidateFile;
  /** Scores read with `readScoresFile(..., { candidates })` or from `scoreCandidatesCached`. */
  scores: ScoresFile;
  checker: AnswerChecker;
  /** Where to cache the verdicts (JSON), so a rerun does not re-check answers. */
  verdictCacheFile?: string;
}

/** Options: those of best-of-n, plus answer grouping and how strictly questions must align. */
export interface CandidateEvaluationOptions extends Omit<BestOfNOptions, "file" | "questionIds"> {
  /** Answer grouping for the votes (default `checker`). */
  grouping?: AnswerGrouping;
  /** `text` (default): each candidate record's question must equal the test set's (whitespace-insensitive); `count`: only counts. */
  alignment?: "text" | "count";
}

/** The outcome of {@link evaluateCandidates}. */
export interface CandidateEvaluation {
  inputs: {
    candidatesFile: string;
    candidatesSha256: string;
    scoresFile: string;
    scorer: string;
    /** Present (`outcome`) when the scores file is outcome level. */
    scoreLevel?: "outcome";
    questions: number;
    /** Questions left out because their scores hold a NaN (read with `nan: "exclude"`). */
    excludedForNaN: ExcludedScore[];
  };
  verdicts: VerdictTable;
  bestOfN: BestOfNResult;
  /** For each question entering best-of-n, its index in the test set. */
  evaluatedQuestions: number[];
}

/**
 * Best-of-n of a candidate file: checks the alignment of test set, candidates and scores, checks every
 * candidate's answer once (cached when `verdictCacheFile` is given), and runs {@link evaluateBestOfN}.
 * Throws a DataFormatError naming the candidate file and record when the test set and the candidates
 * are misaligned, and the errors of `evaluateBestOfN` otherwise.
 */
export async function evaluateCandidates(
  input: CandidateEvaluationInput,
  options: CandidateEvaluationOptions = {},
): Promise<CandidateEvaluation> {
  const { questions, candidates, scores } = input;
  const file = candidates.file;
  if (scores.header.candidates_sha256 !== candidates.sha256) {
    throw new DataFormatError(
      { file: scores.file, line: 1, field: "candidates_sha256" },
      `scores belong to a candidate file with SHA-256 ${scores.header.candidates_sha256}, not ${file} (${candidates.sha256})`,
    );
  }
  if (candidates.questions.length !== questions.length) {
    throw new DataFormatError(
      { file },
      `has ${candidates.questions.length} questions but the test set has ${questions.length} (candidates misaligned)`,
    );
  }
  if (scores.scores.length !== questions.length) {
    throw new DataFormatError(
      { file: scores.file },
      `has ${scores.scores.length} questions, the test set ${questions.length}`,
    );
  }
  if ((options.alignment ?? "text") === "text") {
    candidates.questions.forEach((record, q) => {
      if (normalizeQuestionText(record.question) !== normalizeQuestionText(questions[q]!.text)) {
        throw new DataFormatError(
          { file, line: q + 1, field: "question" },
          `does not match test-set question ${q} (id ${questions[q]!.id}): ` +
            `${JSON.stringify(record.question.slice(0, 60))} vs ${JSON.stringify(questions[q]!.text.slice(0, 60))} ` +
            `(candidates misaligned; use alignment: "count" if the texts differ only in formatting)`,
        );
      }
    });
  }
  const verdicts = await checkCandidateAnswers(
    questions.map((question) => ({ answer: question.answer, domain: question.domain })),
    candidates.questions.map((record) => record.responses.map((response) => response.text)),
    input.checker,
    {
      grouping: options.grouping ?? "checker",
      ...(input.verdictCacheFile
        ? {
            cacheFile: input.verdictCacheFile,
            cacheKey: `${candidates.sha256}|${questions.map((q) => q.answer).join("\u0000")}`,
          }
        : {}),
    },
  );
  const excludedSet = new Set(scores.excluded.map((entry) => entry.question));
  const evaluatedQuestions: number[] = [];
  const bonQuestions: BestOfNQuestion[] = [];
  questions.forEach((_, q) => {
    if (excludedSet.has(q)) return;
    evaluatedQuestions.push(q);
    const verdictRow = verdicts.questions[q]!;
    bonQuestions.push({
      ...(scores.level === "outcome"
        ? { outcomeScores: scores.scores[q]!.map((candidate) => candidate[0]!) }
        : { stepScores: scores.scores[q]! }),
      correct: verdictRow.map((verdict) => verdict.correct),
      answerGroups: verdictRow.map((verdict) => verdict.group),
    });
  });
  const bestOfN = evaluateBestOfN(bonQuestions, {
    ...options,
    ...(scores.level === "outcome" ? { scoreLevel: "outcome" as const } : {}),
    file,
    questionIds: evaluatedQuestions.map((q) => questions[q]!.id),
  });
  return {
    inputs: {
      candidatesFile: file,
      candidatesSha256: candidates.sha256,
      scoresFile: scores.file,
      scorer: scores.header.scorer,
      ...(scores.level === "outcome" ? { scoreLevel: "outcome" as const } : {}),
      questions: questions.length,
      excludedForNaN: scores.excluded,
    },
    verdicts,
    bestOfN,
    evaluatedQuestions,
  };
}
