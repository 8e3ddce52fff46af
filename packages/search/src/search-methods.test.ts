import { createHash } from "node:crypto";
import type { Scorer, Trajectory } from "@pqm/core/reference";
import { sigmoid } from "@pqm/core/reference";
import { ArithEnvironment, countWords } from "@pqm/data";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArithStepPolicy } from "./arith-step-policy.js";
import { arithTreeTruth } from "./arith-tree-truth.js";
import { countTrajectoryWords, ExactQScorer, MeteredScorer } from "./scorers.js";
import { answerKey, type SearchOutcome, type SearchSpec, searchQuestion } from "./search-methods.js";
import type { SearchNode } from "./search-tree.js";

// Short problems and frequent mistakes, so trees have both right and wrong steps.
const environment = new ArithEnvironment({
  seed: 2,
  problems: { minSteps: 3, maxSteps: 5, minNumber: 2, maxNumber: 20, maxResult: 200 },
  policy: { errorRate: 0.3 },
});
const questions = environment.testQuestions(30);
const policy = new ArithStepPolicy(environment);
const oracle = new MeteredScorer(new ExactQScorer(environment));

/** A scorer with no idea of arithmetic: each step's score is a hash of the path, in [-3, 3]. */
class HashScorer implements Scorer {
  readonly name = "hash";
  async scoreSteps(trajectories: readonly Trajectory[]): Promise<number[][]> {
    return trajectories.map((t) =>
      t.steps.map((_, i) => {
        const digest = createHash("sha256")
          .update(`${t.question.id}\n${t.steps.slice(0, i + 1).join("\n")}`)
          .digest();
        return (digest.readUInt32BE(0) / 2 ** 32) * 6 - 3;
      }),
    );
  }
}
const hashScorer = new MeteredScorer(new HashScorer());

const children = (outcome: SearchOutcome) => {
  const byParent = new Map<number, SearchNode[]>();
  for (const node of outcome.nodes) {
    if (node.parent === null) continue;
    byParent.set(node.parent, [...(byParent.get(node.parent) ?? []), node]);
  }
  return byParent;
};
const atDepth = (outcome: SearchOutcome, depth: number) =>
  outcome.nodes.filter((node) => node.depth === depth && !node.lookahead);
// With the default aggregation ("last"), a path's value is its last step's score.
const pathValue = (node: SearchNode) => node.score!;

function expectExactCompute(outcome: SearchOutcome): void {
  const generated = outcome.nodes.filter((node) => node.parent !== null);
  expect(outcome.compute.generatedTokens).toBe(generated.reduce((sum, node) => sum + node.tokens, 0));
  expect(outcome.compute.nodes).toBe(generated.length);
  // The arith policy makes one call per extend or complete request.
  expect(outcome.compute.policyCalls).toBe(new Set(generated.map((node) => node.call)).size);
  expect(generated.every((node) => node.score !== null && node.q === sigmoid(node.score))).toBe(true);
}

const arbitraryBeam = fc.record({
  question: fc.integer({ min: 0, max: questions.length - 1 }),
  seed: fc.integer({ min: 0, max: 1000 }),
  m: fc.constantFrom(1, 2, 4),
  keep: fc.constantFrom(1, 2, 4),
});

describe("beam search", () => {
  it("samples N steps per iteration, keeps the best N/m open ones and gives each kept path m children", async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryBeam, async ({ question, seed, m, keep }) => {
        const n = m * keep;
        const outcome = await searchQuestion(questions[question]!, policy, hashScorer, {
          method: "beam",
          n,
          beamWidth: m,
          seed,
        });
        const byParent = children(outcome);
        let prmCalls = 0;
        for (let depth = 1; atDepth(outcome, depth).length > 0; depth++) {
          prmCalls += 1;
          const level = atDepth(outcome, depth);
          expect(level).toHaveLength(n);
          const open = level.filter((node) => !node.terminal);
          const kept = open.filter((node) => !node.pruned);
          expect(kept).toHaveLength(Math.min(keep, open.length));
          // Everything kept ranks at or above everything pruned.
          const pruned = open.filter((node) => node.pruned);
          if (kept.length > 0 && pruned.length > 0) {
            const worstKept = Math.min(...kept.map((node) => pathValue(node)));
            expect(Math.max(...pruned.map((node) => pathValue(node)))).toBeLessThanOrEqual(worstKept);
          }
          const next = atDepth(outcome, depth + 1);
          if (next.length > 0) {
            // Only kept paths are extended, N samples spread evenly: m each when N/m are kept.
            expect(next.every((node) => kept.some((k) => k.id === node.parent))).toBe(true);
            for (const parent of kept) {
              const count = byParent.get(parent.id)?.length ?? 0;
              if (kept.length === keep) expect(count).toBe(m);
              else expect(count).toBeGreaterThanOrEqual(Math.floor(n / kept.length));
            }
          }
        }
        expect(outcome.compute.prmCalls).toBe(prmCalls);
        expect(outcome.compute.scoredTrajectories).toBe(outcome.nodes.length - 1);
        expectExactCompute(outcome);
        // Candidates are exactly the finished steps.
        expect(outcome.candidates).toEqual(
          outcome.nodes.filter((node) => node.terminal).map((node) => node.id),
        );
        expect(outcome.candidates).toContain(outcome.chosen);
      }),
      { numRuns: 25 },
    );
  });

  // A wrong step can keep a chance of reaching the gold answer (a later slip may cancel it), so an
  // oracle of exact Q-values may rightly keep a wrong step of Q 0.2 over a right one of Q 0.1 elsewhere in
  // the beam: what it guarantees is the ordering by exact Q (up to the scorer's clamp at 1e-9).
  it("guided by the exact-Q oracle, never prunes an open step of higher exact Q than one it keeps", async () => {
    const clamped = (q: number) => Math.min(Math.max(q, 1e-9), 1 - 1e-9);
    await fc.assert(
      fc.asyncProperty(arbitraryBeam, async ({ question, seed, m, keep }) => {
        const asked = questions[question]!;
        const outcome = await searchQuestion(asked, policy, oracle, {
          method: "beam",
          n: m * keep,
          beamWidth: m,
          seed,
        });
        const truth = arithTreeTruth(environment, asked, outcome.nodes, outcome.chosen);
        for (let depth = 1; atDepth(outcome, depth).length > 0; depth++) {
          const open = atDepth(outcome, depth).filter((node) => !node.terminal);
          const kept = open.filter((node) => !node.pruned).map((node) => clamped(truth.exactQ[node.id]!));
          const pruned = open.filter((node) => node.pruned).map((node) => clamped(truth.exactQ[node.id]!));
          if (kept.length > 0 && pruned.length > 0)
            expect(Math.min(...kept)).toBeGreaterThanOrEqual(Math.max(...pruned) - 1e-12);
        }
        // The oracle's answer is right whenever some finished path is.
        const anyRight = outcome.candidates.some((id) => outcome.nodes[id]!.finalAnswer === asked.answer);
        expect(outcome.answer === asked.answer).toBe(anyRight);
      }),
      { numRuns: 25 },
    );
  });

  it("with lookahead k, ranks each open step by its greedy rollout's last score and never keeps a lookahead node", async () => {
    const asked = questions[3]!;
    const outcome = await searchQuestion(asked, policy, hashScorer, {
      method: "beam",
      n: 8,
      beamWidth: 2,
      lookahead: 2,
      seed: 1,
    });
    const lookahead = outcome.nodes.filter((node) => node.lookahead);
    expect(lookahead.length).toBeGreaterThan(0);
    expect(lookahead.every((node) => !node.pruned && !outcome.candidates.includes(node.id))).toBe(true);
    const byParent = children(outcome);
    // Each lookahead node has at most one lookahead child (a single greedy path)
    for (const node of lookahead) expect((byParent.get(node.id) ?? []).length).toBeLessThanOrEqual(1);
    const tipOf = (node: SearchNode): SearchNode => {
      let tip = node;
      for (
        let next = byParent.get(tip.id)?.find((c) => c.lookahead);
        next;
        next = byParent.get(tip.id)?.find((c) => c.lookahead)
      )
        tip = next;
      return tip;
    };
    for (let depth = 1; atDepth(outcome, depth).length > 0; depth++) {
      const open = atDepth(outcome, depth).filter((node) => !node.terminal);
      const kept = open.filter((node) => !node.pruned);
      const pruned = open.filter((node) => node.pruned);
      if (kept.length === 0 || pruned.length === 0) continue;
      const worstKept = Math.min(...kept.map((node) => tipOf(node).score!));
      expect(Math.max(...pruned.map((node) => tipOf(node).score!))).toBeLessThanOrEqual(worstKept);
    }
    expectExactCompute(outcome);
  });

  it("refuses N that is not a multiple of m, and lookahead outside beam search", async () => {
    await expect(
      searchQuestion(questions[0]!, policy, oracle, { method: "beam", n: 6, beamWidth: 4 }),
    ).rejects.toThrow(/multiple of the beam width/);
    await expect(
      searchQuestion(questions[0]!, policy, oracle, { method: "bon", n: 4, lookahead: 1 }),
    ).rejects.toThrow(/lookahead applies to beam/);
  });
});

describe("best-of-n and weighted best-of-n", () => {
  it("samples n whole solutions in one policy call, scores them in one PRM call and counts every token", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: questions.length - 1 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 0, max: 1000 }),
        async (question, n, seed) => {
          const asked = questions[question]!;
          const outcome = await searchQuestion(asked, policy, hashScorer, { method: "bon", n, seed });
          expect(outcome.candidates).toHaveLength(n);
          expect(outcome.compute).toMatchObject({ policyCalls: 1, prmCalls: 1, scoredTrajectories: n });
          // Tokens are the words of each solution as 'Step k: ...' lines.
          let words = 0;
          let scoredWords = 0;
          for (const id of outcome.candidates) {
            const path: SearchNode[] = [];
            for (
              let node = outcome.nodes[id];
              node && node.parent !== null;
              node = outcome.nodes[node.parent]
            )
              path.unshift(node);
            words += countWords(path.map((node, i) => `Step ${i + 1}: ${node.text}`).join("\n"));
            scoredWords += countTrajectoryWords({ question: asked, steps: path.map((node) => node.text) });
          }
          expect(outcome.compute.generatedTokens).toBe(words);
          expect(outcome.compute.scoredTokens).toBe(scoredWords);
          expectExactCompute(outcome);
          // The chosen path has the best last-step score.
          const best = Math.max(...outcome.candidates.map((id) => outcome.nodes[id]!.score!));
          expect(outcome.nodes[outcome.chosen!]!.score).toBe(best);
        },
      ),
      { numRuns: 20 },
    );
  });

  it("weighted best-of-n picks the answer with the largest sum of sigmoid(path score)", async () => {
    for (const [i, asked] of questions.slice(0, 10).entries()) {
      const outcome = await searchQuestion(asked, policy, hashScorer, {
        method: "weighted-bon",
        n: 16,
        seed: i,
      });
      const weights = new Map<string, number>();
      for (const id of outcome.candidates) {
        const node = outcome.nodes[id]!;
        const key = answerKey(node.finalAnswer, "gsm")!;
        weights.set(key, (weights.get(key) ?? 0) + sigmoid(node.score!));
      }
      const top = Math.max(...weights.values());
      expect(weights.get(answerKey(outcome.answer, "gsm")!)).toBe(top);
    }
  });
});

describe("DVTS", () => {
  it("grows N/m independent subtrees, each continuing from the best of its m children", async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryBeam, async ({ question, seed, m, keep }) => {
        const n = m * keep;
        const outcome = await searchQuestion(questions[question]!, policy, hashScorer, {
          method: "dvts",
          n,
          beamWidth: m,
          seed,
        });
        const byParent = children(outcome);
        expect(byParent.get(0)).toHaveLength(n);
        // Siblings come in groups of m from one call; the one expanded further is the best of its group.
        const groups = new Map<number, SearchNode[]>();
        for (const node of outcome.nodes.slice(1))
          groups.set(node.call, [...(groups.get(node.call) ?? []), node]);
        for (const group of groups.values()) {
          expect(group).toHaveLength(m);
          const expanded = group.filter((node) => byParent.has(node.id));
          expect(expanded.length).toBeLessThanOrEqual(1);
          if (expanded.length === 1) {
            expect(expanded[0]!.score).toBe(Math.max(...group.map((node) => node.score!)));
          }
        }
        expect(groups.size).toBe(outcome.compute.policyCalls);
        expectExactCompute(outcome);
      }),
      { numRuns: 20 },
    );
  });
});

describe("MCTS", () => {
  it("backs up one value per simulation; priors are shares of m samples; every token counted", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: questions.length - 1 }),
        fc.integer({ min: 1, max: 24 }),
        fc.constantFrom(1, 2, 4, 8),
        fc.integer({ min: 0, max: 1000 }),
        async (question, simulations, m, seed) => {
          const outcome = await searchQuestion(questions[question]!, policy, oracle, {
            method: "mcts",
            n: simulations,
            beamWidth: m,
            seed,
          });
          const root = outcome.nodes[0]!;
          expect(root.visits).toBe(simulations);
          const byParent = children(outcome);
          for (const node of outcome.nodes) {
            const kids = (byParent.get(node.id) ?? []).filter((kid) => kid.prior !== undefined);
            if (kids.length === 0) continue;
            expect(kids.reduce((sum, kid) => sum + kid.samples!, 0)).toBe(m);
            expect(kids.reduce((sum, kid) => sum + kid.prior!, 0)).toBeCloseTo(1, 12);
            expect(new Set(kids.map((kid) => kid.text)).size).toBe(kids.length);
            // A node is visited at least as often as its children together.
            expect(node.visits!).toBeGreaterThanOrEqual(
              kids.reduce((sum, kid) => sum + (kid.visits ?? 0), 0),
            );
          }
          expectExactCompute(outcome);
          expect(outcome.chosen).not.toBeNull();
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe("every method", () => {
  const specs: SearchSpec[] = [
    { method: "bon", n: 8 },
    { method: "weighted-bon", n: 8 },
    { method: "beam", n: 8, beamWidth: 2, lookahead: 1 },
    { method: "dvts", n: 8, beamWidth: 2 },
    { method: "mcts", n: 8, beamWidth: 4 },
  ];
  it("repeats itself for the same seed (trees equal but for timings)", async () => {
    const strip = (outcome: SearchOutcome) =>
      outcome.nodes.map(({ generatedAt: _g, scoredAt: _s, ...rest }) => rest);
    for (const spec of specs) {
      const a = await searchQuestion(questions[5]!, policy, oracle, { ...spec, seed: 3 });
      const b = await searchQuestion(questions[5]!, policy, oracle, { ...spec, seed: 3 });
      expect(strip(b), spec.method).toEqual(strip(a));
      expect(b.answer).toBe(a.answer);
    }
  });

  it("with the oracle, reaches at least the accuracy of a single sample on the same questions", async () => {
    let single = 0;
    const correct = new Map<string, number>();
    for (const [i, asked] of questions.entries()) {
      const one = await searchQuestion(asked, policy, oracle, { method: "bon", n: 1, seed: i });
      if (one.answer === asked.answer) single += 1;
      for (const spec of specs) {
        const outcome = await searchQuestion(asked, policy, oracle, { ...spec, seed: i });
        if (outcome.answer === asked.answer) correct.set(spec.method, (correct.get(spec.method) ?? 0) + 1);
      }
    }
    for (const spec of specs) expect(correct.get(spec.method) ?? 0, spec.method).toBeGreaterThan(single);
  });
});
