import type { ConfigReader, DecoderConfig } from "../decoder-config.js";
import { resolveLlamaFamilyConfig } from "../decoder-config.js";

/**
 * Resolves a `Qwen2ForCausalLM` config.json: Qwen2 always has q/k/v biases and never an o_proj or
 * MLP bias; otherwise it is a Llama decoder.
 * @throws ModelLoadError naming the field when a value is missing or invalid.
 */
export function resolveQwen2Config(reader: ConfigReader): DecoderConfig {
  return resolveLlamaFamilyConfig(reader, { qkvBias: true, outputBias: false, mlpBias: false });
}
