import type { Question } from "@pqm/core/reference";
import type { QuestionResult } from "./run-search.js";

/** One node of a tree view: what a report draws. */
export interface TreeViewNode {
  id: number;
  parent: number | null;
  depth: number;
  text: string;
  /** The PRM's step score read as a Q-value (sigmoid of the logit), or null (the root, unscored). */
  q: number | null;
  score: number | null;
  tokens: number;
  terminal: boolean;
  pruned: boolean;
  lookahead: boolean;
  finalAnswer: string | null;
  /** On the path the search chose. */
  chosen: boolean;
  /** The step of the chosen path where its exact first mistake is (arith only). */
  firstMistake: boolean;
  /** The exact truths, where known (arith). */
  exactQ?: number;
  exactLabel?: number;
  /** MCTS statistics. */
  visits?: number;
  prior?: number;
}

/** A question's search as plain data for a report's tree view. */
export interface TreeView {
  questionId: string;
  question: string;
  gold: string | null;
  answer: string | null;
  correct: boolean | null;
  /** The 1-based step of the chosen path's exact first mistake (arith), or null. */
  firstMistake: number | null;
  nodes: TreeViewNode[];
}

/**
 * The tree view of one question's search: every node with its score as a Q-value, the chosen
 * path, and (on arith) the exact truths and the chosen path's first mistake. Children follow their
 * parent in the node list (generation order).
 */
export function searchTreeView(result: QuestionResult, question: Question): TreeView {
  const onPath = new Set<number>();
  for (let id = result.chosen; id !== null && id !== undefined; id = result.nodes[id]?.parent ?? null)
    onPath.add(id);
  const exactQ = result.extra?.exactQ as number[] | undefined;
  const exactLabel = result.extra?.exactLabel as number[] | undefined;
  const firstMistake = (result.extra?.firstMistake as number | null | undefined) ?? null;
  return {
    questionId: result.questionId,
    question: question.text,
    gold: question.answer,
    answer: result.answer,
    correct: result.correct,
    firstMistake,
    nodes: result.nodes.map((node) => ({
      id: node.id,
      parent: node.parent,
      depth: node.depth,
      text: node.text,
      q: node.q,
      score: node.score,
      tokens: node.tokens,
      terminal: node.terminal,
      pruned: node.pruned,
      lookahead: node.lookahead,
      finalAnswer: node.finalAnswer,
      chosen: onPath.has(node.id),
      firstMistake: firstMistake !== null && onPath.has(node.id) && node.depth === firstMistake,
      ...(exactQ === undefined ? {} : { exactQ: exactQ[node.id]! }),
      ...(exactLabel === undefined ? {} : { exactLabel: exactLabel[node.id]! }),
      ...(node.visits === undefined ? {} : { visits: node.visits }),
      ...(node.prior === undefined ? {} : { prior: node.prior }),
    })),
  };
}
