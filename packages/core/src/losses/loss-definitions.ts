/**
 * The names, label kinds and constants of the built-in losses (see docs/method.md, section 4). Plain data, no
 * TF.js, so the reference subpath can use it.
 */

/**
 * The built-in losses:
 * - `pqm`: PQM comparative loss, practical form (paper Eq. 10, the reference code's `rank`).
 * - `pqm-paper`: the same as released in October 2024: a correct step's own exp counted twice from
 *   trajectory position 1 on (reproduces the paper's runs).
 * - `pqm-theory`: the theory form (paper Eq. 9, the code's `theory-rank`).
 * - `pqm-ablation`: the ablation form (paper Eq. 12, the code's `ablate-rank`).
 * - `bce`, `mse`: per-step baselines on `sigmoid(score)`, pooled over the valid steps of a batch.
 * - `orm`: outcome reward model: BCE at the last valid step against "no step labeled wrong".
 */
export const lossNames = ["pqm", "pqm-paper", "pqm-theory", "pqm-ablation", "bce", "mse", "orm"] as const;

/** The name of a built-in loss. */
export type LossName = (typeof lossNames)[number];

/** What labels a loss takes: `hard` is 0 or 1, `soft` any number in [0, 1]; both allow -100 (padding). */
export type LabelKind = "hard" | "soft";

/** The label kind of every built-in loss: the ranking losses and ORM need hard labels. */
export const lossLabelKinds: Readonly<Record<LossName, LabelKind>> = {
  pqm: "hard",
  "pqm-paper": "hard",
  "pqm-theory": "hard",
  "pqm-ablation": "hard",
  bce: "soft",
  mse: "soft",
  orm: "hard",
};

/** Options every loss accepts (the ranking margin; ignored by `bce`, `mse`, `orm`, `pqm-ablation`). */
export interface LossOptions {
  /** The margin zeta added to wrong steps' scores in the PQM losses; finite and >= 0. Default 4. */
  zeta?: number;
}

/** Default margin zeta: one of the paper's two main settings (2 and 4). */
export const DEFAULT_ZETA = 4;

/** The eps inside every PQM log-denominator, as in the reference code (see docs/method.md, section 4). */
export const PQM_EPS = 1e-5;

/** True when `name` is one of `lossNames`. */
export function isLossName(name: string): name is LossName {
  return (lossNames as readonly string[]).includes(name);
}
