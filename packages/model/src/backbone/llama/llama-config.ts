import type { ConfigReader, DecoderConfig, SlidingWindowRule } from "../decoder-config.js";
import { resolveLlamaFamilyConfig } from "../decoder-config.js";

/** transformers' `MistralConfig` default for `sliding_window`, used when config.json lacks the field. */
export const MISTRAL_DEFAULT_SLIDING_WINDOW = 4096;

function llamaBiases(reader: ConfigReader): { qkvBias: boolean; outputBias: boolean; mlpBias: boolean } {
  const attentionBias = reader.boolean("attention_bias", false);
  return { qkvBias: attentionBias, outputBias: attentionBias, mlpBias: reader.boolean("mlp_bias", false) };
}

/**
 * Resolves a `LlamaForCausalLM` config.json: `attention_bias` puts a bias on q, k, v and o_proj,
 * `mlp_bias` on gate, up and down (both default false). Llama has no sliding window: a
 * `sliding_window` field is ignored, as transformers' Llama ignores it.
 * @throws ModelLoadError naming the field when a value is missing or invalid.
 */
export function resolveLlamaConfig(reader: ConfigReader): DecoderConfig {
  return resolveLlamaFamilyConfig(reader, llamaBiases(reader));
}

/**
 * Mistral's rule: every layer attends through `sliding_window` (null: no window; absent: 4096,
 * `MistralConfig`'s default). transformers' Mistral ignores `layer_types`, and so does this.
 */
const mistralSlidingWindows: SlidingWindowRule = (reader, numHiddenLayers) => {
  const window = reader.optionalPositiveInteger("sliding_window", MISTRAL_DEFAULT_SLIDING_WINDOW);
  return new Array<number | null>(numHiddenLayers).fill(window);
};

/**
 * Resolves a `MistralForCausalLM` config.json: Llama's code and fields, with sliding-window
 * attention on every layer (see `DecoderConfig.slidingWindow` for the window's convention).
 * @throws ModelLoadError naming the field when a value is missing or invalid.
 */
export function resolveMistralConfig(reader: ConfigReader): DecoderConfig {
  return resolveLlamaFamilyConfig(reader, llamaBiases(reader), mistralSlidingWindows);
}
