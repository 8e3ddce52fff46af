/**
 * The three testable consequences of Theorem 3.5 (see docs/method.md, section 3), as property tests of the
 * reference losses, plus the ordering checker on scores built to respect or break the ordering.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkQValueOrdering } from "../q-value-ordering.js";
import { referenceLoss } from "./reference-losses.js";

/** Hard labels of one trajectory, 1 to 8 steps, any mix (not only monotone). */
const labelsArb = fc.array(fc.constantFrom(0, 1), { minLength: 1, maxLength: 8 });

/**
 * Scores that respect the ordering with neighboring gap `gap`: the k-th correct step (1-based)
 * scores k * gap, the i-th wrong step -i * gap, the anchor 0.
 */
function orderedScores(labels: readonly number[], gap: number): number[] {
  let correct = 0;
  let wrong = 0;
  return labels.map((label) => (label === 1 ? ++correct * gap : -++wrong * gap));
}

describe("Theorem 3.5 properties of the losses", () => {
  it("(1) with ordered scores, the practical loss falls monotonically towards 0 as the gap grows", () => {
    fc.assert(
      fc.property(
        labelsArb,
        fc.double({ min: 0.05, max: 10, noNaN: true }),
        fc.double({ min: 0.05, max: 5, noNaN: true }),
        fc.constantFrom(2, 4, 8),
        (labels, gap, extra, zeta) => {
          const scores = orderedScores(labels, gap);
          expect(checkQValueOrdering({ qValues: scores, labels, anchor: 0 }).holds).toBe(true);
          const smaller = referenceLoss("pqm", [scores], [labels], { zeta });
          const larger = referenceLoss("pqm", [orderedScores(labels, gap + extra)], [labels], { zeta });
          expect(larger).toBeLessThan(smaller);
        },
      ),
      { seed: 1, numRuns: 300 },
    );
    // Towards 0: with a wide gap only eps is left (each term >= ln(1 + eps) ~ 1e-5 at most).
    for (const labels of [
      [1, 1, 0],
      [0, 0],
      [1, 0, 1, 0],
    ]) {
      expect(referenceLoss("pqm", [orderedScores(labels, 60)], [labels])).toBeLessThan(2e-5);
    }
  });

  it("(2) swapping two correct steps' scores so that they descend raises the loss", () => {
    fc.assert(
      fc.property(
        labelsArb.filter((labels) => labels.filter((l) => l === 1).length >= 2),
        fc.double({ min: 0.05, max: 10, noNaN: true }),
        fc.nat(),
        fc.nat(),
        (labels, gap, a, b) => {
          const correct = labels.flatMap((label, i) => (label === 1 ? [i] : []));
          const first = correct[a % correct.length]!;
          const second = correct[b % correct.length]!;
          fc.pre(first !== second);
          const [early, late] = first < second ? [first, second] : [second, first];
          const scores = orderedScores(labels, gap);
          const swapped = scores.slice();
          swapped[early] = scores[late]!;
          swapped[late] = scores[early]!;
          expect(checkQValueOrdering({ qValues: swapped, labels, anchor: 0 }).holds).toBe(false);
          expect(referenceLoss("pqm", [swapped], [labels])).toBeGreaterThan(
            referenceLoss("pqm", [scores], [labels]),
          );
        },
      ),
      { seed: 2, numRuns: 300 },
    );
  });

  it("(3) the practical loss ignores permutations of the wrong steps' scores; the theory loss does not", () => {
    fc.assert(
      fc.property(
        labelsArb.filter((labels) => labels.filter((l) => l === 0).length >= 2),
        fc.array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: 8, maxLength: 8 }),
        fc.nat(),
        (labels, pool, shift) => {
          const scores = labels.map((_, i) => pool[i]!);
          const wrong = labels.flatMap((label, i) => (label === 0 ? [i] : []));
          // A rotation of the wrong steps' scores among the wrong positions.
          const rotated = scores.slice();
          wrong.forEach((position, k) => {
            rotated[position] = scores[wrong[(k + 1 + shift) % wrong.length]!]!;
          });
          for (const name of ["pqm", "pqm-paper"] as const) {
            const original = referenceLoss(name, [scores], [labels]);
            expect(referenceLoss(name, [rotated], [labels])).toBeCloseTo(original, 9);
          }
          // Theory: swap the last two wrong steps (scores u at w1, v at w2). Only w1's term changes:
          // before -u + ln(e^u + e^v + eps), after -v + ln(e^u + e^v + eps), both divided by H,
          // so the loss moves by (u - v) / H.
          const [w1, w2] = [wrong[wrong.length - 2]!, wrong[wrong.length - 1]!];
          const [u, v] = [scores[w1]!, scores[w2]!];
          fc.pre(Math.abs(u - v) > 0.1);
          const swapped = scores.slice();
          swapped[w1] = v;
          swapped[w2] = u;
          const change =
            referenceLoss("pqm-theory", [swapped], [labels]) -
            referenceLoss("pqm-theory", [scores], [labels]);
          expect(change).toBeCloseTo((u - v) / labels.length, 9);
        },
      ),
      { seed: 3, numRuns: 300 },
    );
  });
});
