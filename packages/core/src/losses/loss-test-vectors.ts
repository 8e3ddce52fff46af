/**
 * Loss test vectors shared by the reference and the TF.js tests (listed in docs/method.md, section 4.6).
 * The first four come with the method; the others were worked out by hand from the formulas of
 * docs/method.md, section 4 (the arithmetic is in the comments, each exp/log rounded to 6 decimals),
 * not taken from this package's output. Test-only; not exported.
 */
import type { LossName } from "./loss-definitions.js";

/** One loss evaluation with its expected value. */
export interface LossTestVector {
  title: string;
  loss: LossName;
  scores: number[][];
  labels: number[][];
  zeta?: number;
  expected: number;
}

const P = -100;

export const lossTestVectors: LossTestVector[] = [
  // Practical form, docs/method.md section 4.1 (zeta = 4).
  {
    title: "method practical 1",
    loss: "pqm",
    scores: [[1, 2, 3, -1]],
    labels: [[1, 1, 1, 0]],
    expected: 1.898974,
  },
  {
    title: "method practical 2",
    loss: "pqm",
    scores: [[0, 0, 0]],
    labels: [[1, 1, 0]],
    expected: 4.035872,
  },
  // Paper-era variant, docs/method.md section 4.1 (zeta = 4).
  {
    title: "method paper-era 1",
    loss: "pqm-paper",
    scores: [[1, 2, 3, -1]],
    labels: [[1, 1, 1, 0]],
    expected: 2.034753,
  },
  {
    title: "method paper-era 2",
    loss: "pqm-paper",
    scores: [[0, 0, 0]],
    labels: [[1, 1, 0]],
    expected: 4.04161,
  },
  // Section 4.1: no wrong step, so no term_0. r = [1, 2], l = [1, 1]:
  //   c1: ln(e + 1 + eps) - 1 = ln(3.718292) - 1 = 0.313264
  //   c2: ln(e^2 + 1 + e + eps) - 2 = ln(7.389056 + 1 + 2.718282 + 0.00001) - 2 = ln(11.107348) - 2 = 0.407607
  //   loss = (0.313264 + 0.407607) / 2 = 0.360436
  {
    title: "hand-worked practical, no wrong step",
    loss: "pqm",
    scores: [[1, 2]],
    labels: [[1, 1]],
    expected: 0.360436,
  },
  // Section 4.1: no correct step, only term_0. r = [0, -1], l = [0, 0]:
  //   S = e^(0+4) + e^(-1+4) = 54.598150 + 20.085537; term_0 = ln(1 + 74.683687 + 0.00001) = ln(75.683697) = 4.326563
  {
    title: "hand-worked practical, no correct step",
    loss: "pqm",
    scores: [[0, -1]],
    labels: [[0, 0]],
    expected: 4.326563,
  },
  // The method's practical vectors in one padded batch with an all-padding row: the mean of the two,
  // (1.898974 + 4.035872) / 2.
  {
    title: "method practical vectors as one padded batch",
    loss: "pqm",
    scores: [
      [1, 2, 3, -1],
      [0, 0, 0, 7],
      [5, 5, 5, 5],
    ],
    labels: [
      [1, 1, 1, 0],
      [1, 1, 0, P],
      [P, P, P, P],
    ],
    expected: (1.898974 + 4.035872) / 2,
  },
  // Theory (Eq. 9, docs/method.md section 4.2), r = [2, -1, 1, -3], l = [1, 0, 1, 0], zeta = 4, H = 4.
  //   S = e^(-1+4) + e^(-3+4) = 20.085537 + 2.718282 = 22.803819
  //   term_0 = ln(1 + 22.803819 + 0.00001) = ln(23.803829) = 3.169846
  //   c1 = position 0, not doubled: ln(e^2 + 1 + S + eps) - 2 = ln(7.389056 + 1 + 22.803819 + 0.00001) - 2
  //        = ln(31.192885) - 2 = 3.440190 - 2 = 1.440190
  //   c2 = position 2, own exp doubled: ln(2e + (1 + e^2) + S + eps) - 1
  //        = ln(5.436564 + 8.389056 + 22.803819 + 0.00001) - 1 = ln(36.629449) - 1 = 2.600853
  //   correct part = (3.169846 + 1.440190 + 2.600853) / (H + 1) = 7.210889 / 5 = 1.442178
  //   wrong part: position 1 (r = -1) has a later wrong step (r = -3):
  //        ln(e^-1 + e^-3 + eps) - (-1) = ln(0.367879 + 0.049787 + 0.00001) + 1 = ln(0.417677) + 1 = 0.126952;
  //        the last wrong step has no term; divided by H: 0.126952 / 4 = 0.031738
  //   loss = 1.442178 + 0.031738 = 1.473916
  {
    title: "hand-worked theory",
    loss: "pqm-theory",
    scores: [[2, -1, 1, -3]],
    labels: [[1, 0, 1, 0]],
    expected: 1.473916,
  },
  // Ablation (Eq. 12), r = [1, -2, 3, -1], l = [1, 0, 1, 0] (not monotone: the first wrong step is
  // position 1, where the reference code would take position 2 = the count of correct labels).
  //   S = e^-2 = 0.135335 (first wrong step only, no margin)
  //   term_0 = ln(1 + 0.135335 + 0.00001) = ln(1.135345) = 0.126937
  //   c1: ln(e + 1 + S + eps) - 1 = ln(2.718282 + 1 + 0.135335 + 0.00001) - 1 = ln(3.853627) - 1 = 0.349015
  //   c2: ln(e^3 + 1 + e + S + eps) - 3 = ln(20.085537 + 1 + 2.718282 + 0.135335 + 0.00001) - 3
  //       = ln(23.939164) - 3 = 0.175516
  //   loss = (0.126937 + 0.349015 + 0.175516) / 3 = 0.651468 / 3 = 0.217156
  // The second row is all padding and takes no part in the mean.
  {
    title: "hand-worked ablation, non-monotone labels",
    loss: "pqm-ablation",
    scores: [
      [1, -2, 3, -1],
      [0, 0, 0, 0],
    ],
    labels: [
      [1, 0, 1, 0],
      [P, P, P, P],
    ],
    expected: 0.217156,
  },
  // BCE, hard labels, pooled over the 3 valid steps (not per trajectory):
  //   (r 0, l 1): -ln(sigmoid(0)) = ln 2 = 0.693147
  //   (r 2, l 0): -ln(1 - sigmoid(2)) = ln(1 + e^2) = 2.126928
  //   (r 1, l 0): -ln(1 - sigmoid(1)) = ln(1 + e) = 1.313262
  //   loss = (0.693147 + 2.126928 + 1.313262) / 3 = 4.133337 / 3 = 1.377779
  //   (a per-trajectory mean would give ((0.693147 + 2.126928) / 2 + 1.313262) / 2 = 1.361650)
  {
    title: "hand-worked BCE, hard labels",
    loss: "bce",
    scores: [
      [0, 2, -1],
      [1, 9, 9],
    ],
    labels: [
      [1, 0, P],
      [0, P, P],
    ],
    expected: 1.377779,
  },
  // BCE, soft labels: -(l ln sigmoid(r) + (1 - l) ln(1 - sigmoid(r)))
  //   (r 0, l 0.25): 0.25 ln 2 + 0.75 ln 2 = 0.693147
  //   (r 1, l 0.75): 0.75 ln(1 + e^-1) + 0.25 ln(1 + e) = 0.75 * 0.313262 + 0.25 * 1.313262
  //                 = 0.234946 + 0.328315 = 0.563262
  //   loss = (0.693147 + 0.563262) / 2 = 0.628204
  {
    title: "hand-worked BCE, soft labels",
    loss: "bce",
    scores: [[0, 1]],
    labels: [[0.25, 0.75]],
    expected: 0.628204,
  },
  // MSE, pooled: sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4
  //   (1/2 - 1)^2 = 0.25, (3/4 - 0.5)^2 = 0.0625, (1/4 - 0)^2 = 0.0625; loss = 0.375 / 3 = 0.125
  {
    title: "hand-worked MSE, hard and soft labels",
    loss: "mse",
    scores: [
      [0, Math.log(3)],
      [-Math.log(3), 0],
    ],
    labels: [
      [1, 0.5],
      [0, P],
    ],
    expected: 0.125,
  },
  // ORM: BCE at the last valid step against "no step labeled wrong".
  //   row 1: last valid r = 2, no wrong step -> outcome 1: ln(1 + e^-2) = 0.126928
  //   row 2: last valid r = 5, a wrong step at position 1 -> outcome 0 (even though the last step is
  //          labeled correct): ln(1 + e^5) = 5.006715
  //   row 3: all padding, no part. loss = (0.126928 + 5.006715) / 2 = 2.566822
  {
    title: "hand-worked ORM",
    loss: "orm",
    scores: [
      [0, 1, 2, 9],
      [3, -1, 5, 9],
      [7, 7, 7, 7],
    ],
    labels: [
      [1, 1, 1, P],
      [1, 0, 1, P],
      [P, P, P, P],
    ],
    expected: 2.566822,
  },
];
