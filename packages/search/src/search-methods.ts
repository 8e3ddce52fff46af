import type { AnswerDomain, Question } from "@pqm/core/reference";
import { extractGsmAnswer, normalizeMathAnswer } from "@pqm/data";
import type { MeteredScorer } from "./scorers.js";
import type { SearchCompute, SearchNode, SearchSettings } from "./search-tree.js";
import { SearchContext } from "./search-tree.js";
import type { StepPolicy } from "./step-policy.js";

/** The search methods. */
export const searchMethods = ["bon", "weighted-bon", "beam", "dvts", "mcts"] as const;
/** One search method: `bon`, `weighted-bon`, `beam`, `dvts` or `mcts`. */
export type SearchMethod = (typeof searchMethods)[number];

/** What to run on one question. */
export interface SearchSpec extends SearchSettings {
  method: SearchMethod;
  /**
   * The budget: solutions sampled (bon, weighted-bon), paths per step (beam, dvts: N, a multiple of
   * `beamWidth`), or simulations (mcts).
   */
  n: number;
  /** Beam: children per kept path (m; N/m paths are kept). DVTS: children per subtree step (N/m subtrees). MCTS: samples per expansion. Default 4. */
  beamWidth?: number;
  /** Beam only: score each candidate step after rolling it out this many greedy steps (default 0). */
  lookahead?: number;
  /** How the answer is picked among the finished paths: the best path, or a vote weighted by path value (default `best`; `weighted` for weighted-bon). */
  select?: "best" | "weighted";
  /** MCTS: the exploration constant of PUCT (default 1). */
  cPuct?: number;
}

/** The outcome of one question's search. */
export interface SearchOutcome {
  method: SearchMethod;
  /** The chosen final answer, or null when no path stated one. */
  answer: string | null;
  /** The node whose path was chosen, or null when the search produced none. */
  chosen: number | null;
  /** Finished paths (terminal, not lookahead) by their last node, in generation order. */
  candidates: number[];
  /** True when no path finished and the chosen one is cut at `maxSteps`. */
  unfinished: boolean;
  nodes: SearchNode[];
  compute: SearchCompute;
}

/** Checks a spec; throws a RangeError naming the field. */
export function validateSearchSpec(spec: SearchSpec): void {
  if (!(searchMethods as readonly string[]).includes(spec.method)) {
    throw new RangeError(`unknown method '${spec.method}' (known: ${searchMethods.join(", ")})`);
  }
  if (!Number.isInteger(spec.n) || spec.n < 1)
    throw new RangeError(`n must be a positive integer, got ${spec.n}`);
  const m = spec.beamWidth ?? 4;
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`beamWidth must be a positive integer, got ${m}`);
  if ((spec.method === "beam" || spec.method === "dvts") && (spec.n % m !== 0 || spec.n < m)) {
    throw new RangeError(
      `${spec.method}: n (${spec.n}) must be a positive multiple of the beam width (${m})`,
    );
  }
  const lookahead = spec.lookahead ?? 0;
  if (!Number.isInteger(lookahead) || lookahead < 0)
    throw new RangeError(`lookahead must be an integer >= 0, got ${lookahead}`);
  if (lookahead > 0 && spec.method !== "beam") throw new RangeError("lookahead applies to beam search only");
  if (spec.cPuct !== undefined && !(spec.cPuct >= 0))
    throw new RangeError(`cPuct must be >= 0, got ${spec.cPuct}`);
  if (spec.select !== undefined && spec.select !== "best" && spec.select !== "weighted") {
    throw new RangeError(`select must be best or weighted, got ${String(spec.select)}`);
  }
}

/**
 * Runs one search on one question: the policy proposes steps, the scorer scores them, the method
 * decides what to keep; returns the answer, the whole tree and the compute spent.
 */
export async function searchQuestion(
  question: Question,
  policy: StepPolicy,
  scorer: MeteredScorer,
  spec: SearchSpec,
): Promise<SearchOutcome> {
  validateSearchSpec(spec);
  const context = new SearchContext(question, policy, scorer, spec);
  const m = spec.beamWidth ?? 4;
  let leftovers: SearchNode[] = [];
  switch (spec.method) {
    case "bon":
    case "weighted-bon":
      await bestOfN(context, spec.n);
      break;
    case "beam":
      leftovers = await beamSearch(context, spec.n, m, spec.lookahead ?? 0);
      break;
    case "dvts":
      leftovers = await dvts(context, spec.n, m);
      break;
    case "mcts":
      await mcts(context, spec.n, m, spec.cPuct ?? 1);
      break;
  }
  const select = spec.select ?? (spec.method === "weighted-bon" ? "weighted" : "best");
  return conclude(context, spec.method, select, leftovers);
}

/** Best-of-n: n whole solutions from the policy, every step scored in one PRM call. */
async function bestOfN(context: SearchContext, n: number): Promise<void> {
  const leaves = await context.complete(context.root, n);
  await context.score(leaves);
}

function byValueDescending(context: SearchContext): (a: SearchNode, b: SearchNode) => number {
  return (a, b) => context.value(b) - context.value(a) || a.id - b.id;
}

/**
 * Step-level beam search: N samples per step, spread evenly over the kept paths (m each while N/m
 * are kept), all scored in one PRM call; finished steps leave the beam, the best N/m open ones
 * stay. With lookahead k, each open candidate is rolled out k greedy steps first and ranked by its
 * deepest lookahead step. Returns the paths still open when `maxSteps` stopped it.
 */
async function beamSearch(
  context: SearchContext,
  n: number,
  m: number,
  lookahead: number,
): Promise<SearchNode[]> {
  const keep = n / m;
  let active: SearchNode[] = [context.root];
  while (active.length > 0) {
    if (active.every((node) => node.depth >= context.maxSteps)) return active;
    const counts = spread(n, active.length);
    const children = (await context.extend(active, counts)).flat();
    const open = children.filter((child) => !child.terminal);
    const rankBy = new Map<SearchNode, SearchNode>();
    if (lookahead > 0 && open.length > 0) {
      // Every candidate keeps its deepest tip, also one whose rollout finished before k steps.
      const frontier = open.map((child) => ({ child, tip: child }));
      for (let step = 0; step < lookahead; step++) {
        const going = frontier.filter((f) => !f.tip.terminal && f.tip.depth < context.maxSteps);
        if (going.length === 0) break;
        const next = await context.extend(
          going.map((f) => f.tip),
          going.map(() => 1),
          { temperature: 0, lookahead: true },
        );
        going.forEach((f, i) => {
          const tip = next[i]?.[0];
          if (tip !== undefined) f.tip = tip;
        });
      }
      for (const child of open) rankBy.set(child, child);
      for (const f of frontier) rankBy.set(f.child, f.tip);
    }
    await context.score([...children, ...rankBy.values()]);
    if (open.length === 0) return [];
    const rank = (node: SearchNode) => context.value(rankBy.get(node) ?? node);
    const ranked = [...open].sort((a, b) => rank(b) - rank(a) || a.id - b.id);
    for (const pruned of ranked.slice(keep)) pruned.pruned = true;
    active = ranked.slice(0, keep);
  }
  return [];
}

/**
 * Diverse verifier tree search: N/m independent subtrees under the root; each step, every open
 * subtree samples m children and continues from its best one (all scored in one PRM call). A
 * subtree ends when its best child ends the solution.
 */
async function dvts(context: SearchContext, n: number, m: number): Promise<SearchNode[]> {
  let tips: SearchNode[] = Array.from({ length: n / m }, () => context.root);
  while (tips.length > 0) {
    if (tips.every((tip) => tip.depth >= context.maxSteps)) return tips;
    const children = await context.extend(
      tips,
      tips.map(() => m),
    );
    await context.score(children.flat());
    const next: SearchNode[] = [];
    children.forEach((siblings) => {
      if (siblings.length === 0) return;
      const ranked = [...siblings].sort(byValueDescending(context));
      for (const sibling of ranked.slice(1)) if (!sibling.terminal) sibling.pruned = true;
      const best = ranked[0]!;
      if (!best.terminal) next.push(best);
    });
    tips = next;
  }
  return [];
}

/**
 * MCTS with PUCT. A node's value starts at its PRM step score read as a Q-value (sigmoid of the
 * logit) and averages in every value backed up through it; its prior is the share of its parent's
 * expansion samples that wrote it (identical samples are merged). Each simulation descends by
 * `value + cPuct * prior * sqrt(parent visits) / (1 + visits)` to a leaf; an open leaf is expanded
 * with m samples, scored, and backs up its expected value `sum prior * Q` ; a finished leaf backs up
 * its own Q. After n simulations the answer is chosen among the finished paths found; when none
 * was found, the most visited path is completed by one rollout.
 */
async function mcts(context: SearchContext, simulations: number, m: number, cPuct: number): Promise<void> {
  const children = new Map<number, SearchNode[]>();
  const value = (node: SearchNode) => ((node.q ?? 0) + (node.valueSum ?? 0)) / (1 + (node.visits ?? 0));
  context.root.visits = 0;
  context.root.valueSum = 0;
  for (let simulation = 0; simulation < simulations; simulation++) {
    const path: SearchNode[] = [context.root];
    let node = context.root;
    for (
      let kids = children.get(node.id);
      kids !== undefined && kids.length > 0;
      kids = children.get(node.id)
    ) {
      const parentVisits = node.visits ?? 0;
      let best = kids[0]!;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (const kid of kids) {
        const score =
          value(kid) + (cPuct * (kid.prior ?? 0) * Math.sqrt(parentVisits)) / (1 + (kid.visits ?? 0));
        if (score > bestScore) {
          bestScore = score;
          best = kid;
        }
      }
      node = best;
      path.push(node);
    }
    let backup: number;
    if (node.terminal || node.depth >= context.maxSteps) {
      backup = node.q ?? 0;
    } else {
      const [merged = []] = await context.extend([node], [m], { merge: true });
      for (const kid of merged) {
        kid.visits = 0;
        kid.valueSum = 0;
      }
      children.set(node.id, merged);
      await context.score(merged);
      backup = merged.reduce((sum, kid) => sum + (kid.prior ?? 0) * (kid.q ?? 0), 0);
    }
    for (const visited of path) {
      visited.visits = (visited.visits ?? 0) + 1;
      visited.valueSum = (visited.valueSum ?? 0) + backup;
    }
  }
  if (!context.nodes.some((node) => node.terminal && !node.lookahead)) {
    // No finished path: follow the most visited children down, then finish that path by one rollout.
    let node = context.root;
    for (
      let kids = children.get(node.id);
      kids !== undefined && kids.length > 0;
      kids = children.get(node.id)
    ) {
      node = [...kids].sort(
        (a, b) => (b.visits ?? 0) - (a.visits ?? 0) || value(b) - value(a) || a.id - b.id,
      )[0]!;
    }
    if (!node.terminal && node.depth < context.maxSteps) {
      const leaves = await context.complete(node, 1);
      await context.score(leaves);
    }
  }
}

// n samples over k parents as evenly as possible, the first ones getting the remainder.
function spread(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

/** A key under which equal final answers group (numbers for GSM, normalised LaTeX for MATH). */
export function answerKey(answer: string | null, domain: AnswerDomain): string | null {
  if (answer === null) return null;
  if (domain === "gsm") return extractGsmAnswer(answer) ?? answer.trim();
  return normalizeMathAnswer(answer);
}

function conclude(
  context: SearchContext,
  method: SearchSpec["method"],
  select: "best" | "weighted",
  leftovers: SearchNode[],
): SearchOutcome {
  const candidates = context.nodes.filter((node) => node.terminal && !node.lookahead);
  const pool = candidates.length > 0 ? candidates : leftovers;
  let chosen: SearchNode | undefined;
  if (select === "weighted") {
    const groups = new Map<string, { weight: number; best: SearchNode }>();
    for (const node of pool) {
      const key = answerKey(node.finalAnswer, context.question.domain);
      if (key === null) continue;
      const group = groups.get(key);
      const weight = context.probability(node);
      if (group === undefined) groups.set(key, { weight, best: node });
      else {
        group.weight += weight;
        if (byValueDescending(context)(node, group.best) < 0) group.best = node;
      }
    }
    let top: { weight: number; best: SearchNode } | undefined;
    for (const group of groups.values()) {
      if (
        top === undefined ||
        group.weight > top.weight ||
        (group.weight === top.weight && group.best.id < top.best.id)
      )
        top = group;
    }
    chosen = top?.best;
  }
  chosen ??= [...pool].sort(byValueDescending(context))[0];
  return {
    method,
    answer: chosen?.finalAnswer ?? null,
    chosen: chosen?.id ?? null,
    candidates: candidates.map((node) => node.id),
    unfinished: candidates.length === 0,
    nodes: context.nodes,
    compute: context.finish(),
  };
}
