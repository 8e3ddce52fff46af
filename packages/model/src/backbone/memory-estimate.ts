import { totalmem } from "node:os";
import type { LoraOptions, TrainingMode } from "./decoder-backbone.js";
import { LORA_TARGET_MODULES } from "./decoder-backbone.js";
import type { DecoderConfig } from "./decoder-config.js";

/** The wasm backend's 32-bit address space: 4 GiB (its memory's declared maximum). */
export const WASM_MEMORY_LIMIT_BYTES = 4 * 1024 ** 3;

const GIB = 1024 ** 3;

/** How much more a training step keeps than the per-layer tensor count (see `estimateMemory`). */
const TRAINING_ACTIVATION_FACTOR = 4.5;

/** What a run needs, in bytes (float32 everywhere). */
export interface MemoryEstimate {
  mode: TrainingMode;
  parameters: number;
  trainableParameters: number;
  weightBytes: number;
  gradientBytes: number;
  /** AdamW's two moments per trainable parameter. */
  optimizerBytes: number;
  /** Activations kept for the backward pass (training) or the peak of one layer (frozen). */
  activationBytes: number;
  totalBytes: number;
}

/** Batch shape used for the activation part of an estimate. */
export interface ActivationShape {
  batchSize: number;
  sequenceLength: number;
  /** Whether LM-head logits are computed (a value head alone does not need them). Default false. */
  logits?: boolean;
}

/** Base parameter count of a Llama-family decoder (tied embeddings counted once). */
export function countParameters(config: DecoderConfig): number {
  const {
    hiddenSize: h,
    intermediateSize: m,
    numAttentionHeads: heads,
    numKeyValueHeads: kv,
    headDim: d,
  } = config;
  const attention =
    h * heads * d * 2 +
    h * kv * d * 2 +
    (config.qkvBias ? heads * d + 2 * kv * d : 0) +
    (config.outputBias ? h : 0);
  const mlp = 3 * h * m + (config.mlpBias ? 2 * m + h : 0);
  const perLayer = attention + mlp + 2 * h;
  return config.vocabSize * h * (config.tieWordEmbeddings ? 1 : 2) + config.numHiddenLayers * perLayer + h;
}

/** Parameters of LoRA adapters on `lora.targetModules` of every layer. */
export function countLoraParameters(config: DecoderConfig, lora: LoraOptions): number {
  const {
    hiddenSize: h,
    intermediateSize: m,
    numAttentionHeads: heads,
    numKeyValueHeads: kv,
    headDim: d,
  } = config;
  const shapes: Record<string, [number, number]> = {
    q_proj: [h, heads * d],
    k_proj: [h, kv * d],
    v_proj: [h, kv * d],
    o_proj: [heads * d, h],
    gate_proj: [h, m],
    up_proj: [h, m],
    down_proj: [m, h],
  };
  let perLayer = 0;
  for (const target of lora.targetModules ?? LORA_TARGET_MODULES) {
    const [inFeatures, outFeatures] = shapes[target] as [number, number];
    perLayer += lora.rank * (inFeatures + outFeatures);
  }
  return perLayer * config.numHiddenLayers;
}

/**
 * Estimates memory for a mode: weights, gradients and AdamW moments of the trainable parameters,
 * and activations for `shape` (rough: the tensors a training step keeps per layer, attention
 * scores included; for `frozen`, the peak of one layer). An estimate to refuse hopeless runs
 * early, not an exact figure.
 */
export function estimateMemory(
  config: DecoderConfig,
  mode: TrainingMode,
  shape: ActivationShape = { batchSize: 1, sequenceLength: 512 },
  lora: LoraOptions = { rank: 8 },
): MemoryEstimate {
  const parameters = countParameters(config);
  const adapters = mode === "lora" ? countLoraParameters(config, lora) : 0;
  const trainableParameters = mode === "full" ? parameters : adapters;
  const tokens = shape.batchSize * shape.sequenceLength;
  const {
    hiddenSize: h,
    intermediateSize: m,
    numAttentionHeads: heads,
    numKeyValueHeads: kv,
    headDim: d,
  } = config;
  const scores = shape.batchSize * heads * shape.sequenceLength * shape.sequenceLength;
  // Per layer a training step keeps ~8 hidden-sized tensors (residuals, norms, projections),
  // q/k/v before and after RoPE, 4 intermediate-sized ones (gate, sigmoid, product, up) and the
  // scores, mask sum and probabilities.
  // The factor is measured, not derived: tfjs keeps more per op than the count above (every input and
  // output a gradient needs, softmax's pieces, the backward's transients, the allocator's slack).
  // Peak resident memory of a full training step on wasm, minus the weights and optimizer state, was
  // 3.4x the count for torch-peer M (batch 8 x 256) and 4.7x for L (batch 1 x 512); L at batch 4 x 512,
  // counted 1.67 GiB in all before this factor, overflowed wasm's 4 GiB.
  const perLayerKept =
    TRAINING_ACTIVATION_FACTOR * (tokens * (8 * h + 2 * (heads * d + 2 * kv * d) + 4 * m) + 3 * scores);
  const logitFloats = shape.logits === true ? 2 * tokens * config.vocabSize : 0;
  const activationFloats =
    mode === "frozen"
      ? tokens * (4 * h + 3 * m + 2 * heads * d) + 2 * scores + logitFloats / 2
      : config.numHiddenLayers * perLayerKept + logitFloats;
  const weightBytes = 4 * (parameters + adapters);
  const gradientBytes = 4 * trainableParameters;
  const optimizerBytes = 8 * trainableParameters;
  const activationBytes = 4 * activationFloats;
  return {
    mode,
    parameters,
    trainableParameters,
    weightBytes,
    gradientBytes,
    optimizerBytes,
    activationBytes,
    totalBytes: weightBytes + gradientBytes + optimizerBytes + activationBytes,
  };
}

/**
 * The memory a TF.js backend can address: 4 GiB for wasm (32-bit memory), the machine's RAM for
 * the others (cpu keeps tensors in JS typed arrays; tfjs-node in native memory).
 */
export function backendMemoryLimitBytes(backendName: string): number {
  return backendName === "wasm" ? WASM_MEMORY_LIMIT_BYTES : totalmem();
}

/** Bytes as GiB with two decimals, for messages. */
export function formatGiB(bytes: number): string {
  return `${(bytes / GIB).toFixed(2)} GiB`;
}

/** A model (or batch) that does not fit the backend's memory. */
export class MemoryLimitError extends Error {
  /** The estimate that failed. */
  readonly estimate: MemoryEstimate;
  /** The backend's limit in bytes. */
  readonly limitBytes: number;

  constructor(message: string, estimate: MemoryEstimate, limitBytes: number) {
    super(message);
    this.name = "MemoryLimitError";
    this.estimate = estimate;
    this.limitBytes = limitBytes;
  }
}

/**
 * Throws when `mode` with `shape` does not fit `backendName`'s memory; the message gives the
 * estimate's parts and what would fit (other modes, a smaller batch).
 * @throws MemoryLimitError.
 */
export function assertFitsMemory(
  config: DecoderConfig,
  mode: TrainingMode,
  backendName: string,
  shape?: ActivationShape,
  lora?: LoraOptions,
): MemoryEstimate {
  const limit = backendMemoryLimitBytes(backendName);
  const estimate = estimateMemory(config, mode, shape, lora);
  if (estimate.totalBytes <= limit) return estimate;
  // For every mode, the largest batch (up to the requested one) that fits.
  const alternatives: string[] = [];
  const batch = shape?.batchSize ?? 1;
  for (const candidateMode of ["full", "lora", "frozen"] as const) {
    for (let candidateBatch = batch; candidateBatch >= 1; candidateBatch--) {
      if (candidateMode === mode && candidateBatch === batch) continue;
      const candidateShape = { sequenceLength: 512, ...shape, batchSize: candidateBatch };
      const candidate = estimateMemory(config, candidateMode, candidateShape, lora);
      if (candidate.totalBytes <= limit) {
        alternatives.push(
          `${candidateMode} with batch size ${candidateBatch} (${formatGiB(candidate.totalBytes)})`,
        );
        break;
      }
    }
  }
  const message =
    `${config.modelType} with ${(estimate.parameters / 1e6).toFixed(1)}M parameters needs about ${formatGiB(estimate.totalBytes)} ` +
    `in ${mode} mode on ${backendName} (limit ${formatGiB(limit)}): weights ${formatGiB(estimate.weightBytes)}, ` +
    `gradients ${formatGiB(estimate.gradientBytes)}, AdamW moments ${formatGiB(estimate.optimizerBytes)}, ` +
    `activations ${formatGiB(estimate.activationBytes)}. ` +
    (alternatives.length > 0
      ? `Would fit: ${alternatives.join("; ")}.`
      : "No mode fits this backend; install @tensorflow/tfjs-node (or -gpu) for more memory.");
  throw new MemoryLimitError(message, estimate, limit);
}
