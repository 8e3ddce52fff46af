/**
 * Training stopped because the loss or the gradient norm stopped being finite. Names the optimizer
 * step and the rows (indices into the training data and question ids) of the batch that caused it.
 */
export class TrainingDivergedError extends Error {
  readonly step: number;
  /** Which quantity was not finite. */
  readonly quantity: "loss" | "gradient norm";
  readonly value: number;
  /** Indices into the training trajectories of the offending batch's rows. */
  readonly rowIndices: readonly number[];
  /** Question ids of those rows. */
  readonly questionIds: readonly string[];

  constructor(
    step: number,
    quantity: "loss" | "gradient norm",
    value: number,
    rowIndices: readonly number[],
    questionIds: readonly string[],
  ) {
    const shown = rowIndices.slice(0, 20).join(", ") + (rowIndices.length > 20 ? ", ..." : "");
    super(
      `training diverged at step ${step}: the ${quantity} is ${value} on the batch of training rows [${shown}] ` +
        `(questions ${[...new Set(questionIds)].slice(0, 10).join(", ")}); lower the learning rate or check those rows`,
    );
    this.name = "TrainingDivergedError";
    this.step = step;
    this.quantity = quantity;
    this.value = value;
    this.rowIndices = rowIndices;
    this.questionIds = questionIds;
  }
}
