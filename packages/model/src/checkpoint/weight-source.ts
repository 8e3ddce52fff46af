import * as tf from "@tensorflow/tfjs-core";
import type { WeightSource } from "../backbone/decoder-backbone.js";
import { extendEmbeddingTable, fillRowsWithMean } from "../backbone/embedding-init.js";
import { ModelLoadError } from "../backbone/model-load-error.js";
import type { SafetensorsCheckpoint } from "../backbone/safetensors/read-safetensors.js";

/** The prefix TRL's `AutoModelForCausalLMWithValueHead.save_pretrained` puts before backbone names. */
export const TRL_BACKBONE_PREFIX = "pretrained_model.";

/** Options of {@link checkpointWeightSource}. */
export interface CheckpointWeightSourceOptions {
  /**
   * Rows of the stored vocabulary tables (`embed_tokens`, `lm_head`) that hold trained tokens. When the
   * model asks for more rows than stored (a step tag was added), the new rows get the mean of these.
   * Default: every stored row.
   */
  trainedVocabRows?: number;
  /** Rows inside the stored table to overwrite with that mean (a tag id among Qwen2's spare rows). */
  fillRows?: readonly number[];
}

/**
 * Where the backbone's weights sit in a checkpoint: under their own names (Hugging Face) or under
 * `pretrained_model.` (TRL's value-head models). Throws ModelLoadError when neither is present.
 */
export function backbonePrefix(checkpoint: SafetensorsCheckpoint): string {
  if (checkpoint.has("model.embed_tokens.weight")) return "";
  if (checkpoint.has(`${TRL_BACKBONE_PREFIX}model.embed_tokens.weight`)) return TRL_BACKBONE_PREFIX;
  throw new ModelLoadError(
    checkpoint.folder,
    "model.embed_tokens.weight",
    `tensor not found, neither bare nor under the '${TRL_BACKBONE_PREFIX}' prefix`,
  );
}

/**
 * A {@link WeightSource} reading a safetensors checkpoint for `DecoderBackbone`: bare or TRL-prefixed
 * names, half floats widened, and the vocabulary tables grown (new rows = mean of the trained rows) when
 * the model's vocabulary is larger than the stored one.
 * @throws ModelLoadError naming the file and tensor for a missing or misshapen tensor.
 */
export function checkpointWeightSource(
  checkpoint: SafetensorsCheckpoint,
  options: CheckpointWeightSourceOptions = {},
): WeightSource {
  const prefix = backbonePrefix(checkpoint);
  return (name, shape) => {
    const { file, entry } = checkpoint.locate(prefix + name);
    const isVocabTable = name === "model.embed_tokens.weight" || name === "lm_head.weight";
    if (isVocabTable && entry.shape.length === 2 && entry.shape[1] === shape[1]) {
      const storedRows = entry.shape[0] as number;
      const wantedRows = shape[0] as number;
      const hidden = shape[1] as number;
      let table = file.float32(prefix + name);
      if (wantedRows > storedRows) {
        table = extendEmbeddingTable(table, hidden, wantedRows, { meanOfRows: options.trainedVocabRows });
      } else if (wantedRows < storedRows) {
        throw new ModelLoadError(
          file.file,
          prefix + name,
          `stored ${storedRows} rows but the config asks for ${wantedRows}: a vocabulary never shrinks`,
        );
      }
      if (options.fillRows !== undefined && options.fillRows.length > 0) {
        table = fillRowsWithMean(table, hidden, options.fillRows, { meanOfRows: options.trainedVocabRows });
      }
      return tf.tensor(table, shape, "float32");
    }
    if (!tf.util.arraysEqual(entry.shape, shape)) {
      throw new ModelLoadError(
        file.file,
        prefix + name,
        `expected shape [${shape.join(", ")}], got [${entry.shape.join(", ")}]`,
      );
    }
    return tf.tensor(file.float32(prefix + name), shape, "float32");
  };
}
