import type { Question } from "@pqm/core/reference";
import type { ArithEnvironment } from "@pqm/data";
import type { SearchNode } from "./search-tree.js";

/** The exact truths of a search tree on the arith environment. */
export interface ArithTreeTruth {
  /** Per node (by id): the exact Q-value of its path (the root: V(x), the chance to solve from scratch). */
  exactQ: number[];
  /** Per node: the exact process label of its step (1 while every step so far is right; the root 1). */
  exactLabel: Array<0 | 1>;
  /** The 1-based step of the chosen path's first mistake, or null when it has none (or none was chosen). */
  firstMistake: number | null;
}

/**
 * Reads a tree against the environment's exact truths: each node's exact Q-value and process
 * label, and where the chosen path first went wrong. Throws like the environment for questions
 * it does not know or steps it cannot parse.
 */
export function arithTreeTruth(
  environment: ArithEnvironment,
  question: Question,
  nodes: readonly SearchNode[],
  chosen: number | null,
): ArithTreeTruth {
  const exactQ: number[] = [];
  const exactLabel: Array<0 | 1> = [];
  const steps: string[][] = [];
  for (const node of nodes) {
    const path = node.parent === null ? [] : [...steps[node.parent]!, node.text];
    steps[node.id] = path;
    if (node.parent === null) {
      exactQ[node.id] = environment.exactValue(question);
      exactLabel[node.id] = 1;
      continue;
    }
    exactQ[node.id] = environment.exactQValue(question, path);
    const parentLabel = exactLabel[node.parent]!;
    exactLabel[node.id] = parentLabel === 0 ? 0 : environment.exactProcessLabels(question, path).at(-1)!;
  }
  let firstMistake: number | null = null;
  if (chosen !== null) {
    const labels = environment.exactProcessLabels(question, steps[chosen]!);
    const at = labels.indexOf(0);
    firstMistake = at < 0 ? null : at + 1;
  }
  return { exactQ, exactLabel, firstMistake };
}
