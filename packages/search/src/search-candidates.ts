import type { Question } from "@pqm/core/reference";
import type { CandidateSet } from "@pqm/data";
import { writeCandidates } from "@pqm/data";
import type { QuestionResult } from "./run-search.js";
import type { SearchNode } from "./search-tree.js";

/** A run's finished paths as best-of-n candidates, with their step scores. */
export interface SearchCandidates {
  /** One set per question, in question order (the PQM release layout once written). */
  sets: CandidateSet[];
  /** `scores[question][candidate][step]`: the search's PRM scores (logits), as a `pqm-scores/1` file holds them. */
  scores: number[][][];
}

function pathOf(nodes: readonly SearchNode[], id: number): SearchNode[] {
  const path: SearchNode[] = [];
  for (let node = nodes[id]; node !== undefined && node.parent !== null; node = nodes[node.parent])
    path.push(node);
  return path.reverse();
}

/**
 * The finished paths of every question (its candidates; when none finished, the chosen path) as
 * candidate sets: text as `Step k: ...` lines, the steps themselves, and, where the results carry
 * the arith truths, exact process labels and Q-values per step. The scores are the ones the search
 * saw, so `pqm eval bon` on these files re-ranks exactly what the search ranked. Throws when a
 * question has no path at all or a step was never scored.
 */
export function searchCandidates(
  results: readonly QuestionResult[],
  questions: readonly Question[],
  modelName: string,
): SearchCandidates {
  const sets: CandidateSet[] = [];
  const scores: number[][][] = [];
  results.forEach((result, index) => {
    const question = questions[result.index];
    if (question === undefined)
      throw new RangeError(`result ${index}: no question at position ${result.index}`);
    const ids =
      result.candidates.length > 0 ? result.candidates : result.chosen === null ? [] : [result.chosen];
    if (ids.length === 0) throw new Error(`question ${result.questionId}: the search produced no path`);
    const exactQ = result.extra?.exactQ as number[] | undefined;
    const exactLabel = result.extra?.exactLabel as number[] | undefined;
    const questionScores: number[][] = [];
    sets.push({
      index,
      question: question.text,
      responses: ids.map((id) => {
        const path = pathOf(result.nodes, id);
        const steps = path.map((node) => node.text);
        questionScores.push(
          path.map((node) => {
            if (node.score === null)
              throw new Error(`question ${result.questionId}: node ${node.id} was never scored`);
            return node.score;
          }),
        );
        return {
          text: steps.map((step, i) => `Step ${i + 1}: ${step}`).join("\n"),
          modelName,
          steps,
          ...(exactQ !== undefined && exactLabel !== undefined
            ? {
                annotations: {
                  steps,
                  processLabels: path.map((node) => exactLabel[node.id]!),
                  qValues: path.map((node) => exactQ[node.id]!),
                },
              }
            : { annotations: { steps } }),
        };
      }),
    });
    scores.push(questionScores);
  });
  return { sets, scores };
}

/** Writes the candidate sets in the PQM release format (what `pqm eval bon --candidates` reads). */
export async function writeSearchCandidates(path: string, candidates: SearchCandidates): Promise<number> {
  return writeCandidates(path, candidates.sets);
}
