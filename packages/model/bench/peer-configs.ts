// The S / M / L shapes of ../shared/bench/torch-peer (same vocabulary, sizes, sequence and batch), and
// the Qwen2-style decoder the peer builds, shared by the model benchmarks.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRandomDecoder } from "../src/backbone/create-random-decoder.js";
import type { DecoderBackbone } from "../src/backbone/decoder-backbone.js";

export const CONFIGS = {
  S: { vocab: 512, hidden: 128, layers: 2, heads: 4, kvHeads: 2, intermediate: 344, seq: 128, batch: 16 },
  M: { vocab: 4096, hidden: 256, layers: 4, heads: 8, kvHeads: 4, intermediate: 688, seq: 256, batch: 8 },
  L: { vocab: 32000, hidden: 512, layers: 6, heads: 8, kvHeads: 8, intermediate: 1376, seq: 512, batch: 4 },
} as const;
export type ConfigName = keyof typeof CONFIGS;

/** The median of a non-empty list. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A random decoder shaped like the peer's: Qwen2-style q/k/v biases, RoPE theta 1e6, eps 1e-6, tied head. */
export function peerDecoder(name: ConfigName): DecoderBackbone {
  const shape = CONFIGS[name];
  return createRandomDecoder(
    {
      model_type: "qwen2",
      vocab_size: shape.vocab,
      hidden_size: shape.hidden,
      num_hidden_layers: shape.layers,
      num_attention_heads: shape.heads,
      num_key_value_heads: shape.kvHeads,
      intermediate_size: shape.intermediate,
      rope_theta: 1_000_000,
      rms_norm_eps: 1e-6,
      tie_word_embeddings: true,
      max_position_embeddings: shape.seq,
    },
    0,
  );
}

/** The PyTorch peer's folder: `../shared/bench/torch-peer` beside the checkout, or under `PQM_SHARED_DIR`. */
export const PEER_DIR: string = process.env.PQM_SHARED_DIR
  ? resolve(process.env.PQM_SHARED_DIR, "bench", "torch-peer")
  : resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "shared", "bench", "torch-peer");
