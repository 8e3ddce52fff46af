/**
 * The ordering of optimal Q-values that Theorem 3.5 of the PQM paper states (see docs/method.md, section 3):
 *
 *     Q_{w_|W|} < ... < Q_{w_1} < Q_0 < Q_{c_1} < ... < Q_{c_|C|}
 *
 * wrong steps descend as the solution goes on, correct steps ascend, and the initial state's value
 * Q_0 (the anchor) sits between every wrong step and every correct one. The paper's "<<" between the
 * wrong steps and Q_0 is checked as "<": the size of the gap is not part of the check.
 */
import { LABEL_PAD } from "./types.js";

/** Which link of the chain a pair belongs to. */
export type OrderingRelation =
  | "wrong-steps-descend"
  | "wrong-below-anchor"
  | "anchor-below-correct"
  | "correct-steps-ascend";

/** A link of the chain that does not hold: `lower` should be below `upper` and is not. */
export interface OrderingViolation {
  relation: OrderingRelation;
  /** Step position (0-based index into `qValues`) that should be the lower one, or `"anchor"` for Q_0. */
  lower: number | "anchor";
  /** Step position that should be the higher one, or `"anchor"` for Q_0. */
  upper: number | "anchor";
  lowerValue: number;
  upperValue: number;
  /** For people, e.g. "Q[3] = 0.4 should be < Q[1] = 0.2 (wrong steps descend)". */
  message: string;
}

/** The outcome of `checkQValueOrdering`. */
export interface QValueOrderingResult {
  /** True when every link of the chain holds. */
  holds: boolean;
  /** The links that break, from the bottom of the chain (last wrong step) to the top (last correct step). */
  violations: OrderingViolation[];
  /** The chain checked, bottom to top: step positions, with `"anchor"` for Q_0. */
  chain: (number | "anchor")[];
}

/** Input of `checkQValueOrdering`: one trajectory. */
export interface QValueOrderingInput {
  /** A value per step: raw model scores, or probabilities (then the anchor is V(x)). */
  qValues: readonly number[];
  /** Step labels: 1 correct, 0 wrong, -100 padding (the step is left out). Same length as `qValues`. */
  labels: readonly number[];
  /** Q_0, the value of the bare question: 0 for raw model scores (as the reference code fixes it), V(x) for probabilities. */
  anchor: number;
  /**
   * True (the default): neighbors in the chain must differ, so equal values count as a violation,
   * as in the theorem's strict "<". False: equal neighbors are accepted ("<=").
   */
  strict?: boolean;
}

const relationWords: Record<OrderingRelation, string> = {
  "wrong-steps-descend": "wrong steps descend",
  "wrong-below-anchor": "wrong steps lie below Q_0",
  "anchor-below-correct": "correct steps lie above Q_0",
  "correct-steps-ascend": "correct steps ascend",
};

function describe(position: number | "anchor"): string {
  return position === "anchor" ? "Q_0" : `Q[${position}]`;
}

/**
 * Checks one trajectory's values against the Theorem 3.5 ordering. Every neighboring pair of the
 * chain is compared (the ordering holds exactly when all of them do, since "<" is transitive), and
 * each pair that breaks is reported with its positions and relation.
 * @throws RangeError when lengths differ, a value or the anchor is not a finite number, or a label
 *   is not 0, 1 or -100 (the message names the argument and index).
 */
export function checkQValueOrdering(input: QValueOrderingInput): QValueOrderingResult {
  const { qValues, labels, anchor, strict = true } = input;
  if (qValues.length !== labels.length) {
    throw new RangeError(
      `checkQValueOrdering: qValues has ${qValues.length} steps but labels has ${labels.length}`,
    );
  }
  if (typeof anchor !== "number" || !Number.isFinite(anchor)) {
    throw new RangeError(`checkQValueOrdering: anchor = ${String(anchor)} must be a finite number`);
  }
  const wrong: number[] = [];
  const correct: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label === LABEL_PAD) continue;
    const value = qValues[i];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new RangeError(`checkQValueOrdering: qValues[${i}] = ${String(value)} must be a finite number`);
    }
    if (label === 1) correct.push(i);
    else if (label === 0) wrong.push(i);
    else {
      throw new RangeError(
        `checkQValueOrdering: labels[${i}] = ${String(label)}: labels must be 0 or 1 (or ${LABEL_PAD} for padding)`,
      );
    }
  }
  // Bottom to top: the last wrong step first, up to the first wrong step, the anchor, then the correct steps in order.
  const chain: (number | "anchor")[] = [...wrong.slice().reverse(), "anchor", ...correct];
  const valueAt = (position: number | "anchor"): number =>
    position === "anchor" ? anchor : qValues[position]!;
  const violations: OrderingViolation[] = [];
  for (let k = 0; k + 1 < chain.length; k++) {
    const lower = chain[k]!;
    const upper = chain[k + 1]!;
    const lowerValue = valueAt(lower);
    const upperValue = valueAt(upper);
    const ok = strict ? lowerValue < upperValue : lowerValue <= upperValue;
    if (ok) continue;
    const relation: OrderingRelation =
      upper === "anchor"
        ? "wrong-below-anchor"
        : lower === "anchor"
          ? "anchor-below-correct"
          : labels[lower] === 0
            ? "wrong-steps-descend"
            : "correct-steps-ascend";
    violations.push({
      relation,
      lower,
      upper,
      lowerValue,
      upperValue,
      message: `${describe(lower)} = ${lowerValue} should be ${strict ? "<" : "<="} ${describe(upper)} = ${upperValue} (${relationWords[relation]})`,
    });
  }
  return { holds: violations.length === 0, violations, chain };
}
