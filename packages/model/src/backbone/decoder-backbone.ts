import * as tf from "@tensorflow/tfjs-core";
import { HostKernel, hasHostKernel } from "../tfjs-backends/wasm-host-kernels.js";
import { FUSED_ATTENTION_MAX_HEAD_DIM } from "../tfjs-backends/webgpu-fused-kernels.js";
import type { DecoderConfig } from "./decoder-config.js";
import { composedAttention, fusedAttention } from "./layers/attention.js";
import { layerAttentionMasks } from "./layers/attention-mask.js";
import { embeddingLookup } from "./layers/embedding-lookup.js";
import { LinearLayer } from "./layers/linear-layer.js";
import { rmsNorm } from "./layers/rms-norm.js";
import { applyRotaryEmbedding, ropeCosSin, ropeInverseFrequencies } from "./layers/rotary-embedding.js";

/**
 * Which weights train: `full` (every weight), `lora` (only LoRA adapters; the base is frozen),
 * `frozen` (nothing; inference or a value head trained on top).
 */
export type TrainingMode = "full" | "lora" | "frozen";

/** The projections a LoRA adapter can target, by their Hugging Face module names. */
export const LORA_TARGET_MODULES = [
  "q_proj",
  "k_proj",
  "v_proj",
  "o_proj",
  "gate_proj",
  "up_proj",
  "down_proj",
] as const;
/** One of `LORA_TARGET_MODULES`. */
export type LoraTargetModule = (typeof LORA_TARGET_MODULES)[number];

/** LoRA settings (defaults as PEFT's: rank 8, alpha 8; targets default to every projection). */
export interface LoraOptions {
  rank: number;
  /** Scale numerator: the update is multiplied by alpha / rank. Default: rank (scale 1). */
  alpha?: number;
  /** Projections that get an adapter. Default: all of `LORA_TARGET_MODULES`. */
  targetModules?: readonly LoraTargetModule[];
  /** Seed of the A matrices' initialization. Default 0. */
  seed?: number;
}

/** Options shared by `loadPretrained` and `createRandomDecoder`. */
export interface DecoderBuildOptions {
  /** Default: `lora` when `lora` is given, else `full`. */
  mode?: TrainingMode;
  /** Attach LoRA adapters. */
  lora?: LoraOptions;
}

/** Inputs of a forward pass; all int32 `[batch, seq]`. */
export interface DecoderInputs {
  inputIds: tf.Tensor;
  /**
   * The ids' values as the caller holds them on the host (row-major): the range check reads these
   * instead of `inputIds`. Without them the check reads `inputIds` itself, which a backend that cannot
   * read synchronously (WebGPU in Node) allows only before the tensor is first used on the device.
   */
  inputIdValues?: ArrayLike<number>;
  /** 1 for real tokens, 0 for padding. Default: all ones. */
  attentionMask?: tf.Tensor;
  /** Rotary positions. Default: 0 .. seq−1 on every row (what transformers' forward() uses). */
  positionIds?: tf.Tensor;
}

/** Outputs of a forward pass. */
export interface DecoderOutput {
  /** `[batch, seq, hidden]`: after the final RMSNorm (transformers' `last_hidden_state`). */
  hiddenStates: tf.Tensor3D;
  /** `[batch, seq, vocab]`. */
  logits: tf.Tensor3D;
}

/** The residual stream after each half of one decoder layer (debugging aid). */
export interface LayerTrace {
  /** `[batch, seq, hidden]`: `x + o_proj(attention)`. */
  afterAttention: tf.Tensor3D;
  /** `[batch, seq, hidden]`: the layer's output. */
  afterMlp: tf.Tensor3D;
}

/**
 * Supplies a weight in Hugging Face layout by name (`[out, in]` for projections). The decoder
 * takes ownership of the returned tensor.
 */
export type WeightSource = (name: string, shape: number[]) => tf.Tensor;

interface DecoderLayer {
  inputLayernorm: tf.Variable;
  postAttentionLayernorm: tf.Variable;
  qProj: LinearLayer;
  kProj: LinearLayer;
  vProj: LinearLayer;
  oProj: LinearLayer;
  gateProj: LinearLayer;
  upProj: LinearLayer;
  downProj: LinearLayer;
}

let modelCount = 0;

/**
 * `silu(gate) · up`; where the backend has the fused kernel for its gradient (wasm SIMD), the backward
 * pass is one kernel call instead of eight, with the same float32 operations in the same order.
 */
export function swiGlu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  if (!hasHostKernel(HostKernel.swigluGrad) || gate.size % 4 !== 0)
    return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
  const fused = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [g, u, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const sigmoid = tf.sigmoid(g);
    save([g, u, sigmoid]);
    return {
      value: tf.mul(tf.mul(g, sigmoid), u),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedGate, savedUp, savedSigmoid] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.engine().runKernel(HostKernel.swigluGrad, {
          gate: savedGate,
          up: savedUp,
          sigmoid: savedSigmoid,
          dy,
        }) as tf.Tensor[];
      },
    };
  });
  return fused(gate, up);
}

/** The smallest and largest id of each ids tensor already checked (tensors never change). */
const checkedIdRanges = new WeakMap<tf.Tensor, readonly [number, number]>();

/**
 * The smallest and largest of `ids`, from `values` (the caller's host copy) or else from the tensor
 * read synchronously: on WebGPU in Node that works only while its values are still on the host (a
 * tensor made from numbers and not yet used by a kernel), so the range is remembered per tensor.
 */
function inputIdRange(ids: tf.Tensor, values: ArrayLike<number> | undefined): readonly [number, number] {
  const known = checkedIdRanges.get(ids);
  if (known !== undefined) return known;
  let data: ArrayLike<number>;
  if (values !== undefined) {
    if (values.length !== ids.size) {
      throw new Error(
        `inputIdValues holds ${values.length} ids, inputIds [${ids.shape.join(", ")}] ${ids.size}`,
      );
    }
    data = values;
  } else {
    try {
      data = ids.dataSync();
    } catch (error) {
      throw new Error(
        `inputIds cannot be read back synchronously on the ${tf.getBackend()} backend (${(error as Error).message}): pass their values as inputIdValues`,
        { cause: error },
      );
    }
  }
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (let index = 0; index < data.length; index++) {
    const id = data[index] as number;
    if (id < low) low = id;
    if (id > high) high = id;
  }
  const range = [low, high] as const;
  checkedIdRanges.set(ids, range);
  return range;
}

/**
 * A Llama-family decoder (Llama, Mistral, Qwen2) in float32 TensorFlow.js, following transformers'
 * modeling code convention by convention: pre-norm layers, RMSNorm with eps inside the square root,
 * rotate-half RoPE, grouped-query attention with repeat-interleaved kv heads, an additive mask with
 * the most negative finite float32 (causal, padding, and each layer's sliding window: see
 * `DecoderConfig.slidingWindow`), SwiGLU, tied or untied LM head. Sequences may be longer than the
 * window, for training and scoring alike. Weights are `tf.Variable`s
 * (trainable per `mode`), so `forwardSync` / `forwardHidden` work inside `tf.grad` and
 * `optimizer.minimize`. Every weight matmul is 2-D and weights are stored `[in, out]`.
 */
export class DecoderBackbone {
  /** The resolved configuration. */
  readonly config: DecoderConfig;
  /** Which weights are trainable. */
  readonly mode: TrainingMode;
  private readonly embedTokens: tf.Variable;
  private readonly layers: DecoderLayer[];
  private readonly norm: tf.Variable;
  /** null when tied to the embeddings. */
  private readonly lmHead: LinearLayer | null;
  private readonly inverseFrequencies: Float32Array;
  private disposed = false;

  /**
   * Builds the decoder from a weight source (a checkpoint or a random initializer).
   * @throws whatever `source` throws for a missing or misshapen weight; Error for a bad LoRA target.
   */
  constructor(config: DecoderConfig, source: WeightSource, options: DecoderBuildOptions = {}) {
    this.config = config;
    this.mode = options.mode ?? (options.lora === undefined ? "full" : "lora");
    const scope = `pqm_decoder_${modelCount++}`;
    // Freed again if a later weight fails to load, so a failed load leaks nothing.
    const created: tf.Variable[] = [];
    const variable = (name: string, shape: number[]): tf.Variable => {
      const value = source(name, shape);
      const result = tf.variable(value, this.mode === "full", `${scope}/${name}`);
      value.dispose();
      created.push(result);
      return result;
    };
    const linear = (module: string, inFeatures: number, outFeatures: number, bias: boolean): LinearLayer => {
      const hfWeight = source(`${module}.weight`, [outFeatures, inFeatures]);
      const transposed = tf.transpose(hfWeight); // [in, out]
      hfWeight.dispose();
      const weight = tf.variable(transposed, this.mode === "full", `${scope}/${module}.weight`);
      transposed.dispose();
      created.push(weight);
      return new LinearLayer(module, weight, bias ? variable(`${module}.bias`, [outFeatures]) : null);
    };
    const { hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, headDim } = config;
    try {
      this.embedTokens = variable("model.embed_tokens.weight", [config.vocabSize, hiddenSize]);
      this.layers = [];
      for (let index = 0; index < config.numHiddenLayers; index++) {
        const prefix = `model.layers.${index}`;
        this.layers.push({
          inputLayernorm: variable(`${prefix}.input_layernorm.weight`, [hiddenSize]),
          postAttentionLayernorm: variable(`${prefix}.post_attention_layernorm.weight`, [hiddenSize]),
          qProj: linear(
            `${prefix}.self_attn.q_proj`,
            hiddenSize,
            numAttentionHeads * headDim,
            config.qkvBias,
          ),
          kProj: linear(`${prefix}.self_attn.k_proj`, hiddenSize, numKeyValueHeads * headDim, config.qkvBias),
          vProj: linear(`${prefix}.self_attn.v_proj`, hiddenSize, numKeyValueHeads * headDim, config.qkvBias),
          oProj: linear(
            `${prefix}.self_attn.o_proj`,
            numAttentionHeads * headDim,
            hiddenSize,
            config.outputBias,
          ),
          gateProj: linear(`${prefix}.mlp.gate_proj`, hiddenSize, intermediateSize, config.mlpBias),
          upProj: linear(`${prefix}.mlp.up_proj`, hiddenSize, intermediateSize, config.mlpBias),
          downProj: linear(`${prefix}.mlp.down_proj`, intermediateSize, hiddenSize, config.mlpBias),
        });
      }
      this.norm = variable("model.norm.weight", [hiddenSize]);
      this.lmHead = config.tieWordEmbeddings ? null : linear("lm_head", hiddenSize, config.vocabSize, false);
      if (options.lora !== undefined) this.attachLora(options.lora);
    } catch (error) {
      for (const made of created) made.dispose();
      throw error;
    }
    this.inverseFrequencies = ropeInverseFrequencies(headDim, config.ropeTheta, config.ropeScaling);
  }

  private attachLora(options: LoraOptions): void {
    const targets = options.targetModules ?? LORA_TARGET_MODULES;
    for (const target of targets) {
      if (!(LORA_TARGET_MODULES as readonly string[]).includes(target)) {
        throw new Error(`unknown LoRA target module '${target}'; known: ${LORA_TARGET_MODULES.join(", ")}`);
      }
    }
    const alpha = options.alpha ?? options.rank;
    let seed = options.seed ?? 0;
    for (const layer of this.layers) {
      for (const projection of this.projections(layer)) {
        const moduleName = projection.name.slice(projection.name.lastIndexOf(".") + 1) as LoraTargetModule;
        if (targets.includes(moduleName)) projection.attachLora(options.rank, alpha, seed++);
        if (projection.lora !== null && this.mode === "frozen") {
          projection.lora.a.trainable = false;
          projection.lora.b.trainable = false;
        }
      }
    }
  }

  private projections(layer: DecoderLayer): LinearLayer[] {
    return [layer.qProj, layer.kProj, layer.vProj, layer.oProj, layer.gateProj, layer.upProj, layer.downProj];
  }

  /**
   * The forward pass, resolved as a promise for callers that do not differentiate it; the result
   * tensors belong to the caller. See `forwardSync` for shapes and errors.
   */
  async forward(inputs: DecoderInputs): Promise<DecoderOutput> {
    return this.forwardSync(inputs);
  }

  /**
   * The forward pass, synchronous so it can run inside `tf.grad` / `optimizer.minimize`.
   * @throws Error for inputs of the wrong dtype, rank or shape, or token ids outside the vocabulary.
   */
  forwardSync(inputs: DecoderInputs): DecoderOutput {
    return tf.tidy(() => {
      const hiddenStates = this.forwardHidden(inputs);
      return { hiddenStates, logits: this.logitsFromHidden(hiddenStates) };
    });
  }

  /**
   * Hidden states only (after the final norm), skipping the LM head: what a value head needs.
   * @returns `[batch, seq, hidden]`.
   * @throws Error as `forwardSync`.
   */
  forwardHidden(inputs: DecoderInputs): tf.Tensor3D {
    return this.run(inputs, null);
  }

  /**
   * Like `forwardHidden`, also returning the residual stream after each attention and MLP block
   * (for locating a numerical difference; costs memory).
   */
  forwardWithTrace(inputs: DecoderInputs): { hiddenStates: tf.Tensor3D; layers: LayerTrace[] } {
    const layers: LayerTrace[] = [];
    const hiddenStates = this.run(inputs, layers);
    return { hiddenStates, layers };
  }

  /**
   * LM-head logits for hidden states (`lm_head.weight`, or `embed_tokens.weight` when tied).
   * @param hiddenStates `[batch, seq, hidden]`.
   * @returns `[batch, seq, vocab]`.
   */
  logitsFromHidden(hiddenStates: tf.Tensor): tf.Tensor3D {
    return tf.tidy(() => {
      const [batch, seq, hidden] = hiddenStates.shape as [number, number, number];
      const flat = tf.reshape(hiddenStates, [batch * seq, hidden]); // [batch*seq, hidden]
      const logits =
        this.lmHead === null
          ? tf.matMul(flat as tf.Tensor2D, this.embedTokens as tf.Tensor2D, false, true)
          : this.lmHead.apply(flat); // [batch*seq, vocab]
      return tf.reshape(logits, [batch, seq, this.config.vocabSize]) as tf.Tensor3D; // [batch, seq, vocab]
    });
  }

  private checkInputs(inputs: DecoderInputs): { batch: number; seq: number } {
    if (this.disposed) throw new Error("DecoderBackbone: used after dispose()");
    const { inputIds } = inputs;
    if (inputIds.rank !== 2 || inputIds.dtype !== "int32") {
      throw new Error(
        `inputIds must be int32 [batch, seq], got ${inputIds.dtype} [${inputIds.shape.join(", ")}]`,
      );
    }
    for (const [field, tensor] of [
      ["attentionMask", inputs.attentionMask],
      ["positionIds", inputs.positionIds],
    ] as const) {
      if (
        tensor !== undefined &&
        (tensor.dtype !== "int32" || !tf.util.arraysEqual(tensor.shape, inputIds.shape))
      ) {
        throw new Error(
          `${field} must be int32 [${inputIds.shape.join(", ")}] like inputIds, got ${tensor.dtype} [${tensor.shape.join(", ")}]`,
        );
      }
    }
    const [low, high] = inputIdRange(inputIds, inputs.inputIdValues);
    if (low < 0 || high >= this.config.vocabSize) {
      throw new Error(
        `inputIds must lie in [0, ${this.config.vocabSize}), got values from ${low} to ${high}`,
      );
    }
    return { batch: inputIds.shape[0] as number, seq: inputIds.shape[1] as number };
  }

  private run(inputs: DecoderInputs, trace: LayerTrace[] | null): tf.Tensor3D {
    const { batch, seq } = this.checkInputs(inputs);
    const { hiddenSize, numAttentionHeads, numKeyValueHeads, headDim, rmsNormEps } = this.config;
    const scale = 1 / Math.sqrt(headDim);
    return tf.tidy(() => {
      const attentionMask = inputs.attentionMask ?? tf.ones([batch, seq], "int32");
      const positionIds =
        inputs.positionIds ?? tf.tile(tf.reshape(tf.range(0, seq, 1, "int32"), [1, seq]), [batch, 1]);
      // Per layer: causal + padding, and the layer's sliding window if it has one.
      const masks = layerAttentionMasks(attentionMask, this.config.layerSlidingWindows); // each [batch, 1, 1, seq, seq]
      const { cos, sin } = ropeCosSin(positionIds, this.inverseFrequencies); // [batch, 1, seq, headDim]
      let x = tf.reshape(embeddingLookup(this.embedTokens, inputs.inputIds), [batch * seq, hiddenSize]); // [batch*seq, hidden]

      for (const [layerIndex, layer] of this.layers.entries()) {
        const mask = masks[layerIndex] as tf.Tensor;
        const normed = rmsNorm(x, layer.inputLayernorm, rmsNormEps); // [batch*seq, hidden]
        const heads = (projection: LinearLayer, count: number): tf.Tensor =>
          tf.transpose(tf.reshape(projection.apply(normed), [batch, seq, count, headDim]), [0, 2, 1, 3]); // [batch, count, seq, headDim]
        const query = applyRotaryEmbedding(heads(layer.qProj, numAttentionHeads), cos, sin); // [batch, heads, seq, headDim]
        const key = applyRotaryEmbedding(heads(layer.kProj, numKeyValueHeads), cos, sin); // [batch, kvHeads, seq, headDim]
        const value = heads(layer.vProj, numKeyValueHeads); // [batch, kvHeads, seq, headDim]
        if (hasHostKernel(HostKernel.attention) && headDim <= FUSED_ATTENTION_MAX_HEAD_DIM) {
          // webgpu: attention in one launch forward and four backward (see fusedAttention).
          const merged = tf.reshape(fusedAttention(query, key, value, mask, scale), [
            batch * seq,
            numAttentionHeads * headDim,
          ]); // [batch*seq, heads*headDim]
          x = tf.add(x, layer.oProj.apply(merged)); // [batch*seq, hidden]
        } else {
          x = tf.add(x, layer.oProj.apply(composedAttention(query, key, value, mask, scale))); // [batch*seq, hidden]
        }
        const afterAttention = x;

        const mlpInput = rmsNorm(x, layer.postAttentionLayernorm, rmsNormEps); // [batch*seq, hidden]
        const gate = layer.gateProj.apply(mlpInput); // [batch*seq, intermediate]
        const activated = swiGlu(gate, layer.upProj.apply(mlpInput)); // silu(gate) · up
        x = tf.add(x, layer.downProj.apply(activated)); // [batch*seq, hidden]
        if (trace !== null) {
          const entry = {
            afterAttention: tf.keep(tf.reshape(afterAttention, [batch, seq, hiddenSize]) as tf.Tensor3D),
            afterMlp: tf.keep(tf.reshape(x, [batch, seq, hiddenSize]) as tf.Tensor3D),
          };
          trace.push(entry);
        }
      }
      const final = rmsNorm(x, this.norm, rmsNormEps); // [batch*seq, hidden]
      return tf.reshape(final, [batch, seq, hiddenSize]) as tf.Tensor3D; // [batch, seq, hidden]
    });
  }

  /** The variables an optimizer should update (per `mode`). */
  get trainableVariables(): tf.Variable[] {
    return this.allVariables().filter((variable) => variable.trainable);
  }

  /** Every variable of the model: weights, biases, norms, adapters. */
  allVariables(): tf.Variable[] {
    const out: tf.Variable[] = [this.embedTokens];
    for (const layer of this.layers) {
      out.push(layer.inputLayernorm, layer.postAttentionLayernorm);
      for (const projection of this.projections(layer)) out.push(...projection.variables());
    }
    out.push(this.norm);
    if (this.lmHead !== null) out.push(...this.lmHead.variables());
    return out;
  }

  /** Number of base-model parameters (adapters excluded; tied embeddings counted once). */
  parameterCount(): number {
    let count = 0;
    for (const variable of this.allVariables()) if (!variable.name.includes(".lora_")) count += variable.size;
    return count;
  }

  /**
   * The weights under their Hugging Face names and layouts (`[out, in]` for projections), LoRA
   * adapters merged in; `lm_head.weight` omitted when tied, as `save_pretrained` does. Every tensor
   * is new: the caller disposes them.
   */
  namedWeights(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    out.set("model.embed_tokens.weight", tf.clone(this.embedTokens));
    const addLinear = (projection: LinearLayer): void => {
      out.set(`${projection.name}.weight`, projection.hfWeight());
      if (projection.bias !== null) out.set(`${projection.name}.bias`, tf.clone(projection.bias));
    };
    this.layers.forEach((layer, index) => {
      out.set(`model.layers.${index}.input_layernorm.weight`, tf.clone(layer.inputLayernorm));
      out.set(
        `model.layers.${index}.post_attention_layernorm.weight`,
        tf.clone(layer.postAttentionLayernorm),
      );
      for (const projection of this.projections(layer)) addLinear(projection);
    });
    out.set("model.norm.weight", tf.clone(this.norm));
    if (this.lmHead !== null) addLinear(this.lmHead);
    return out;
  }

  /** Frees every variable. Further calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const variable of this.allVariables()) variable.dispose();
  }
}
