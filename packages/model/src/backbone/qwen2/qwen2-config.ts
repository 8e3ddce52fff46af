import type { ConfigReader, DecoderConfig, SlidingWindowRule } from "../decoder-config.js";
import { resolveLlamaFamilyConfig } from "../decoder-config.js";
import { ModelLoadError } from "../model-load-error.js";

/** transformers' `Qwen2Config` defaults for the fields of its sliding window. */
export const QWEN2_SLIDING_WINDOW_DEFAULTS = { slidingWindow: 4096, maxWindowLayers: 28 } as const;

const LAYER_TYPES = ["full_attention", "sliding_attention"] as const;

/**
 * Qwen2's rule, as `Qwen2Config` resolves it: no window unless `use_sliding_window` (default false);
 * then `sliding_window` (default 4096; null: none) on the layers `layer_types` marks
 * `sliding_attention`, or, without `layer_types`, on layers `max_window_layers` (default 28) and up.
 */
const qwen2SlidingWindows: SlidingWindowRule = (reader, numHiddenLayers) => {
  const window = reader.boolean("use_sliding_window", false)
    ? reader.optionalPositiveInteger("sliding_window", QWEN2_SLIDING_WINDOW_DEFAULTS.slidingWindow)
    : null;
  const layerTypes = reader.raw.layer_types;
  if (layerTypes === undefined || layerTypes === null) {
    const first = reader.nonNegativeInteger(
      "max_window_layers",
      QWEN2_SLIDING_WINDOW_DEFAULTS.maxWindowLayers,
    );
    return Array.from({ length: numHiddenLayers }, (_, layer) => (layer >= first ? window : null));
  }
  if (
    !Array.isArray(layerTypes) ||
    layerTypes.length !== numHiddenLayers ||
    !layerTypes.every((type) => (LAYER_TYPES as readonly unknown[]).includes(type))
  ) {
    throw new ModelLoadError(
      reader.file,
      "layer_types",
      `expected ${numHiddenLayers} entries (num_hidden_layers), each ${LAYER_TYPES.join(" or ")}, got ${JSON.stringify(layerTypes)}`,
    );
  }
  if (window === null && layerTypes.includes("sliding_attention")) {
    throw new ModelLoadError(
      reader.file,
      "layer_types",
      "lists sliding_attention layers, but there is no sliding window (use_sliding_window is false or sliding_window is null)",
    );
  }
  return layerTypes.map((type) => (type === "sliding_attention" ? window : null));
};

/**
 * Resolves a `Qwen2ForCausalLM` config.json: Qwen2 always has q/k/v biases and never an o_proj or
 * MLP bias; its sliding window follows `use_sliding_window`, `sliding_window`, `max_window_layers`
 * and `layer_types`; otherwise it is a Llama decoder.
 * @throws ModelLoadError naming the field when a value is missing or invalid.
 */
export function resolveQwen2Config(reader: ConfigReader): DecoderConfig {
  return resolveLlamaFamilyConfig(
    reader,
    { qkvBias: true, outputBias: false, mlpBias: false },
    qwen2SlidingWindows,
  );
}
