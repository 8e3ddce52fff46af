import { describe, expect, it } from "vitest";
import { type BestOfNQuestion, evaluateBestOfN } from "./best-of-n.js";
import { passAtNUnbiased } from "./selection.js";

// Hand fixture: two questions, four candidates each. Answer groups: Q0 "5" = 0, "7" = 1 (gold 7);
// Q1 "3" = 0, "4" = 1 (gold 3), candidate 2 of Q1 states no answer.
//
// Q0   steps        min   last  answer  correct
//  c0  [2, -1]      -1    -1    5       no
//  c1  [1, 0.5]     0.5   0.5   7       yes
//  c2  [0, 3]       0     3     5       no
//  c3  [-2]         -2    -2    5       no
// Q1
//  c0  [1]          1     1     3       yes
//  c1  [0.5, 2]     0.5   2     4       no
//  c2  [-1]         -1    -1    -       no
//  c3  [3, 1]       1     1     3       yes
const fixture: BestOfNQuestion[] = [
  {
    stepScores: [[2, -1], [1, 0.5], [0, 3], [-2]],
    correct: [false, true, false, false],
    answerGroups: [0, 1, 0, 0],
  },
  {
    stepScores: [[1], [0.5, 2], [-1], [3, 1]],
    correct: [true, false, false, true],
    answerGroups: [0, 1, null, 0],
  },
];

const accuracies = (result: ReturnType<typeof evaluateBestOfN>, method: keyof typeof result.methods) =>
  result.methods[method]!.map((point) => point.mean);

describe("evaluateBestOfN, reference protocol (first n, ties to the earliest)", () => {
  const result = evaluateBestOfN(fixture, { ns: [1, 2, 4], protocol: "reference", bootstrapResamples: 200 });

  it("best-of-n with min", () => {
    // n=1: both pick c0 -> Q0 wrong, Q1 right = 0.5.
    // n=2: Q0 {-1, 0.5} -> c1 right; Q1 {1, 0.5} -> c0 right = 1.
    // n=4: Q0 max min is c1 (0.5) right; Q1 tie c0 = c3 = 1 -> earliest c0 right = 1.
    expect(accuracies(result, "bon")).toEqual([0.5, 1, 1]);
  });

  it("ORM-style last-step scoring", () => {
    // n=2: Q0 last {-1, 0.5} -> c1 right; Q1 last {1, 2} -> c1 wrong = 0.5.
    // n=4: Q0 last max is c2 (3) wrong; Q1 last max is c1 (2) wrong = 0.
    expect(accuracies(result, "orm-last")).toEqual([0.5, 0.5, 0]);
  });

  it("majority vote, ties to the group with the earliest member", () => {
    // n=2: Q0 "5" (c0) and "7" (c1) one vote each -> tie -> "5" (earliest c0) wrong;
    //      Q1 "3" (c0) and "4" (c1) tie -> "3" right = 0.5.
    // n=4: Q0 "5" has 3 votes -> wrong; Q1 "3" has 2 votes, "4" 1, c2 abstains -> right = 0.5.
    expect(accuracies(result, "majority")).toEqual([0.5, 0.5, 0.5]);
  });

  it("PRM-weighted vote: sum of sigmoid(min score) per answer", () => {
    // n=2: Q0 "5": s(-1)=0.2689 vs "7": s(0.5)=0.6225 -> right; Q1 "3": s(1)=0.7311 vs "4": 0.6225 -> right = 1.
    // n=4: Q0 "5": s(-1)+s(0)+s(-2) = 0.2689+0.5+0.1192 = 0.8881 > "7" 0.6225 -> wrong;
    //      Q1 "3": 2 x 0.7311 = 1.4621 > "4" 0.6225 -> right = 0.5.
    expect(accuracies(result, "weighted-vote")).toEqual([0.5, 1, 0.5]);
  });

  it("random choice is the mean correctness of the first n, exactly", () => {
    // n=1: (0 + 1)/2 = 0.5; n=2: (1/2 + 1/2)/2 = 0.5; n=4: (1/4 + 2/4)/2 = 0.375.
    expect(accuracies(result, "random")).toEqual([0.5, 0.5, 0.375]);
  });

  it("pass@n is any correct among the first n", () => {
    // n=1: Q0 c0 wrong, Q1 c0 right = 0.5; n=2 and n=4: both have a correct one = 1.
    expect(accuracies(result, "pass")).toEqual([0.5, 1, 1]);
  });

  it("records the reference choices at the largest n", () => {
    expect(result.referenceChoices.n).toBe(4);
    expect(result.referenceChoices.byMethod.bon).toEqual([1, 0]);
    expect(result.referenceChoices.byMethod["orm-last"]).toEqual([2, 1]);
    expect(result.referenceChoices.byMethod.majority).toEqual([0, 0]);
  });

  it("the sweep holds every aggregation and agrees with bon/orm", () => {
    expect(result.sweep.min!.map((p) => p.mean)).toEqual(accuracies(result, "bon"));
    expect(result.sweep.last!.map((p) => p.mean)).toEqual(accuracies(result, "orm-last"));
    // mean: Q0 n=4 means {0.5, 0.75, 1.5, -2} -> c2 wrong; Q1 {1, 1.25, -1, 2} -> c3 right = 0.5.
    expect(result.sweep.mean!.at(-1)!.mean).toBe(0.5);
  });

  it("the interval brackets the mean and counts the questions", () => {
    for (const point of result.methods.bon) {
      expect(point.low).toBeLessThanOrEqual(point.mean);
      expect(point.high).toBeGreaterThanOrEqual(point.mean);
      expect(point.count).toBe(2);
    }
  });
});

describe("evaluateBestOfN, subsets protocol", () => {
  it("pass@n uses the unbiased estimator and random the exact c/m", () => {
    const result = evaluateBestOfN(fixture, {
      ns: [2, 4],
      protocol: "subsets",
      subsets: 50,
      bootstrapResamples: 100,
    });
    // n=2: Q0 m=4, c=1: 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5; Q1 c=2: 1 - C(2,2)/C(4,2) = 5/6. Mean 2/3.
    expect(result.methods.pass[0]!.mean).toBeCloseTo(2 / 3, 12);
    // random: Q0 1/4, Q1 2/4 -> 0.375 at every n.
    expect(result.methods.random.map((p) => p.mean)).toEqual([0.375, 0.375]);
  });

  it("the subset mean converges to the exact expectation over all subsets", () => {
    // All 6 pairs, min score. Q0 right iff c1 is drawn: 3/6. Q1: {0,1} c0 R, {0,2} c0 R, {0,3} c0 R,
    // {1,2} c1 W, {1,3} c3 R, {2,3} c3 R = 5/6. Expected (1/2 + 5/6)/2 = 2/3.
    const result = evaluateBestOfN(fixture, { ns: [2], subsets: 4000, seed: 7, bootstrapResamples: 100 });
    expect(Math.abs(result.methods.bon[0]!.mean - 2 / 3)).toBeLessThan(0.02);
  });

  it("is deterministic for a seed and changes with it", () => {
    const a = evaluateBestOfN(fixture, { ns: [2], subsets: 9, seed: 1, bootstrapResamples: 50 });
    const b = evaluateBestOfN(fixture, { ns: [2], subsets: 9, seed: 1, bootstrapResamples: 50 });
    expect(a.methods).toEqual(b.methods);
    const seeds = [2, 3, 4, 5, 6].map(
      (seed) =>
        evaluateBestOfN(fixture, { ns: [2], subsets: 9, seed, bootstrapResamples: 50 }).methods.bon[0]!.mean,
    );
    expect(new Set([a.methods.bon[0]!.mean, ...seeds]).size).toBeGreaterThan(1);
  });

  it("n = m uses the single full set", () => {
    const result = evaluateBestOfN(fixture, { ns: [4], subsets: 10, bootstrapResamples: 50 });
    expect(result.methods.bon[0]!.mean).toBe(1);
    expect(result.methods["orm-last"]![0]!.mean).toBe(0);
  });
});

describe("passAtNUnbiased", () => {
  it("matches the binomial form", () => {
    // m=10, c=3, n=4: 1 - C(7,4)/C(10,4) = 1 - 35/210 = 5/6.
    expect(passAtNUnbiased(10, 3, 4)).toBeCloseTo(5 / 6, 12);
    expect(passAtNUnbiased(10, 0, 4)).toBe(0);
    expect(passAtNUnbiased(10, 7, 4)).toBe(1);
    expect(() => passAtNUnbiased(4, 1, 5)).toThrow(RangeError);
  });
});

describe("evaluateBestOfN, bad input", () => {
  it("n larger than the candidates names the file and question", () => {
    expect(() =>
      evaluateBestOfN(fixture, {
        ns: [8],
        file: "cands.json",
        questionIds: ["q-a", "q-b"],
        bootstrapResamples: 10,
      }),
    ).toThrow(/cands\.json: question 0 \(id q-a\) has 4 candidates, fewer than n = 8/);
  });

  it("n larger than the candidates can be excluded and counted", () => {
    const short: BestOfNQuestion = { stepScores: [[1], [2]], correct: [true, false], answerGroups: [0, 1] };
    const result = evaluateBestOfN([...fixture, short], {
      ns: [1, 4],
      protocol: "reference",
      tooFewCandidates: "exclude",
      bootstrapResamples: 10,
    });
    expect(result.methods.bon[1]!.excluded).toBe(1);
    expect(result.methods.bon[1]!.count).toBe(2);
    expect(result.methods.bon[1]!.mean).toBe(1);
    expect(result.exclusions).toEqual([{ n: 4, question: 2, id: "2", candidates: 2 }]);
    // At n = 1 the short question counts: (0 + 1 + 1) / 3.
    expect(result.methods.bon[0]!.mean).toBeCloseTo(2 / 3, 12);
  });

  it("misaligned verdicts and scores are refused", () => {
    const bad: BestOfNQuestion = { stepScores: [[1], [2]], correct: [true], answerGroups: [0, 1] };
    expect(() => evaluateBestOfN([bad], { ns: [1], file: "x.json" })).toThrow(
      /x\.json: question 0.*misaligned/,
    );
  });

  it("NaN and empty step scores are refused with the candidate named", () => {
    const nan: BestOfNQuestion = {
      stepScores: [[1], [0, Number.NaN]],
      correct: [true, false],
      answerGroups: [0, 1],
    };
    expect(() => evaluateBestOfN([nan], { ns: [1] })).toThrow(/question 0 \(id 0\), candidate 1, step 1/);
    const empty: BestOfNQuestion = { stepScores: [[1], []], correct: [true, false], answerGroups: [0, 1] };
    expect(() => evaluateBestOfN([empty], { ns: [1] })).toThrow(/candidate 1: no step scores/);
  });
});
