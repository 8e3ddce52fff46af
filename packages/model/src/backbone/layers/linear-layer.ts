import * as tf from "@tensorflow/tfjs-core";

/** A LoRA adapter on one projection: `y += (x · A) · B · alpha / rank`. */
export interface LoraAdapter {
  /** `[in, rank]`, initialized uniform(±1/sqrt(in)) as PEFT's kaiming_uniform(a=√5) does. */
  a: tf.Variable;
  /** `[rank, out]`, initialized to zeros so the adapted model starts equal to the base. */
  b: tf.Variable;
  /** alpha / rank. */
  scale: number;
}

/**
 * A linear projection `y = x · W + b` holding W transposed once at load, as `[in, out]`, so that
 * no matmul of the forward pass transposes a weight. Weights keep Hugging Face's names (`name` is
 * the module path, e.g. `model.layers.0.self_attn.q_proj`) and layout (`[out, in]`) on the way in
 * and out.
 */
export class LinearLayer {
  /** `[in, out]`. */
  readonly weight: tf.Variable;
  /** `[out]`, or null for a projection without bias. */
  readonly bias: tf.Variable | null;
  /** The LoRA adapter, when one was attached. */
  lora: LoraAdapter | null = null;

  constructor(
    readonly name: string,
    weight: tf.Variable,
    bias: tf.Variable | null,
  ) {
    this.weight = weight;
    this.bias = bias;
  }

  /** Input features. */
  get inFeatures(): number {
    return this.weight.shape[0] as number;
  }

  /** Output features. */
  get outFeatures(): number {
    return this.weight.shape[1] as number;
  }

  /**
   * Applies the projection.
   * @param x `[rows, in]` (2-D: tfjs-core's matMul gradient rejects rank-3 × rank-2 products).
   * @returns `[rows, out]`.
   */
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let y = tf.matMul(x as tf.Tensor2D, this.weight as tf.Tensor2D); // [rows, out]
      if (this.bias !== null) y = tf.add(y, this.bias);
      if (this.lora !== null) {
        const low = tf.matMul(x as tf.Tensor2D, this.lora.a as tf.Tensor2D); // [rows, rank]
        y = tf.add(y, tf.mul(tf.matMul(low, this.lora.b as tf.Tensor2D), this.lora.scale)); // [rows, out]
      }
      return y;
    });
  }

  /**
   * Attaches a LoRA adapter of `rank` (A uniform(±1/sqrt(in)) from `seed`, B zeros).
   * @throws Error when an adapter is already attached or rank is not a positive integer.
   */
  attachLora(rank: number, alpha: number, seed: number): void {
    if (this.lora !== null) throw new Error(`${this.name}: a LoRA adapter is already attached`);
    if (!Number.isInteger(rank) || rank <= 0)
      throw new Error(`${this.name}: LoRA rank must be a positive integer, got ${rank}`);
    const bound = 1 / Math.sqrt(this.inFeatures);
    this.lora = {
      a: tf.variable(
        tf.randomUniform([this.inFeatures, rank], -bound, bound, "float32", seed),
        true,
        `${this.weight.name}.lora_A`,
      ),
      b: tf.variable(tf.zeros([rank, this.outFeatures]), true, `${this.weight.name}.lora_B`),
      scale: alpha / rank,
    };
  }

  /**
   * The weight in Hugging Face layout `[out, in]`, with the LoRA update merged in when present.
   * A new tensor the caller disposes.
   */
  hfWeight(): tf.Tensor {
    return tf.tidy(() => {
      let weight: tf.Tensor = this.weight;
      if (this.lora !== null) {
        weight = tf.add(weight, tf.mul(tf.matMul(this.lora.a, this.lora.b), this.lora.scale)); // [in, out]
      }
      return tf.transpose(weight); // [out, in]
    });
  }

  /** Every variable this layer owns (weight, bias, adapter). */
  variables(): tf.Variable[] {
    const out = [this.weight];
    if (this.bias !== null) out.push(this.bias);
    if (this.lora !== null) out.push(this.lora.a, this.lora.b);
    return out;
  }

  /** Disposes every variable of the layer. */
  dispose(): void {
    for (const variable of this.variables()) variable.dispose();
  }
}
