// Shared by the tests that read the golden decoder fixtures (not exported from the package). The
// fixtures live in the repository (test/fixtures/golden-decoders, made by the script there), so
// these tests run in any clone.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The fixture folder of this package: test/fixtures/golden-decoders. */
export const goldenDecodersRoot: string = fileURLToPath(
  new URL("../../test/fixtures/golden-decoders/", import.meta.url),
);

/**
 * The tiny checkpoints: untied Qwen2 (window switched off), tied Llama, untied Mistral with a sliding
 * window of 5, tied Mistral with a window of 4 over sequences of 12-20 tokens, tied Qwen2 with a window
 * of 3 on its layers 1 and 2 only (`use_sliding_window`, `max_window_layers: 1`).
 */
export const goldenDecoderModels = [
  "qwen2-tiny",
  "llama-tiny",
  "mistral-tiny",
  "mistral-long",
  "qwen2-window",
] as const;
export type GoldenDecoderModel = (typeof goldenDecoderModels)[number];

/** Absolute path of a golden model's folder, or of a file in it. */
export function goldenDecoderPath(model: GoldenDecoderModel, ...file: string[]): string {
  return join(goldenDecodersRoot, model, ...file);
}

/** Rows of `[position][value]`, `null` at padded positions. */
export type GoldenMatrix = (number[] | null)[];

/** One padded batch of the three test sequences (`right_padding` or `left_padding`). */
export interface GoldenCase {
  input_ids: number[][];
  attention_mask: number[][];
  position_ids: number[][];
  /** True when the case passes `position_ids` (left padding); right padding uses 0..T−1. */
  position_ids_passed: boolean;
  last_real_index: number[];
  /** `[batch][position][hidden]` after the final norm. */
  hidden_states: GoldenMatrix[];
  /** `[batch][position][vocab]`. */
  logits: GoldenMatrix[];
}

/** expected.json of one golden model (the fields the tests read). */
export interface GoldenExpected {
  /** The unpadded token sequences of the cases' rows. */
  sequences: number[][];
  cases: Record<"right_padding" | "left_padding", GoldenCase>;
  value_head: { weight: number[]; bias: number; values: Record<string, number[]> };
  unit: {
    rms_norm: { eps: number; x: number[][]; y: number[][] };
    rope: { positions: number[]; q: number[]; q_rotated: number[][] };
  };
  debug: {
    embedding_seq0: number[][];
    layers_seq0: { after_attention: number[][]; after_mlp: number[][] }[];
    rope_inv_freq: number[];
    rope_cos: number[][];
    rope_sin: number[][];
  };
}

/** Reads and parses a golden model's expected.json. */
export function readGoldenExpected(model: GoldenDecoderModel): GoldenExpected {
  return JSON.parse(readFileSync(goldenDecoderPath(model, "expected.json"), "utf8")) as GoldenExpected;
}
