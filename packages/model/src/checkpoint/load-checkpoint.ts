import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { registerGradients } from "@pqm/core";
import { findInterruptedSwap } from "@pqm/data";
import * as tf from "@tensorflow/tfjs-core";
import type { DecoderBuildOptions } from "../backbone/decoder-backbone.js";
import { DecoderBackbone } from "../backbone/decoder-backbone.js";
import { readDecoderConfig } from "../backbone/load-pretrained.js";
import { ModelLoadError } from "../backbone/model-load-error.js";
import { resolveDecoderConfig } from "../backbone/model-registry.js";
import { openSafetensorsCheckpoint, readSafetensorsFile } from "../backbone/safetensors/read-safetensors.js";
import type { Float32TensorData } from "../backbone/safetensors/write-safetensors.js";
import type { ScoringBatchOptions } from "../prm/process-reward-model.js";
import { ProcessRewardModel } from "../prm/process-reward-model.js";
import { ValueHead } from "../prm/value-head.js";
import { installFastWasmMatMul } from "../tfjs-backends/fast-wasm-matmul.js";
import { DEFAULT_STEP_TAG } from "../tokenizer/builtin-tokenizer.js";
import { loadTokenizer } from "../tokenizer/hf-tokenizer.js";
import type { PromptTemplate } from "../tokenizer/prompt-templates.js";
import type { StepTag } from "../tokenizer/step-tag.js";
import { addStepTagToken } from "../tokenizer/step-tag.js";
import { TrajectoryEncoder } from "../tokenizer/trajectory-encoder.js";
import type { PqmMetadata, SavedTrainingState, TrainingStateJson } from "./checkpoint-format.js";
import { CHECKPOINT_FILES, PQM_CHECKPOINT_FORMAT } from "./checkpoint-format.js";
import { verifyCheckpointFiles } from "./verify-checkpoint.js";
import { checkpointWeightSource, TRL_BACKBONE_PREFIX } from "./weight-source.js";

/** Options of {@link loadCheckpoint}. */
export interface LoadCheckpointOptions extends DecoderBuildOptions {
  /** For a folder without `pqm.json` (a TRL checkpoint): the step tag text (default `[PRM]`). */
  stepTag?: string;
  /** For a folder without `pqm.json`: the prompt template (default `pqm-alpaca`). */
  template?: string;
  /** For a folder without `pqm.json`: the longest row (default the config's `max_position_embeddings`). */
  maxLength?: number;
  /** Start a fresh value head when the checkpoint has none (a plain language model). Default false: error. */
  newValueHead?: boolean;
  /** Batching of `scoreSteps`. */
  scoring?: ScoringBatchOptions;
  /**
   * Check every file against the sizes and SHA-256 digests in `pqm.json` before loading (default true).
   * A mismatch throws CheckpointIntegrityError.
   */
  verify?: boolean;
  /** Told about what loads but deserves a note (a checkpoint too old to carry file records). */
  onWarning?: (message: string) => void;
}

/** What {@link loadCheckpoint} returns. */
export interface LoadedCheckpoint {
  model: ProcessRewardModel;
  /** `pqm.json`, or null for a folder without it (TRL or plain Hugging Face). */
  metadata: PqmMetadata | null;
  /** `training-state/`, or null when the checkpoint cannot resume training. */
  trainingState: SavedTrainingState | null;
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch (cause) {
    throw new ModelLoadError(path, undefined, "not valid JSON", { cause });
  }
}

function requireField<T>(
  path: string,
  object: Record<string, unknown>,
  field: string,
  check: (v: unknown) => boolean,
): T {
  const value = object[field];
  if (!check(value)) throw new ModelLoadError(path, field, `missing or invalid: ${JSON.stringify(value)}`);
  return value as T;
}

/** Reads and checks `pqm.json`. @throws ModelLoadError naming the file and field. */
export async function readPqmMetadata(folder: string): Promise<PqmMetadata> {
  const path = join(folder, CHECKPOINT_FILES.pqm);
  const raw = await readJson(path);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new ModelLoadError(path, undefined, "not a JSON object");
  const object = raw as Record<string, unknown>;
  const format = requireField<string>(path, object, "format", (v) => typeof v === "string");
  if (format !== PQM_CHECKPOINT_FORMAT) {
    throw new ModelLoadError(path, "format", `'${format}' is not '${PQM_CHECKPOINT_FORMAT}'`);
  }
  const encoding = requireField<Record<string, unknown>>(
    path,
    object,
    "encoding",
    (v) => typeof v === "object" && v !== null,
  );
  const template = encoding.template as Record<string, unknown> | undefined;
  if (
    typeof template?.name !== "string" ||
    typeof template.layout !== "object" ||
    typeof template.stepFormat !== "object"
  ) {
    throw new ModelLoadError(path, "encoding.template", "missing name, layout or stepFormat");
  }
  const stepTag = encoding.stepTag as Record<string, unknown> | undefined;
  if (typeof stepTag?.text !== "string" || typeof stepTag.id !== "number") {
    throw new ModelLoadError(path, "encoding.stepTag", "missing text or id");
  }
  return raw as PqmMetadata;
}

/** Reads `training-state/` when present. @throws ModelLoadError for a malformed state file. */
export async function readTrainingState(folder: string): Promise<SavedTrainingState | null> {
  const statePath = join(folder, CHECKPOINT_FILES.trainingState);
  const optimizerPath = join(folder, CHECKPOINT_FILES.optimizer);
  if (!existsSync(statePath)) return null;
  const state = (await readJson(statePath)) as TrainingStateJson;
  for (const field of ["step", "optimizerStep", "elapsedSeconds", "tokensSeen"] as const) {
    if (typeof state[field] !== "number")
      throw new ModelLoadError(statePath, field, "missing or not a number");
  }
  if (typeof state.batcher?.fingerprint !== "string")
    throw new ModelLoadError(statePath, "batcher", "missing or invalid");
  if (typeof state.rng?.seed !== "number")
    throw new ModelLoadError(statePath, "rng.seed", "missing or not a number");
  const file = await readSafetensorsFile(optimizerPath);
  const optimizerMoments = new Map<string, Float32TensorData>();
  for (const [name, entry] of file.entries)
    optimizerMoments.set(name, { shape: entry.shape, data: file.float32(name) });
  return { state, optimizerMoments };
}

/** The template of a saved spec: its fixed text exactly as trained (a chat template's layout included). */
function savedTemplate(metadata: PqmMetadata): PromptTemplate {
  const { name, layout, stepFormat } = metadata.encoding.template;
  return {
    name,
    description: "as saved in pqm.json",
    stepFormat: { ...stepFormat },
    layout: () => ({ ...layout }),
  };
}

/**
 * Loads a PRM checkpoint folder written by `saveCheckpoint` (bit-exact), or a TRL value-head checkpoint
 * whose backbone tensors sit under `pretrained_model.` (the PQM release's layout), or a Hugging Face
 * folder with `v_head.summary.*` beside the backbone. Without `pqm.json` the tag and template come from
 * the options. Loads `training-state/` when present. A `pqm.json` folder's files are first checked against
 * the sizes and digests it records (`options.verify`).
 * @throws CheckpointIntegrityError (a ModelLoadError) naming each damaged or missing file and the remedy;
 *   ModelLoadError naming the file and field or tensor (missing folder, no value head, bad JSON,
 *   misshapen tensor); EncodingMismatchError when the tokenizer disagrees with the saved encoding.
 */
export async function loadCheckpoint(
  folder: string,
  options: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  if (!existsSync(folder)) {
    const leftover = await findInterruptedSwap(folder);
    throw new ModelLoadError(
      folder,
      undefined,
      leftover === undefined
        ? "no such checkpoint folder"
        : `no such checkpoint folder; a save was interrupted while swapping folders: the previous checkpoint is at ${leftover}`,
    );
  }
  registerGradients();
  const hasMetadata = existsSync(join(folder, CHECKPOINT_FILES.pqm));
  const metadata = hasMetadata ? await readPqmMetadata(folder) : null;
  if (metadata !== null && options.verify !== false && !(await verifyCheckpointFiles(folder, metadata))) {
    options.onWarning?.(
      `${folder}: pqm.json records no file sizes or digests (saved by an older @pqm/model), so its files were not verified`,
    );
  }
  const tokenizer = await loadTokenizer(folder);
  const stored = await readDecoderConfig(folder);
  let stepTag: StepTag;
  if (metadata !== null) {
    stepTag = { ...metadata.encoding.stepTag };
  } else {
    stepTag = addStepTagToken(tokenizer, options.stepTag ?? DEFAULT_STEP_TAG);
  }
  const rows = Math.max(stored.vocabSize, tokenizer.vocabSize);
  const config =
    rows === stored.vocabSize
      ? stored
      : resolveDecoderConfig({ ...stored.raw, vocab_size: rows }, join(folder, "config.json"));
  if (tf.getBackend() === "wasm") installFastWasmMatMul();
  const checkpoint = await openSafetensorsCheckpoint(folder);
  const headName = checkpoint.has("v_head.summary.weight")
    ? "v_head.summary"
    : checkpoint.has(`${TRL_BACKBONE_PREFIX}v_head.summary.weight`)
      ? `${TRL_BACKBONE_PREFIX}v_head.summary`
      : null;
  if (headName === null && options.newValueHead !== true) {
    throw new ModelLoadError(
      join(folder, CHECKPOINT_FILES.weights),
      "v_head.summary.weight",
      "no value head in the checkpoint (pass newValueHead: true to start one, or use ProcessRewardModel.fromPretrained)",
    );
  }
  const mode = options.mode ?? (options.lora === undefined ? "full" : "lora");
  const backbone = new DecoderBackbone(
    config,
    checkpointWeightSource(checkpoint, { trainedVocabRows: stored.vocabSize }),
    {
      ...options,
      mode,
    },
  );
  try {
    let valueHead: ValueHead;
    if (headName === null) {
      valueHead = ValueHead.create(config.hiddenSize, 0);
    } else {
      const weightEntry = checkpoint.locate(`${headName}.weight`).entry;
      if (
        weightEntry.shape.length !== 2 ||
        weightEntry.shape[0] !== 1 ||
        weightEntry.shape[1] !== config.hiddenSize
      ) {
        throw new ModelLoadError(
          join(folder, CHECKPOINT_FILES.weights),
          `${headName}.weight`,
          `expected shape [1, ${config.hiddenSize}], got [${weightEntry.shape.join(", ")}]`,
        );
      }
      const weight = tf.tensor(checkpoint.float32(`${headName}.weight`), [1, config.hiddenSize]);
      const bias = tf.tensor(checkpoint.float32(`${headName}.bias`), [1]);
      try {
        valueHead = new ValueHead(weight, bias);
      } finally {
        weight.dispose();
        bias.dispose();
      }
    }
    const encoder = new TrajectoryEncoder(tokenizer, {
      stepTag,
      template: metadata !== null ? savedTemplate(metadata) : (options.template ?? "pqm-alpaca"),
      addBos: metadata?.encoding.addBos ?? false,
      maxLength: options.maxLength ?? config.maxPositionEmbeddings,
      expectSpec: metadata?.encoding,
    });
    const model = new ProcessRewardModel({
      backbone,
      valueHead,
      tokenizer,
      encoder,
      scoring: options.scoring,
    });
    const trainingState = await readTrainingState(folder);
    return { model, metadata, trainingState };
  } catch (error) {
    backbone.dispose();
    throw error;
  }
}
