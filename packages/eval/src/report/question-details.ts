import type { AggregationName, Question } from "@pqm/core/reference";
import { getAggregation } from "@pqm/core/reference";
import type { CandidateEvaluation } from "../best-of-n/evaluate-candidates.js";
import type { CandidateFile } from "../candidates/candidate-file.js";
import type { ScoresFile } from "../scores/scores-file.js";

/** One candidate as the per-question view of index.html shows it. */
export interface CandidateDetail {
  /** Index within its question in the candidate file. */
  index: number;
  modelName: string;
  answer: string | null;
  correct: boolean;
  steps: string[];
  /** Raw step scores (logits); the page colors each step by sigmoid(score). */
  stepScores: number[];
  /** The solution score under the evaluation's aggregation. */
  solutionScore: number;
  /** Methods that picked this candidate from the first n (reference rule, largest n). */
  chosenBy: string[];
  /**
   * The exact per-step labels (1 correct, 0 wrong) when the candidate file carries them
   * (`process_labels`, as the built-in arith environment writes); absent otherwise.
   */
  stepLabels?: number[];
  /** The exact Q-value of each step, when the file carries `q_values`. */
  stepQValues?: number[];
  /** 0-based index of the first step labelled wrong; null when every step is right. Only with `stepLabels`. */
  firstMistake?: number | null;
}

/** One question of the per-question view. */
export interface QuestionDetail {
  /** Index in the test set. */
  index: number;
  id: string;
  text: string;
  gold: string | null;
  /** Candidates available and correct (all of them, not only those shown). */
  totalCandidates: number;
  correctCandidates: number;
  /** Whether the PRM's best-of-n pick (reference rule, largest n) is correct; null when none. */
  bestOfNCorrect: boolean | null;
  /** The first `maxCandidates` candidates, plus any picked by a method beyond them. */
  candidates: CandidateDetail[];
}

/**
 * The per-question view data for index.html: texts, steps and scores joined with the verdicts and the
 * methods' picks. Shows the first `maxCandidates` (default 32) candidates of each question, plus the
 * picked ones, to keep the page small.
 */
export function buildQuestionDetails(
  evaluation: CandidateEvaluation,
  questions: readonly Question[],
  candidates: CandidateFile,
  scores: ScoresFile,
  maxCandidates = 32,
): QuestionDetail[] {
  const outcome = evaluation.bestOfN.scoreLevel === "outcome";
  const aggregation = getAggregation(evaluation.bestOfN.aggregation as AggregationName);
  const choices = evaluation.bestOfN.referenceChoices.byMethod;
  return evaluation.evaluatedQuestions.map((q, position) => {
    const question = questions[q]!;
    const verdicts = evaluation.verdicts.questions[q]!;
    const responses = candidates.questions[q]!.responses;
    const chosen = new Map<number, string[]>();
    for (const [method, picks] of Object.entries(choices)) {
      const pick = picks[position];
      if (pick !== null && pick !== undefined) chosen.set(pick, [...(chosen.get(pick) ?? []), method]);
    }
    const shown = responses.map((_, c) => c).filter((c) => c < maxCandidates || chosen.has(c));
    const bonPick = choices.bon[position];
    return {
      index: q,
      id: question.id,
      text: question.text,
      gold: question.answer,
      totalCandidates: responses.length,
      correctCandidates: verdicts.filter((verdict) => verdict.correct).length,
      bestOfNCorrect: bonPick === null || bonPick === undefined ? null : verdicts[bonPick]!.correct,
      candidates: shown.map((c) => {
        const candidateScores = scores.scores[q]![c]!;
        // An outcome-level file holds one score for the whole candidate and none per step.
        const stepScores = outcome ? [] : candidateScores;
        return {
          index: c,
          modelName: responses[c]!.modelName,
          answer: verdicts[c]!.answer,
          correct: verdicts[c]!.correct,
          steps: responses[c]!.steps,
          stepScores,
          solutionScore: outcome ? candidateScores[0]! : aggregation(candidateScores),
          chosenBy: chosen.get(c) ?? [],
          ...stepTruth(responses[c]!.annotations, responses[c]!.steps.length),
        };
      }),
    };
  });
}

/** The exact per-step labels, Q-values and first mistake a candidate carries, when they fit its steps. */
function stepTruth(
  annotations: { processLabels?: number[]; qValues?: number[] } | undefined,
  steps: number,
): Pick<CandidateDetail, "stepLabels" | "stepQValues" | "firstMistake"> {
  const labels = annotations?.processLabels;
  const qValues = annotations?.qValues;
  const truth: Pick<CandidateDetail, "stepLabels" | "stepQValues" | "firstMistake"> = {};
  if (labels !== undefined && labels.length === steps) {
    truth.stepLabels = labels;
    const first = labels.findIndex((label) => label < 0.5);
    truth.firstMistake = first === -1 ? null : first;
  }
  if (qValues !== undefined && qValues.length === steps) truth.stepQValues = qValues;
  return truth;
}
