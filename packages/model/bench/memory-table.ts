// The README's memory table: `estimateMemory` at batch 4 x 512 (value head, no logits) for the
// torch-peer shapes and three public checkpoints' shapes, in each mode, against wasm's 4 GiB.
//   node --import tsx bench/memory-table.ts

import { estimateMemory, formatGiB, WASM_MEMORY_LIMIT_BYTES } from "../src/backbone/memory-estimate.js";
import { resolveDecoderConfig } from "../src/backbone/model-registry.js";
import { CONFIGS } from "./peer-configs.js";

const qwen = { model_type: "qwen2", vocab_size: 151936, tie_word_embeddings: true, rope_theta: 1e6 };
const shapes: [string, Record<string, unknown>][] = [
  ...(["S", "M", "L"] as const).map((name): [string, Record<string, unknown>] => {
    const c = CONFIGS[name];
    const preset = { S: "small", M: "medium", L: "large" }[name];
    return [
      `torch-peer ${name} (\`${preset}\`)`,
      {
        model_type: "qwen2",
        vocab_size: c.vocab,
        hidden_size: c.hidden,
        num_hidden_layers: c.layers,
        num_attention_heads: c.heads,
        num_key_value_heads: c.kvHeads,
        intermediate_size: c.intermediate,
        tie_word_embeddings: true,
      },
    ];
  }),
  [
    "Qwen2.5-0.5B",
    {
      ...qwen,
      hidden_size: 896,
      num_hidden_layers: 24,
      num_attention_heads: 14,
      num_key_value_heads: 2,
      intermediate_size: 4864,
    },
  ],
  [
    "Llama-3.2-1B",
    {
      model_type: "llama",
      vocab_size: 128256,
      tie_word_embeddings: true,
      hidden_size: 2048,
      num_hidden_layers: 16,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      intermediate_size: 8192,
    },
  ],
  [
    "Qwen2.5-1.5B",
    {
      ...qwen,
      hidden_size: 1536,
      num_hidden_layers: 28,
      num_attention_heads: 12,
      num_key_value_heads: 2,
      intermediate_size: 8960,
    },
  ],
];
const shape = { batchSize: 4, sequenceLength: 512 };
console.log("| model | parameters | full | LoRA r=8 (all projections) | frozen |");
console.log("|---|---|---|---|---|");
for (const [label, raw] of shapes) {
  const config = resolveDecoderConfig(raw, label);
  const cells = (["full", "lora", "frozen"] as const).map((mode) => {
    const estimate = estimateMemory(config, mode, shape);
    const fits = estimate.totalBytes <= WASM_MEMORY_LIMIT_BYTES;
    return `${formatGiB(estimate.totalBytes)} ${fits ? "fits" : "**no**"}`;
  });
  const parameters = estimateMemory(config, "frozen", shape).parameters;
  console.log(`| ${label} | ${(parameters / 1e6).toFixed(1)}M | ${cells.join(" | ")} |`);
}
