import { ModelLoadError } from "./model-load-error.js";

/** RoPE frequency scaling (`rope_scaling` in config.json); only the kinds implemented here. */
export type RopeScaling =
  | { type: "linear"; factor: number }
  | {
      type: "llama3";
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

/**
 * The resolved configuration of a Llama-family decoder (Llama, Qwen2, Mistral), with every default
 * applied and every field checked. `raw` keeps config.json as read, for saving checkpoints.
 */
export interface DecoderConfig {
  /** config.json's `model_type` (`llama`, `qwen2`, `mistral`). */
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  /** Per-head size: `head_dim` when given, else hidden_size / num_attention_heads. */
  headDim: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  /** Bias on q_proj, k_proj and v_proj (Qwen2 always; Llama with `attention_bias`). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama with `attention_bias`; never Qwen2). */
  outputBias: boolean;
  /** Bias on gate_proj, up_proj, down_proj (Llama `mlp_bias`). */
  mlpBias: boolean;
  /** Standard deviation of the N(0, σ²) initialization of matrices and embeddings. */
  initializerRange: number;
  maxPositionEmbeddings: number;
  padTokenId: number | null;
  /**
   * Sliding-window attention span W of the layers that have one (Mistral; Qwen2 with
   * `use_sliding_window`), null when no layer has a window. A query at index t of the padded row
   * reads key s when s ≤ t and t − s < W: itself and at most the W − 1 keys before it, as
   * transformers' `sliding_window_overlay` (`kv_idx > q_idx - sliding_window`).
   */
  slidingWindow: number | null;
  /**
   * Per decoder layer (length `numHiddenLayers`): its sliding window, or null for full causal
   * attention. Mistral windows every layer; Qwen2 the layers its `layer_types` marks
   * `sliding_attention` (by default those from `max_window_layers` on); Llama none.
   */
  layerSlidingWindows: readonly (number | null)[];
  /** config.json as read (or as given to `createRandomDecoder`), snake_case keys. */
  raw: Readonly<Record<string, unknown>>;
}

/** Reads config.json fields with checks; errors name the file and the field. */
export class ConfigReader {
  constructor(
    readonly raw: Readonly<Record<string, unknown>>,
    readonly file: string,
  ) {}

  /** A positive integer field; `fallback` when absent (or the error when no fallback). */
  positiveInteger(field: string, fallback?: number): number {
    const value = this.raw[field] ?? fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
      throw new ModelLoadError(this.file, field, `expected a positive integer, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  /** A non-negative integer field; `fallback` when absent. */
  nonNegativeInteger(field: string, fallback?: number): number {
    const value = this.raw[field] ?? fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      throw new ModelLoadError(
        this.file,
        field,
        `expected a non-negative integer, got ${JSON.stringify(value)}`,
      );
    }
    return value;
  }

  /**
   * A window size that may be switched off: `fallback` when the field is absent, null when it is
   * null, else a positive integer.
   */
  optionalPositiveInteger(field: string, fallback: number | null): number | null {
    if (!(field in this.raw)) return fallback;
    if (this.raw[field] === null) return null;
    return this.positiveInteger(field);
  }

  /** A positive finite number field. */
  positiveNumber(field: string, fallback?: number): number {
    const value = this.raw[field] ?? fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      throw new ModelLoadError(this.file, field, `expected a positive number, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  /** A boolean field. */
  boolean(field: string, fallback: boolean): boolean {
    const value = this.raw[field] ?? fallback;
    if (typeof value !== "boolean")
      throw new ModelLoadError(this.file, field, `expected true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  /** A string field. */
  string(field: string, fallback?: string): string {
    const value = this.raw[field] ?? fallback;
    if (typeof value !== "string")
      throw new ModelLoadError(this.file, field, `expected a string, got ${JSON.stringify(value)}`);
    return value;
  }
}

/**
 * Which layers of a decoder attend through a sliding window: `(layers) => per-layer window or
 * null`. Each architecture module reads its own fields (see `DecoderConfig.layerSlidingWindows`).
 */
export type SlidingWindowRule = (reader: ConfigReader, numHiddenLayers: number) => (number | null)[];

/** No layer has a window (Llama: transformers' Llama ignores a `sliding_window` field). */
export const noSlidingWindow: SlidingWindowRule = (_reader, numHiddenLayers) =>
  new Array<number | null>(numHiddenLayers).fill(null);

/**
 * Resolves the fields every Llama-family config shares. Architecture modules pass the bias flags,
 * which differ (Qwen2 fixes them, Llama reads `attention_bias` / `mlp_bias`), and their sliding
 * window rule (default: none).
 * @throws ModelLoadError naming the file and field for a missing or invalid value.
 */
export function resolveLlamaFamilyConfig(
  reader: ConfigReader,
  biases: { qkvBias: boolean; outputBias: boolean; mlpBias: boolean },
  slidingWindows: SlidingWindowRule = noSlidingWindow,
): DecoderConfig {
  const hiddenSize = reader.positiveInteger("hidden_size");
  const numAttentionHeads = reader.positiveInteger("num_attention_heads");
  const numKeyValueHeads = reader.positiveInteger("num_key_value_heads", numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw new ModelLoadError(
      reader.file,
      "num_key_value_heads",
      `${numKeyValueHeads} does not divide num_attention_heads ${numAttentionHeads}`,
    );
  }
  const rawHeadDim = reader.raw.head_dim;
  const headDim =
    rawHeadDim === undefined || rawHeadDim === null
      ? hiddenSize / numAttentionHeads
      : reader.positiveInteger("head_dim");
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ModelLoadError(
      reader.file,
      "head_dim",
      `head size ${headDim} must be an even integer for rotary embeddings`,
    );
  }
  // transformers v5 moves rope_theta / rope_scaling into rope_parameters.
  const ropeParameters = reader.raw.rope_parameters as Record<string, unknown> | undefined | null;
  const ropeThetaRaw = reader.raw.rope_theta ?? ropeParameters?.rope_theta ?? 10000;
  const ropeTheta = new ConfigReader({ rope_theta: ropeThetaRaw }, reader.file).positiveNumber("rope_theta");
  const scalingRaw =
    reader.raw.rope_scaling ??
    (ropeParameters && ropeParameters.rope_type !== "default" ? ropeParameters : null);
  const padTokenId = reader.raw.pad_token_id;
  const numHiddenLayers = reader.positiveInteger("num_hidden_layers");
  const layerSlidingWindows = slidingWindows(reader, numHiddenLayers);
  const windowed = layerSlidingWindows.filter((window): window is number => window !== null);
  return {
    modelType: reader.string("model_type"),
    vocabSize: reader.positiveInteger("vocab_size"),
    hiddenSize,
    intermediateSize: reader.positiveInteger("intermediate_size"),
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    ropeTheta,
    ropeScaling: resolveRopeScaling(scalingRaw, reader.file),
    rmsNormEps: reader.positiveNumber("rms_norm_eps", 1e-6),
    tieWordEmbeddings: reader.boolean("tie_word_embeddings", false),
    ...biases,
    initializerRange: reader.positiveNumber("initializer_range", 0.02),
    maxPositionEmbeddings: reader.positiveInteger("max_position_embeddings", 2048),
    padTokenId: typeof padTokenId === "number" ? padTokenId : null,
    // Every rule gives windowed layers one span (transformers reads the single `sliding_window`).
    slidingWindow: windowed[0] ?? null,
    layerSlidingWindows,
    raw: reader.raw,
  };
}

function resolveRopeScaling(raw: unknown, file: string): RopeScaling | null {
  if (raw === null || raw === undefined) return null;
  if (typeof raw !== "object")
    throw new ModelLoadError(file, "rope_scaling", `expected an object or null, got ${JSON.stringify(raw)}`);
  const scaling = new ConfigReader(raw as Record<string, unknown>, file);
  const record = raw as Record<string, unknown>;
  const type = record.rope_type ?? record.type;
  if (type === "default") return null;
  if (type === "linear") return { type: "linear", factor: scaling.positiveNumber("factor") };
  if (type === "llama3") {
    return {
      type: "llama3",
      factor: scaling.positiveNumber("factor"),
      lowFreqFactor: scaling.positiveNumber("low_freq_factor"),
      highFreqFactor: scaling.positiveNumber("high_freq_factor"),
      originalMaxPositionEmbeddings: scaling.positiveInteger("original_max_position_embeddings"),
    };
  }
  throw new ModelLoadError(
    file,
    "rope_scaling.rope_type",
    `RoPE scaling ${JSON.stringify(type)} is not implemented (supported: default, linear, llama3)`,
  );
}
