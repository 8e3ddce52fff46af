import type { AggregationName, Question, Step } from "@pqm/core/reference";
import { deriveSeed, getAggregation, sigmoid } from "@pqm/core/reference";
import type { MeteredScorer, ScorerSpend } from "./scorers.js";
import type { StepPolicy, StepProposal, StepStop } from "./step-policy.js";

/** One node of a search tree: a step written after its parent's path (the root holds no step). */
export interface SearchNode {
  id: number;
  /** The parent's id; null at the root. */
  parent: number | null;
  /** Steps from the root (the root is 0, its children 1). */
  depth: number;
  /** The step's text ("" at the root). */
  text: string;
  /** What the policy generated, delimiter restored. */
  raw: string;
  /** Tokens generated for this node (all merged samples, for an MCTS node). */
  tokens: number;
  stop: StepStop | null;
  terminal: boolean;
  finalAnswer: string | null;
  /** The PRM's raw score (logit) of this step, once scored. */
  score: number | null;
  /** `sigmoid(score)`: the step's score read as a Q-value in [0, 1]. */
  q: number | null;
  /** Generated only to look ahead (never a candidate, never kept). */
  lookahead: boolean;
  /** Pruned by the search (not kept at its level). */
  pruned: boolean;
  /** The policy call that generated it (0-based, per question). */
  call: number;
  /** When it was generated and scored, ms after the search of its question began. */
  generatedAt: number;
  scoredAt: number | null;
  /** MCTS: the share of the expansion's samples that wrote this step (the prior). */
  prior?: number;
  /** MCTS: identical samples merged into this node. */
  samples?: number;
  /** MCTS: visits and the sum of backed-up values. */
  visits?: number;
  valueSum?: number;
}

/** Compute spent by one search. */
export interface SearchCompute {
  /** Tokens the policy generated (every node, lookahead and pruned ones included). */
  generatedTokens: number;
  /** Prompt tokens the policy read, as reported. */
  promptTokens: number;
  /** Policy calls (HTTP requests for a server policy). */
  policyCalls: number;
  /** `scoreSteps` calls. */
  prmCalls: number;
  /** Trajectories scored. */
  scoredTrajectories: number;
  /** Tokens the PRM read. */
  scoredTokens: number;
  /** Nodes generated. */
  nodes: number;
  /** Wall time waiting for the policy, for the PRM, and in all, ms. */
  policyMs: number;
  prmMs: number;
  totalMs: number;
}

/** Options every search method shares. */
export interface SearchSettings {
  /** Step-score aggregation for ranking paths and picking the answer (default `last`). */
  aggregation?: "last" | "min" | "prod";
  /** Longest solution in steps; longer paths end unfinished (default 32). */
  maxSteps?: number;
  /** Keys every policy call's randomness (default 0). */
  seed?: number;
  signal?: AbortSignal;
}

const aggregationOf: Record<"last" | "min" | "prod", AggregationName> = {
  last: "last",
  min: "min",
  prod: "prod-sigmoid",
};

/**
 * The shared state of one question's search: the tree, the compute counters, and the policy and
 * scorer calls every method is built from.
 */
export class SearchContext {
  readonly question: Question;
  readonly policy: StepPolicy;
  readonly scorer: MeteredScorer;
  readonly nodes: SearchNode[] = [];
  readonly aggregation: "last" | "min" | "prod";
  readonly maxSteps: number;
  readonly seed: number;
  readonly signal: AbortSignal | undefined;
  readonly #aggregate: (scores: readonly number[]) => number;
  readonly #started = performance.now();
  #calls = 0;
  readonly compute: SearchCompute = {
    generatedTokens: 0,
    promptTokens: 0,
    policyCalls: 0,
    prmCalls: 0,
    scoredTrajectories: 0,
    scoredTokens: 0,
    nodes: 0,
    policyMs: 0,
    prmMs: 0,
    totalMs: 0,
  };

  constructor(question: Question, policy: StepPolicy, scorer: MeteredScorer, settings: SearchSettings = {}) {
    this.question = question;
    this.policy = policy;
    this.scorer = scorer;
    this.aggregation = settings.aggregation ?? "last";
    if (!(this.aggregation in aggregationOf)) {
      throw new RangeError(`unknown aggregation '${this.aggregation}' (known: last, min, prod)`);
    }
    this.#aggregate = getAggregation(aggregationOf[this.aggregation]);
    this.maxSteps = settings.maxSteps ?? 32;
    if (!Number.isInteger(this.maxSteps) || this.maxSteps < 1) throw new RangeError("maxSteps must be >= 1");
    this.seed = settings.seed ?? 0;
    this.signal = settings.signal;
    this.nodes.push({
      id: 0,
      parent: null,
      depth: 0,
      text: "",
      raw: "",
      tokens: 0,
      stop: null,
      terminal: false,
      finalAnswer: null,
      score: null,
      q: null,
      lookahead: false,
      pruned: false,
      call: -1,
      generatedAt: 0,
      scoredAt: null,
    });
  }

  get root(): SearchNode {
    return this.nodes[0]!;
  }

  /** ms since this search began. */
  now(): number {
    return performance.now() - this.#started;
  }

  node(id: number): SearchNode {
    const node = this.nodes[id];
    if (node === undefined) throw new RangeError(`no node ${id}`);
    return node;
  }

  /** The nodes from the root's first child down to `node`. */
  pathNodes(node: SearchNode): SearchNode[] {
    const path: SearchNode[] = [];
    for (
      let at: SearchNode | undefined = node;
      at !== undefined && at.parent !== null;
      at = this.nodes[at.parent]
    ) {
      path.push(at);
    }
    return path.reverse();
  }

  /** The steps of the path to `node`. */
  steps(node: SearchNode): Step[] {
    return this.pathNodes(node).map((n) => n.text);
  }

  /** The path's step scores aggregated (higher is better); -Infinity while a step is unscored. */
  value(node: SearchNode): number {
    const scores = this.pathNodes(node).map((n) => n.score);
    if (scores.length === 0 || scores.some((s) => s === null || Number.isNaN(s)))
      return Number.NEGATIVE_INFINITY;
    return this.#aggregate(scores as number[]);
  }

  /** The path's value as a probability in [0, 1] (the weight of a weighted vote). */
  probability(node: SearchNode): number {
    const value = this.value(node);
    if (value === Number.NEGATIVE_INFINITY) return 0;
    return this.aggregation === "prod" ? value : sigmoid(value);
  }

  #seedFor(call: number): number {
    return deriveSeed(this.seed, "search", this.question.id, call);
  }

  /**
   * Extends each parent by `counts[i]` one-step samples, all requests in flight at once; returns
   * the new nodes, parent by parent. A path at `maxSteps` is not extended (its children would be
   * too long): such a parent gets no children.
   */
  async extend(
    parents: readonly SearchNode[],
    counts: readonly number[],
    options: { temperature?: number; lookahead?: boolean; merge?: boolean } = {},
  ): Promise<SearchNode[][]> {
    this.signal?.throwIfAborted();
    const calls = parents.map((parent, i) => {
      const k = counts[i] ?? 0;
      if (k < 1 || parent.terminal || parent.depth >= this.maxSteps) return null;
      const call = this.#calls++;
      return { parent, k, call, seed: this.#seedFor(call) };
    });
    const started = performance.now();
    const batches = await Promise.all(
      calls.map((c) =>
        c === null
          ? null
          : this.policy.extend(this.question, this.steps(c.parent), {
              k: c.k,
              seed: c.seed,
              ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
              ...(this.signal === undefined ? {} : { signal: this.signal }),
            }),
      ),
    );
    this.compute.policyMs += performance.now() - started;
    const at = this.now();
    return batches.map((batch, i) => {
      const c = calls[i];
      if (batch === null || c === null || c === undefined) return [];
      this.compute.policyCalls += batch.calls;
      this.compute.promptTokens += batch.promptTokens;
      if (!options.merge) {
        return batch.proposals.map((proposal) =>
          this.addNode(c.parent, proposal, c.call, at, options.lookahead ?? false),
        );
      }
      // Identical samples become one node: `samples` counts them, `prior` is their share, tokens add up.
      const byText = new Map<string, SearchNode>();
      for (const proposal of batch.proposals) {
        const known = byText.get(proposal.text);
        if (known === undefined) {
          const node = this.addNode(c.parent, proposal, c.call, at, options.lookahead ?? false);
          node.samples = 1;
          byText.set(proposal.text, node);
        } else {
          known.samples = (known.samples ?? 1) + 1;
          known.tokens += proposal.tokens;
          this.compute.generatedTokens += proposal.tokens;
        }
      }
      const merged = [...byText.values()];
      for (const node of merged) node.prior = (node.samples ?? 1) / batch.proposals.length;
      return merged;
    });
  }

  /** `k` whole solutions after `parent` as chains of nodes; returns each chain's last node. */
  async complete(parent: SearchNode, k: number): Promise<SearchNode[]> {
    this.signal?.throwIfAborted();
    const call = this.#calls++;
    const started = performance.now();
    const batch = await this.policy.complete(this.question, this.steps(parent), {
      k,
      seed: this.#seedFor(call),
      ...(this.signal === undefined ? {} : { signal: this.signal }),
    });
    this.compute.policyMs += performance.now() - started;
    this.compute.policyCalls += batch.calls;
    this.compute.promptTokens += batch.promptTokens;
    const at = this.now();
    return batch.rollouts.map((rollout) => {
      let node = parent;
      for (const step of rollout.steps) {
        if (node.depth >= this.maxSteps) break;
        node = this.addNode(node, step, call, at, false);
      }
      return node;
    });
  }

  /** Adds a generated node (and counts its tokens). */
  addNode(
    parent: SearchNode,
    proposal: StepProposal,
    call: number,
    at: number,
    lookahead: boolean,
  ): SearchNode {
    const node: SearchNode = {
      id: this.nodes.length,
      parent: parent.id,
      depth: parent.depth + 1,
      text: proposal.text,
      raw: proposal.raw,
      tokens: proposal.tokens,
      stop: proposal.stop,
      terminal: proposal.terminal,
      finalAnswer: proposal.finalAnswer,
      score: null,
      q: null,
      lookahead,
      pruned: false,
      call,
      generatedAt: at,
      scoredAt: null,
    };
    this.nodes.push(node);
    this.compute.nodes += 1;
    this.compute.generatedTokens += proposal.tokens;
    return node;
  }

  /**
   * Scores the paths to `nodes` in one PRM call and records every step score on its node (a path's
   * earlier steps too, where still unscored). Nodes already scored along with their whole path are
   * not sent again.
   */
  async score(nodes: readonly SearchNode[]): Promise<void> {
    this.signal?.throwIfAborted();
    const pending = [...new Set(nodes)].filter((node) => node.score === null && node.parent !== null);
    if (pending.length === 0) return;
    const paths = pending.map((node) => this.pathNodes(node));
    const spend: ScorerSpend = { calls: 0, trajectories: 0, tokens: 0, ms: 0 };
    const scores = await this.scorer.score(
      paths.map((path) => ({ question: this.question, steps: path.map((n) => n.text) })),
      spend,
    );
    this.compute.prmCalls += spend.calls;
    this.compute.scoredTrajectories += spend.trajectories;
    this.compute.scoredTokens += spend.tokens;
    this.compute.prmMs += spend.ms;
    const at = this.now();
    paths.forEach((path, i) => {
      path.forEach((node, t) => {
        if (node.score !== null) return;
        const score = scores[i]![t]!;
        node.score = score;
        node.q = Number.isNaN(score) ? null : sigmoid(score);
        node.scoredAt = at;
      });
    });
  }

  /** Freezes the counters' total time. */
  finish(): SearchCompute {
    this.compute.totalMs = this.now();
    return { ...this.compute };
  }
}
