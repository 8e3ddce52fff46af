import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JsonValue } from "@pqm/core";
import type { AtomicFolderOptions } from "@pqm/data";
import { writeFolderAtomic } from "@pqm/data";
import * as tf from "@tensorflow/tfjs-core";
import type { Float32TensorData } from "../backbone/safetensors/write-safetensors.js";
import { serializeSafetensors } from "../backbone/safetensors/write-safetensors.js";
import type { ProcessRewardModel } from "../prm/process-reward-model.js";
import type { PqmMetadata, SavedTrainingState } from "./checkpoint-format.js";
import { CHECKPOINT_FILES, PQM_CHECKPOINT_FORMAT } from "./checkpoint-format.js";
import { MODEL_PACKAGE_VERSION } from "./package-version.js";
import { fileRecord } from "./verify-checkpoint.js";

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions extends AtomicFolderOptions {
  /** Loss name for `pqm.json` (default null). */
  loss?: string | null;
  /** Margin zeta for `pqm.json` (default null). */
  zeta?: number | null;
  /** Optimizer steps done (default 0). */
  step?: number;
  /** The training configuration, as JSON data. */
  training?: { [key: string]: JsonValue } | null;
  /** Write `training-state/` so training can resume from this checkpoint. */
  trainingState?: SavedTrainingState;
}

/** The tensors' values (read asynchronously, all at once: WebGPU cannot read synchronously in Node); disposes them. */
async function tensorsToData(tensors: Map<string, tf.Tensor>): Promise<Map<string, Float32TensorData>> {
  const entries = [...tensors];
  try {
    const values = await Promise.all(entries.map(([, tensor]) => tensor.data()));
    const out = new Map<string, Float32TensorData>();
    entries.forEach(([name, tensor], index) => {
      out.set(name, { shape: tensor.shape, data: Float32Array.from(values[index] as Float32Array) });
    });
    return out;
  } finally {
    for (const [, tensor] of entries) tensor.dispose();
  }
}

/**
 * Saves a PRM as a Hugging Face-style folder, atomically (see `writeFolderAtomic` of @pqm/data: a failure or a
 * crash mid-save leaves the previous checkpoint intact):
 * - `config.json`: the backbone's config (vocabulary size including the step tag);
 * - `model.safetensors`: float32 weights under the backbone's standard names (`model.embed_tokens.weight`,
 *   `model.layers.N...`, `lm_head.weight` when untied) and the head as `v_head.summary.weight` /
 *   `v_head.summary.bias` (TRL's names);
 * - `tokenizer.json` + `tokenizer_config.json` with the step tag;
 * - `pqm.json` (see {@link PqmMetadata}), written last, with the size and SHA-256 of every other file;
 * - `training-state/` (`optimizer.safetensors`, `state.json`) when `trainingState` is given.
 * Weights are written bit for bit: loading gives identical scores.
 * @throws Error from the file system, or whatever `onFileWritten` throws.
 */
export async function saveCheckpoint(
  folder: string,
  model: ProcessRewardModel,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  const weights = serializeSafetensors(await tensorsToData(model.namedWeights()), { format: "pt" });
  const config = { ...model.backbone.config.raw, vocab_size: model.backbone.config.vocabSize };
  const metadata: PqmMetadata = {
    format: PQM_CHECKPOINT_FORMAT,
    loss: options.loss ?? null,
    zeta: options.zeta ?? null,
    stepTag: { text: model.stepTag.text, id: model.stepTag.id, mode: model.stepTag.mode },
    encoding: model.spec,
    step: options.step ?? 0,
    training: options.training ?? null,
    versions: {
      "@pqm/model": MODEL_PACKAGE_VERSION,
      "@tensorflow/tfjs-core": tf.version_core,
      node: process.versions.node,
    },
    savedAt: new Date().toISOString(),
  };
  const tokenizerFiles = await tokenizerFileContents(model);
  await writeFolderAtomic(
    folder,
    async (writeFile) => {
      // Every file's size and digest go into pqm.json, written last, so a load can tell a whole
      // checkpoint from a damaged one.
      const files: NonNullable<PqmMetadata["files"]> = {};
      const write = async (name: string, bytes: Uint8Array | string) => {
        files[name] = fileRecord(bytes);
        await writeFile(name, bytes);
      };
      await write(CHECKPOINT_FILES.config, `${JSON.stringify(config, null, 2)}\n`);
      await write(CHECKPOINT_FILES.weights, weights);
      for (const [name, bytes] of tokenizerFiles) await write(name, bytes);
      if (options.trainingState !== undefined) {
        const { state, optimizerMoments } = options.trainingState;
        await write(
          CHECKPOINT_FILES.optimizer,
          serializeSafetensors(optimizerMoments, { format: "pqm-adamw" }),
        );
        await write(CHECKPOINT_FILES.trainingState, `${JSON.stringify(state, null, 2)}\n`);
      }
      await writeFile(CHECKPOINT_FILES.pqm, `${JSON.stringify({ ...metadata, files }, null, 2)}\n`);
    },
    options,
  );
}

/** The tokenizer's files, written by its own `save` into a scratch folder and read back. */
async function tokenizerFileContents(model: ProcessRewardModel): Promise<Map<string, Uint8Array>> {
  const scratch = await mkdtemp(join(tmpdir(), "pqm-tokenizer-"));
  try {
    await model.tokenizer.save(scratch);
    const out = new Map<string, Uint8Array>();
    for (const name of await readdir(scratch)) out.set(name, await readFile(join(scratch, name)));
    return out;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
