import type { DecoderConfigJson } from "./create-random-decoder.js";

/** Names of the from-scratch model sizes. */
export type DecoderSizePreset = "tiny" | "small" | "medium" | "large";

// Llama-style shapes; small/medium/large are the torch-peer benchmark's S/M/L configurations.
const presets: Record<DecoderSizePreset, Record<string, number>> = {
  /** ~0.1M parameters + embeddings: unit tests. */
  tiny: {
    hidden_size: 64,
    intermediate_size: 172,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
  },
  /** ~0.4M + embeddings: torch-peer S. */
  small: {
    hidden_size: 128,
    intermediate_size: 344,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
  },
  /** ~3M + embeddings: torch-peer M. */
  medium: {
    hidden_size: 256,
    intermediate_size: 688,
    num_hidden_layers: 4,
    num_attention_heads: 8,
    num_key_value_heads: 4,
  },
  /** ~19M + embeddings: torch-peer L. */
  large: {
    hidden_size: 512,
    intermediate_size: 1376,
    num_hidden_layers: 6,
    num_attention_heads: 8,
    num_key_value_heads: 8,
  },
};

/** The preset names, smallest first. */
export const decoderSizePresets: readonly DecoderSizePreset[] = ["tiny", "small", "medium", "large"];

/**
 * A Llama config.json object for a preset size and a tokenizer's vocabulary (tied embeddings,
 * RoPE theta 10000, eps 1e-6, initializer_range 0.02, no biases).
 * @throws Error for an unknown preset name.
 */
export function presetDecoderConfig(
  preset: DecoderSizePreset,
  vocabSize: number,
  overrides: DecoderConfigJson = {},
): DecoderConfigJson {
  const shape = presets[preset];
  if (shape === undefined)
    throw new Error(`unknown size preset '${preset}'; known: ${decoderSizePresets.join(", ")}`);
  return {
    model_type: "llama",
    architectures: ["LlamaForCausalLM"],
    vocab_size: vocabSize,
    ...shape,
    hidden_act: "silu",
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    initializer_range: 0.02,
    tie_word_embeddings: true,
    attention_bias: false,
    mlp_bias: false,
    torch_dtype: "float32",
    ...overrides,
  };
}
