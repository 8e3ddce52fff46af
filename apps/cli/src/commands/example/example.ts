import {
  aggregationNames,
  checkQValueOrdering,
  getAggregation,
  getLoss,
  type LossName,
  lossNames,
  referenceLoss,
} from "@pqm/core";
import * as tf from "@tensorflow/tfjs-core";
import { selectCliBackend } from "../../shared/tfjs-backend.js";

/** Options of `pqm example`. */
export interface ExampleOptions {
  /** The PQM margin. */
  zeta: number;
  /** TF.js backend for the tensor losses (`cpu`, `wasm` or `webgpu`). */
  backend: string;
}

/** One loss evaluated on the worked example, by its tensor op and by its plain reference. */
export interface ExampleLossRow {
  loss: LossName;
  tensor: number;
  reference: number;
}

/**
 * What `pqm example` computes: the method's test trajectories (docs/method.md, section 4.6) through
 * every loss and aggregation.
 */
export interface ExampleResult {
  zeta: number;
  /** The backend that ran: `cpu`, `wasm`, or for webgpu its description naming the adapter. */
  backend: string;
  scores: number[][];
  labels: number[][];
  losses: ExampleLossRow[];
  aggregations: { name: string; solutionScores: number[] }[];
  ordering: { trajectory: number; holds: boolean; violations: number }[];
}

// The two trajectories of the loss test vectors (see docs/method.md, section 4.6), the second padded
// with -100 to the batch width.
const worked = {
  scores: [
    [1, 2, 3, -1],
    [0, 0, 0, 0],
  ],
  labels: [
    [1, 1, 1, 0],
    [1, 1, 0, -100],
  ],
};

/** Runs the core's worked example: every loss as a tensor op and as a plain reference, aggregations, ordering. */
export async function runExample(options: ExampleOptions): Promise<ExampleResult> {
  const backend = await selectCliBackend(options.backend);
  const losses: ExampleLossRow[] = [];
  for (const name of lossNames) {
    const loss = getLoss(name, { zeta: options.zeta });
    // The labels' values go along, so the loss checks them on the host (webgpu cannot read back synchronously).
    const value = tf.tidy(() =>
      loss(tf.tensor2d(worked.scores), tf.tensor2d(worked.labels), worked.labels.flat()),
    );
    const tensor = (await value.data())[0] ?? Number.NaN;
    value.dispose();
    losses.push({
      loss: name,
      tensor,
      reference: referenceLoss(name, worked.scores, worked.labels, { zeta: options.zeta }),
    });
  }
  const valid = worked.scores.map((row, b) => row.filter((_, t) => worked.labels[b]?.[t] !== -100));
  const aggregations = aggregationNames.map((name) => ({
    name,
    solutionScores: valid.map((row) => getAggregation(name)(row)),
  }));
  const ordering = valid.map((row, b) => {
    const labels = (worked.labels[b] ?? []).filter((label) => label !== -100);
    const check = checkQValueOrdering({ qValues: row, labels, anchor: 0 });
    return { trajectory: b, holds: check.holds, violations: check.violations.length };
  });
  return {
    zeta: options.zeta,
    backend,
    scores: worked.scores,
    labels: worked.labels,
    losses,
    aggregations,
    ordering,
  };
}
