import * as tf from "@tensorflow/tfjs-core";
import type { Float32TensorData } from "../backbone/safetensors/write-safetensors.js";
import { HostKernel, hasHostKernel } from "../tfjs-backends/wasm-host-kernels.js";

/** Hyper-parameters of {@link AdamW} (defaults as `torch.optim.AdamW`, except weight decay 0 as the reference). */
export interface AdamWOptions {
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Added to the root of the second moment (default 1e-8). */
  epsilon?: number;
  /** Decoupled weight decay per unit of learning rate (default 0, the reference's setting). */
  weightDecay?: number;
  /**
   * Parameters that get no weight decay. Default: biases and norm weights (names ending in `.bias` or
   * containing `norm`), as Hugging Face's Trainer does.
   */
  noDecay?: (name: string) => boolean;
}

/** The optimizer state as plain data: the update count and both moments of every parameter. */
export interface AdamWState {
  /** Updates applied so far (the `t` of bias correction). */
  step: number;
  /** `<name>.exp_avg` and `<name>.exp_avg_sq` for every parameter that has been updated. */
  moments: Map<string, Float32TensorData>;
}

interface Moments {
  firstMoment: tf.Variable;
  secondMoment: tf.Variable;
}

/** A non-trainable variable holding `initial`'s values; `initial` is disposed (the variable keeps the data). */
function momentVariable(initial: tf.Tensor): tf.Variable {
  const variable = tf.variable(initial, false);
  initial.dispose();
  return variable;
}

const defaultNoDecay = (name: string): boolean => name.endsWith(".bias") || name.includes("norm");

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter), written here because TF.js has Adam but not
 * AdamW, and because the moments must be saved by parameter name to resume a run exactly. Dense
 * moments; the state lives in tensors (`tf.Variable`s) updated in place, so the live tensor count stays
 * flat. The update is PyTorch's: `p -= lr * wd * p`, then `p -= lr * m̂ / (sqrt(v̂) + eps)`.
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly noDecay: (name: string) => boolean;
  private readonly moments = new Map<string, Moments>();
  private updates = 0;

  /** @throws RangeError for a beta outside [0, 1), a negative epsilon or weight decay. */
  constructor(options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.noDecay = options.noDecay ?? defaultNoDecay;
    for (const [field, value] of [
      ["beta1", this.beta1],
      ["beta2", this.beta2],
    ] as const) {
      if (!(value >= 0 && value < 1)) throw new RangeError(`AdamW ${field} = ${value} must lie in [0, 1)`);
    }
    if (!(this.epsilon >= 0)) throw new RangeError(`AdamW epsilon = ${this.epsilon} must be >= 0`);
    if (!(this.weightDecay >= 0))
      throw new RangeError(`AdamW weightDecay = ${this.weightDecay} must be >= 0`);
  }

  /** Updates applied so far. */
  get step(): number {
    return this.updates;
  }

  /**
   * One update of every parameter that has a gradient.
   * @param parameters name → variable (stable names, see `ProcessRewardModel.trainableVariables`).
   * @param gradients name → gradient of the same shape; not disposed here.
   * @param learningRate this step's learning rate.
   * @param options.gradientScale multiplies every gradient first (e.g. `clipFactor(maxNorm, norm)`, the
   *   same as clipping them with `clipToGlobalNorm`, without a separate pass over them); default 1.
   * @throws Error when a gradient has no parameter or the wrong shape.
   */
  applyGradients(
    parameters: ReadonlyMap<string, tf.Variable>,
    gradients: ReadonlyMap<string, tf.Tensor>,
    learningRate: number,
    options: { gradientScale?: number } = {},
  ): void {
    const gradientScale = options.gradientScale ?? 1;
    if (!(gradientScale > 0) || !Number.isFinite(gradientScale))
      throw new Error(`AdamW: gradientScale must be a positive finite number, got ${gradientScale}`);
    this.updates++;
    const correction1 = 1 - this.beta1 ** this.updates;
    const correction2 = 1 - this.beta2 ** this.updates;
    for (const [name, gradient] of gradients) {
      const parameter = parameters.get(name);
      if (parameter === undefined) throw new Error(`AdamW: gradient for unknown parameter '${name}'`);
      if (!tf.util.arraysEqual(parameter.shape, gradient.shape)) {
        throw new Error(
          `AdamW: gradient of '${name}' has shape [${gradient.shape.join(", ")}], the parameter [${parameter.shape.join(", ")}]`,
        );
      }
      const { firstMoment, secondMoment } = this.momentsOf(name, parameter.shape);
      const decays = this.weightDecay > 0 && !this.noDecay(name);
      if (hasHostKernel(HostKernel.adamW)) {
        // One SIMD pass over the parameter: the same float32 operations as below, in one call instead of 13.
        tf.tidy(() => {
          const [next, m, v] = tf.engine().runKernel(
            HostKernel.adamW,
            { parameter, gradient, firstMoment, secondMoment },
            {
              beta1: this.beta1,
              beta2: this.beta2,
              epsilon: this.epsilon,
              correction1,
              correction2,
              learningRate,
              decay: decays ? learningRate * this.weightDecay : 0,
              gradientScale,
            },
          ) as tf.Tensor[];
          firstMoment.assign(m as tf.Tensor);
          secondMoment.assign(v as tf.Tensor);
          parameter.assign(next as tf.Tensor);
        });
        continue;
      }
      tf.tidy(() => {
        const g = gradientScale === 1 ? gradient : tf.mul(gradient, gradientScale);
        const m = tf.add(tf.mul(firstMoment, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(secondMoment, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        firstMoment.assign(m);
        secondMoment.assign(v);
        const denominator = tf.add(tf.sqrt(tf.div(v, correction2)), this.epsilon);
        const update = tf.div(tf.div(m, correction1), denominator);
        let next = tf.sub(parameter, tf.mul(update, learningRate));
        if (decays) {
          next = tf.sub(next, tf.mul(parameter, learningRate * this.weightDecay));
        }
        parameter.assign(next);
      });
    }
  }

  private momentsOf(name: string, shape: number[]): Moments {
    let entry = this.moments.get(name);
    if (entry === undefined) {
      entry = { firstMoment: momentVariable(tf.zeros(shape)), secondMoment: momentVariable(tf.zeros(shape)) };
      this.moments.set(name, entry);
    }
    return entry;
  }

  /**
   * The state as plain float32 data (a copy), to save with a checkpoint. Read asynchronously, all
   * moments at once (backends such as WebGPU cannot read synchronously in Node).
   */
  async getState(): Promise<AdamWState> {
    const step = this.updates;
    const entries = [...this.moments].flatMap(([name, { firstMoment, secondMoment }]) => [
      [`${name}.exp_avg`, firstMoment] as const,
      [`${name}.exp_avg_sq`, secondMoment] as const,
    ]);
    const values = await Promise.all(entries.map(([, moment]) => moment.data()));
    const moments = new Map<string, Float32TensorData>();
    entries.forEach(([key, moment], index) => {
      moments.set(key, { shape: moment.shape, data: Float32Array.from(values[index] as Float32Array) });
    });
    return { step, moments };
  }

  /**
   * Replaces the state with a saved one.
   * @param parameters the parameters the moments belong to (shapes are checked).
   * @throws Error when a moment names no parameter, has the wrong shape, or lacks its partner.
   */
  setState(state: AdamWState, parameters: ReadonlyMap<string, tf.Variable>): void {
    this.disposeMoments();
    this.updates = state.step;
    for (const [key, first] of state.moments) {
      if (!key.endsWith(".exp_avg")) continue;
      const name = key.slice(0, -".exp_avg".length);
      const second = state.moments.get(`${name}.exp_avg_sq`);
      const parameter = parameters.get(name);
      if (second === undefined) throw new Error(`AdamW state: '${name}.exp_avg_sq' is missing`);
      if (parameter === undefined) throw new Error(`AdamW state: '${name}' is not a parameter of this model`);
      for (const moment of [first, second]) {
        if (!tf.util.arraysEqual([...moment.shape], parameter.shape)) {
          throw new Error(
            `AdamW state: '${name}' moments have shape [${moment.shape.join(", ")}], the parameter [${parameter.shape.join(", ")}]`,
          );
        }
      }
      this.moments.set(name, {
        firstMoment: momentVariable(tf.tensor(first.data, [...first.shape], "float32")),
        secondMoment: momentVariable(tf.tensor(second.data, [...second.shape], "float32")),
      });
    }
    for (const key of state.moments.keys()) {
      if (key.endsWith(".exp_avg_sq") && !this.moments.has(key.slice(0, -".exp_avg_sq".length))) {
        throw new Error(`AdamW state: '${key}' has no matching exp_avg`);
      }
    }
  }

  private disposeMoments(): void {
    for (const { firstMoment, secondMoment } of this.moments.values()) {
      firstMoment.dispose();
      secondMoment.dispose();
    }
    this.moments.clear();
  }

  /** Frees the moments. */
  dispose(): void {
    this.disposeMoments();
  }
}
