import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { registerGradients } from "@pqm/core";
import * as tf from "@tensorflow/tfjs-core";
import { installFastWasmMatMul } from "../tfjs-backends/fast-wasm-matmul.js";
import type { DecoderBuildOptions } from "./decoder-backbone.js";
import { DecoderBackbone } from "./decoder-backbone.js";
import type { DecoderConfig } from "./decoder-config.js";
import type { ActivationShape } from "./memory-estimate.js";
import { assertFitsMemory } from "./memory-estimate.js";
import { ModelLoadError } from "./model-load-error.js";
import { resolveDecoderConfig } from "./model-registry.js";
import { openSafetensorsCheckpoint } from "./safetensors/read-safetensors.js";

/** Options of `loadPretrained`. */
export interface LoadPretrainedOptions extends DecoderBuildOptions {
  /** Batch shape the memory check assumes. Default batch 1, sequence 512. */
  memoryShape?: ActivationShape;
  /** Skip the memory check (not recommended on wasm). */
  skipMemoryCheck?: boolean;
}

/**
 * Reads and resolves `folder/config.json` through the architecture registry.
 * @throws ModelLoadError when the file is missing, not JSON, has an unknown `model_type` (the
 *   message lists the known ones) or a bad field.
 */
export async function readDecoderConfig(folder: string): Promise<DecoderConfig> {
  const path = join(folder, "config.json");
  if (!existsSync(path)) throw new ModelLoadError(path, undefined, "not found");
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (cause) {
    throw new ModelLoadError(path, undefined, "not valid JSON", { cause });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new ModelLoadError(path, undefined, "not a JSON object");
  return resolveDecoderConfig(raw as Record<string, unknown>, path);
}

/**
 * Loads a Hugging Face decoder checkpoint (`config.json` + `model.safetensors` or sharded
 * safetensors) into a float32 `DecoderBackbone` on the active TF.js backend. Estimates memory
 * first and refuses what cannot fit. On wasm, installs the fast BatchMatMul kernel.
 * Tensors are looked up by their exact Hugging Face names; F16/BF16 are widened to float32;
 * `lm_head.weight` is taken from `embed_tokens.weight` when `tie_word_embeddings` is true.
 * @throws ModelLoadError naming the file and field/tensor (missing tensor, wrong shape, unknown
 *   model_type, bad config); MemoryLimitError with the estimate and what would fit.
 */
export async function loadPretrained(
  folder: string,
  options: LoadPretrainedOptions = {},
): Promise<DecoderBackbone> {
  registerGradients();
  const config = await readDecoderConfig(folder);
  const mode = options.mode ?? (options.lora === undefined ? "full" : "lora");
  if (options.skipMemoryCheck !== true)
    assertFitsMemory(config, mode, tf.getBackend(), options.memoryShape, options.lora);
  if (tf.getBackend() === "wasm") installFastWasmMatMul();
  const checkpoint = await openSafetensorsCheckpoint(folder);
  return new DecoderBackbone(
    config,
    (name, shape) => {
      const { file, entry } = checkpoint.locate(name);
      if (!tf.util.arraysEqual(entry.shape, shape)) {
        throw new ModelLoadError(
          file.file,
          name,
          `expected shape [${shape.join(", ")}], got [${entry.shape.join(", ")}]`,
        );
      }
      return tf.tensor(file.float32(name), shape, "float32");
    },
    { ...options, mode },
  );
}
