/**
 * Input validation shared by the plain-number reference losses and the TF.js losses, so both reject
 * the same inputs with the same messages. No TF.js here: callers pass shapes and flat label values.
 */

import { LABEL_PAD } from "../types.js";
import {
  DEFAULT_ZETA,
  type LabelKind,
  type LossOptions,
  lossLabelKinds,
  lossNames,
} from "./loss-definitions.js";

/** Bad input to a loss: the message names the argument and the shape or value seen. */
export class LossInputError extends Error {
  override readonly name = "LossInputError";
}

/** Loss options with defaults filled in and checked. */
export interface ResolvedLossOptions {
  zeta: number;
}

/**
 * Fills in the defaults of `options` (zeta 4) and checks them.
 * @throws LossInputError when zeta is not a finite number >= 0.
 */
export function resolveLossOptions(options: LossOptions = {}): ResolvedLossOptions {
  const zeta = options.zeta ?? DEFAULT_ZETA;
  if (typeof zeta !== "number" || !Number.isFinite(zeta) || zeta < 0) {
    throw new LossInputError(`zeta = ${String(zeta)}: the margin must be a finite number >= 0`);
  }
  return { zeta };
}

/**
 * Checks that `name` is one of `known` (default: the built-in loss names).
 * @throws LossInputError naming the loss and listing the known names.
 */
export function requireKnownLoss(name: string, known: readonly string[] = lossNames): void {
  if (!known.includes(name)) {
    throw new LossInputError(`loss = '${name}': unknown loss (known: ${known.join(", ")})`);
  }
}

/** The label kind of loss `name`: built-in losses have theirs; any other name is taken as `soft`. */
export function labelKindOf(name: string): LabelKind {
  return (lossLabelKinds as Record<string, LabelKind | undefined>)[name] ?? "soft";
}

function labelRule(name: string, kind: LabelKind): string {
  if (kind === "soft") return `loss '${name}' takes labels in [0, 1] (or ${LABEL_PAD} for padding)`;
  const subject = name.startsWith("pqm") ? "the pqm losses take" : `loss '${name}' takes`;
  return `${subject} hard labels 0 or 1 (or ${LABEL_PAD} for padding)`;
}

/** True when `value` is a label that a loss of kind `kind` accepts. */
export function isValidLabel(value: number, kind: LabelKind): boolean {
  if (value === LABEL_PAD) return true;
  if (kind === "hard") return value === 0 || value === 1;
  return value >= 0 && value <= 1;
}

/**
 * Checks every label of a row-major `[rows, columns]` matrix (a padded batch, flattened).
 * @throws LossInputError such as "labels[2][5] = 0.5: the pqm losses take hard labels 0 or 1 (or -100 for padding)".
 */
export function validateLabelValues(
  name: string,
  labels: ArrayLike<number>,
  columns: number,
  kind: LabelKind = labelKindOf(name),
): void {
  for (let i = 0; i < labels.length; i++) {
    const value = labels[i]!;
    if (!isValidLabel(value, kind)) {
      const row = columns > 0 ? Math.floor(i / columns) : 0;
      const column = columns > 0 ? i % columns : i;
      throw new LossInputError(`labels[${row}][${column}] = ${value}: ${labelRule(name, kind)}`);
    }
  }
}

/**
 * Checks that scores and labels are both `[batch, steps]` matrices of the same shape.
 * @throws LossInputError naming both shapes.
 */
export function validateLossShapes(
  name: string,
  scoresShape: readonly number[],
  labelsShape: readonly number[],
): void {
  if (scoresShape.length !== 2 || labelsShape.length !== 2) {
    throw new LossInputError(
      `loss '${name}': scores and labels must be [batch, steps] matrices, got scores [${scoresShape.join(", ")}] and labels [${labelsShape.join(", ")}]`,
    );
  }
  if (scoresShape[0] !== labelsShape[0] || scoresShape[1] !== labelsShape[1]) {
    throw new LossInputError(
      `loss '${name}': scores [${scoresShape.join(", ")}] and labels [${labelsShape.join(", ")}] differ in shape`,
    );
  }
}

/**
 * Checks the inputs of a reference (plain-number) loss: one score row per label row, rows of equal
 * length pairwise (rows may differ in length from each other), scores finite, labels of the loss's kind.
 * @throws LossInputError naming the argument, the row and the lengths or value seen.
 */
export function validateReferenceInputs(
  name: string,
  scores: readonly (readonly number[])[],
  labels: readonly (readonly number[])[],
): void {
  if (!Array.isArray(scores) || !Array.isArray(labels)) {
    throw new LossInputError(`loss '${name}': scores and labels must be arrays of rows (number[][])`);
  }
  if (scores.length !== labels.length) {
    throw new LossInputError(
      `loss '${name}': scores has ${scores.length} rows but labels has ${labels.length} (shapes must match)`,
    );
  }
  const kind = labelKindOf(name);
  for (let row = 0; row < scores.length; row++) {
    const scoreRow = scores[row]!;
    const labelRow = labels[row]!;
    if (!Array.isArray(scoreRow) || !Array.isArray(labelRow)) {
      throw new LossInputError(`loss '${name}': scores[${row}] and labels[${row}] must be arrays of numbers`);
    }
    if (scoreRow.length !== labelRow.length) {
      throw new LossInputError(
        `loss '${name}': scores[${row}] has ${scoreRow.length} steps but labels[${row}] has ${labelRow.length} (shapes must match)`,
      );
    }
    for (let column = 0; column < scoreRow.length; column++) {
      const score = scoreRow[column];
      if (typeof score !== "number" || !Number.isFinite(score)) {
        throw new LossInputError(
          `scores[${row}][${column}] = ${String(score)}: scores must be finite numbers`,
        );
      }
      const label = labelRow[column]!;
      if (typeof label !== "number" || !isValidLabel(label, kind)) {
        throw new LossInputError(`labels[${row}][${column}] = ${String(label)}: ${labelRule(name, kind)}`);
      }
    }
  }
}
