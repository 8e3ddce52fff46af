import type { ConfigReader, DecoderConfig } from "../decoder-config.js";
import { resolveLlamaFamilyConfig } from "../decoder-config.js";

/**
 * Resolves a `LlamaForCausalLM` (or `MistralForCausalLM`) config.json: `attention_bias` puts a bias
 * on q, k, v and o_proj, `mlp_bias` on gate, up and down (both default false).
 * @throws ModelLoadError naming the field when a value is missing or invalid.
 */
export function resolveLlamaConfig(reader: ConfigReader): DecoderConfig {
  const attentionBias = reader.boolean("attention_bias", false);
  return resolveLlamaFamilyConfig(reader, {
    qkvBias: attentionBias,
    outputBias: attentionBias,
    mlpBias: reader.boolean("mlp_bias", false),
  });
}
