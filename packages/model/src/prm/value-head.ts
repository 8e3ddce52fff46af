import * as tf from "@tensorflow/tfjs-core";
import { embeddingLookup } from "../backbone/layers/embedding-lookup.js";

/** The dropout rate before the value head's linear map, as in the reference (docs/method.md, section 5). */
export const VALUE_HEAD_DROPOUT = 0.1;

/** Options of {@link ValueHead.apply}. */
export interface ValueHeadApplyOptions {
  /** Apply dropout (training only). Default false. */
  training?: boolean;
  /** Seed of the dropout mask; the same seed gives the same mask, which makes resumed runs exact. */
  dropoutSeed?: number;
}

/**
 * TRL's scalar value head: dropout (0.1, training only), then a linear map from the hidden size to one
 * number, read at every step-tag position. Weights are `tf.Variable`s named `v_head.summary.weight`
 * (`[1, hidden]`, the `nn.Linear` layout) and `v_head.summary.bias` (`[1]`).
 */
export class ValueHead {
  /** `[1, hidden]`. */
  readonly weight: tf.Variable;
  /** `[1]`. */
  readonly bias: tf.Variable;
  readonly hiddenSize: number;
  readonly dropout: number;

  /**
   * @param weight `[1, hidden]` or `[hidden]`; copied into a new variable (the caller keeps its tensor).
   * @param bias `[1]` or scalar.
   * @throws Error when the shapes do not fit a scalar head.
   */
  constructor(weight: tf.Tensor, bias: tf.Tensor, options: { dropout?: number; trainable?: boolean } = {}) {
    if (weight.size !== weight.shape[weight.rank - 1] || bias.size !== 1) {
      throw new Error(
        `a value head needs weight [1, hidden] and bias [1], got [${weight.shape.join(", ")}] and [${bias.shape.join(", ")}]`,
      );
    }
    this.hiddenSize = weight.size;
    this.dropout = options.dropout ?? VALUE_HEAD_DROPOUT;
    const trainable = options.trainable ?? true;
    // tf.variable copies its initial value, so the reshaped views are freed here.
    const weightRow = tf.reshape(weight, [1, this.hiddenSize]);
    const biasVector = tf.reshape(bias, [1]);
    this.weight = tf.variable(weightRow, trainable, uniqueName("weight"));
    this.bias = tf.variable(biasVector, trainable, uniqueName("bias"));
    weightRow.dispose();
    biasVector.dispose();
  }

  /**
   * A fresh head initialized as `torch.nn.Linear` does by default (weight and bias uniform in
   * ±1/sqrt(hidden)), deterministic for `seed`.
   */
  static create(hiddenSize: number, seed: number, options: { dropout?: number } = {}): ValueHead {
    const bound = 1 / Math.sqrt(hiddenSize);
    const weight = tf.randomUniform([1, hiddenSize], -bound, bound, "float32", seed);
    const bias = tf.randomUniform([1], -bound, bound, "float32", seed + 1);
    try {
      return new ValueHead(weight, bias, options);
    } finally {
      weight.dispose();
      bias.dispose();
    }
  }

  /**
   * Scores at the step tags, from the backbone's last hidden states, in one pass: the tag rows of all
   * sequences are gathered at once (with a gather whose gradient is a scatter-add, so it trains on wasm).
   * @param hiddenStates `[batch, seq, hidden]`.
   * @param tagPositions int32 `[batch, steps]`, each in `[0, seq)` (padded slots may hold any valid index).
   * @returns `[batch, steps]` raw scores (logits).
   */
  apply(hiddenStates: tf.Tensor, tagPositions: tf.Tensor, options: ValueHeadApplyOptions = {}): tf.Tensor2D {
    const [batch, seq, hidden] = hiddenStates.shape as [number, number, number];
    const steps = tagPositions.shape[1] as number;
    return tf.tidy(() => {
      const rowOffsets = tf.mul(tf.range(0, batch, 1, "int32"), tf.scalar(seq, "int32")); // [batch]
      const flatIndices = tf.add(tagPositions, tf.reshape(rowOffsets, [batch, 1])); // [batch, steps]
      const flatHidden = tf.reshape(hiddenStates, [batch * seq, hidden]); // [batch*seq, hidden]
      let tagHidden = tf.reshape(embeddingLookup(flatHidden, flatIndices), [batch * steps, hidden]); // [batch*steps, hidden]
      if (options.training === true && this.dropout > 0) {
        tagHidden = tf.dropout(tagHidden, this.dropout, undefined, options.dropoutSeed);
      }
      const values = tf.add(tf.matMul(tagHidden, this.weight, false, true), this.bias); // [batch*steps, 1]
      return tf.reshape(values, [batch, steps]) as tf.Tensor2D; // [batch, steps]
    });
  }

  /** The weights under TRL's names, as new tensors the caller disposes. */
  namedWeights(): Map<string, tf.Tensor> {
    return new Map([
      ["v_head.summary.weight", tf.clone(this.weight)],
      ["v_head.summary.bias", tf.clone(this.bias)],
    ]);
  }

  /** Frees the variables. */
  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
}

let headCount = 0;
function uniqueName(part: string): string {
  // Variable names must be unique per engine; the stable name lives in namedWeights().
  return `pqm_value_head_${headCount++}/v_head.summary.${part}`;
}
