import type { Scorer, Trajectory } from "@pqm/core";
import { registerGradients } from "@pqm/core";
import * as tf from "@tensorflow/tfjs-core";
import type { DecoderConfigJson } from "../backbone/create-random-decoder.js";
import { createRandomDecoder } from "../backbone/create-random-decoder.js";
import type { DecoderBuildOptions } from "../backbone/decoder-backbone.js";
import { DecoderBackbone } from "../backbone/decoder-backbone.js";
import { readDecoderConfig } from "../backbone/load-pretrained.js";
import type { ActivationShape } from "../backbone/memory-estimate.js";
import { assertFitsMemory } from "../backbone/memory-estimate.js";
import { resolveDecoderConfig } from "../backbone/model-registry.js";
import { openSafetensorsCheckpoint } from "../backbone/safetensors/read-safetensors.js";
import type { DecoderSizePreset } from "../backbone/size-presets.js";
import { decoderSizePresets, presetDecoderConfig } from "../backbone/size-presets.js";
import { batchToTensors } from "../batching/batch-tensors.js";
import type { PrmBatch } from "../batching/collate-rows.js";
import { collateRows } from "../batching/collate-rows.js";
import { checkpointWeightSource } from "../checkpoint/weight-source.js";
import { installFastWasmMatMul } from "../tfjs-backends/fast-wasm-matmul.js";
import { DEFAULT_STEP_TAG } from "../tokenizer/builtin-tokenizer.js";
import { loadTokenizer } from "../tokenizer/hf-tokenizer.js";
import type { PrmTokenizer } from "../tokenizer/prm-tokenizer.js";
import { defaultPadTokenId } from "../tokenizer/prm-tokenizer.js";
import type { PromptTemplate } from "../tokenizer/prompt-templates.js";
import type { StepTag } from "../tokenizer/step-tag.js";
import { addStepTagToken, useExistingStepTag } from "../tokenizer/step-tag.js";
import type { EncodedRow, EncodingSpec, OverflowPolicy } from "../tokenizer/trajectory-encoder.js";
import { TrajectoryEncoder } from "../tokenizer/trajectory-encoder.js";
import type { ValueHeadApplyOptions } from "./value-head.js";
import { ValueHead } from "./value-head.js";

/** Token inputs of a forward pass, as `batchToTensors` makes them. */
export interface PrmForwardInputs {
  /** int32 `[batch, seq]`. */
  inputIds: tf.Tensor;
  /** int32 `[batch, seq]`. */
  attentionMask: tf.Tensor;
  /** int32 `[batch, seq]`. */
  positionIds: tf.Tensor;
  /** int32 `[batch, steps]`. */
  tagPositions: tf.Tensor;
}

/** Scores of one padded batch. The caller owns (disposes) both tensors. */
export interface BatchScores {
  /** `[batch, steps]` raw scores (logits); padded slots hold meaningless values. */
  scores: tf.Tensor2D;
  /** `[batch, steps]` float32, 1 at real steps, 0 at padding. */
  mask: tf.Tensor2D;
}

/** How `scoreSteps` cuts its input into batches. */
export interface ScoringBatchOptions {
  /** Most rows per batch (default 16). */
  batchSize?: number;
  /** Most `rows x padded length` tokens per batch (default 8192). */
  maxTokensPerBatch?: number;
}

/** Options shared by the constructors: prompt encoding and scoring batches. */
export interface PrmEncodingOptions {
  /** Prompt template name or template (default `plain` from scratch, `pqm-alpaca` for a pretrained backbone). */
  template?: string | PromptTemplate;
  /** Longest row in tokens (default: the backbone's `max_position_embeddings`). */
  maxLength?: number;
  /** What to do with longer rows (default `truncate-question`). */
  overflow?: OverflowPolicy;
  /** Put BOS first (default false, as the reference). */
  addBos?: boolean;
  /** Batching of `scoreSteps`. */
  scoring?: ScoringBatchOptions;
  /** The `Scorer` name (default `pqm-prm`). */
  name?: string;
}

/** Options of {@link ProcessRewardModel.fromScratch}. */
export interface FromScratchOptions extends PrmEncodingOptions, DecoderBuildOptions {
  /** Seed of the backbone's and the head's initialization (default 0). */
  seed?: number;
  /** The step tag text (default `[PRM]`); added to the tokenizer as a special token when missing. */
  stepTag?: string;
}

/** Options of {@link ProcessRewardModel.fromPretrained}. */
export interface FromPretrainedOptions extends PrmEncodingOptions, DecoderBuildOptions {
  /** Seed of the value head's initialization (default 0). */
  seed?: number;
  /** A new special token for the step tag (default `[PRM]`, the reference's choice). */
  stepTag?: string;
  /** Use this existing token as the tag instead (e.g. Math-Shepherd's `ки`): no new embedding row. */
  existingStepTag?: string;
  /** Folder of the tokenizer when not the backbone's folder. */
  tokenizerFolder?: string;
  /** Batch shape the memory check assumes (default batch 1, sequence 512). */
  memoryShape?: ActivationShape;
  /** Skip the memory check. */
  skipMemoryCheck?: boolean;
}

/** What {@link ProcessRewardModel.fromPretrained} did to the vocabulary. */
export interface PretrainedLoadReport {
  /** New embedding rows created for the tag (0 or 1). */
  addedTokens: number;
  /** The tag's id. */
  stepTagId: number;
  /** Rows of the embedding table before and after. */
  embeddingRowsBefore: number;
  embeddingRowsAfter: number;
}

/** The parts a {@link ProcessRewardModel} is made of. */
export interface PrmParts {
  backbone: DecoderBackbone;
  valueHead: ValueHead;
  tokenizer: PrmTokenizer;
  encoder: TrajectoryEncoder;
  scoring?: ScoringBatchOptions;
  name?: string;
}

/**
 * A process reward model: a decoder backbone, a scalar value head read at every step tag, the
 * tokenizer and the prompt encoding it was trained with. One forward pass scores every step of a
 * solution (the backbone is causal, so the hidden state at a step's tag sees exactly that prefix).
 * Implements @pqm/core's `Scorer` (raw logits per step).
 */
export class ProcessRewardModel implements Scorer {
  readonly name: string;
  readonly backbone: DecoderBackbone;
  readonly valueHead: ValueHead;
  readonly tokenizer: PrmTokenizer;
  readonly encoder: TrajectoryEncoder;
  readonly scoring: Required<ScoringBatchOptions>;

  /** @throws Error when the head's size differs from the backbone's or the tag id lies outside its vocabulary. */
  constructor(parts: PrmParts) {
    const { backbone, valueHead, tokenizer, encoder } = parts;
    if (valueHead.hiddenSize !== backbone.config.hiddenSize) {
      throw new Error(
        `value head size ${valueHead.hiddenSize} differs from the backbone's hidden size ${backbone.config.hiddenSize}`,
      );
    }
    if (tokenizer.vocabSize > backbone.config.vocabSize || encoder.stepTag.id >= backbone.config.vocabSize) {
      throw new Error(
        `the tokenizer has ${tokenizer.vocabSize} ids (step tag ${encoder.stepTag.id}) but the backbone's ` +
          `embedding table has ${backbone.config.vocabSize} rows`,
      );
    }
    this.backbone = backbone;
    this.valueHead = valueHead;
    this.tokenizer = tokenizer;
    this.encoder = encoder;
    this.name = parts.name ?? "pqm-prm";
    this.scoring = { batchSize: 16, maxTokensPerBatch: 8192, ...parts.scoring };
  }

  /** The encoding spec (template, tag, BOS, vocabulary) to store with the model. */
  get spec(): EncodingSpec {
    return this.encoder.spec;
  }

  /** The step tag. */
  get stepTag(): StepTag {
    return this.encoder.stepTag;
  }

  /** The id used at padded positions of batches built for this model. */
  get padTokenId(): number {
    return defaultPadTokenId(this.tokenizer);
  }

  /**
   * A small model trained from nothing: a random Llama backbone (a config object or a size preset,
   * `vocab_size` defaulting to the tokenizer's, embeddings tied unless the config says otherwise: an untied LM head gets no gradient from a value-head loss) and a fresh head. The tag is added to the tokenizer when
   * missing (the built-in tokenizers already have `[PRM]`). Call `selectBackend()` first.
   * @throws ModelLoadError for an invalid config; Error when the vocabulary is smaller than the tokenizer's.
   */
  static fromScratch(
    config: DecoderConfigJson | DecoderSizePreset,
    tokenizer: PrmTokenizer,
    options: FromScratchOptions = {},
  ): ProcessRewardModel {
    const stepTag = addStepTagToken(tokenizer, options.stepTag ?? DEFAULT_STEP_TAG);
    const json =
      typeof config === "string"
        ? presetOrThrow(config, tokenizer.vocabSize)
        : { vocab_size: tokenizer.vocabSize, tie_word_embeddings: true, ...config };
    const seed = options.seed ?? 0;
    const backbone = createRandomDecoder(json, seed, options);
    try {
      const valueHead = ValueHead.create(backbone.config.hiddenSize, seed * 7919 + 17);
      const encoder = new TrajectoryEncoder(tokenizer, {
        stepTag,
        template: options.template ?? "plain",
        maxLength: options.maxLength ?? backbone.config.maxPositionEmbeddings,
        overflow: options.overflow,
        addBos: options.addBos,
      });
      return new ProcessRewardModel({
        backbone,
        valueHead,
        tokenizer,
        encoder,
        scoring: options.scoring,
        name: options.name,
      });
    } catch (error) {
      backbone.dispose();
      throw error;
    }
  }

  /**
   * A PRM on a pretrained backbone folder (config.json, safetensors, tokenizer files): the step tag is
   * added as a special token (or an existing token is used), the embedding table (and an untied LM head)
   * grows by the rows the tag needs, each new row initialized to the mean of the trained rows; a tag id
   * that falls among the checkpoint's spare rows gets that mean too. The head is new.
   * @throws ModelLoadError / TokenizerLoadError / StepTagError / MemoryLimitError naming the problem.
   */
  static async fromPretrained(
    folder: string,
    options: FromPretrainedOptions = {},
  ): Promise<{ model: ProcessRewardModel; report: PretrainedLoadReport }> {
    registerGradients();
    const tokenizer = await loadTokenizer(options.tokenizerFolder ?? folder);
    const vocabBefore = tokenizer.vocabSize;
    const stepTag: StepTag =
      options.existingStepTag !== undefined
        ? useExistingStepTag(tokenizer, options.existingStepTag)
        : addStepTagToken(tokenizer, options.stepTag ?? DEFAULT_STEP_TAG);
    const stored = await readDecoderConfig(folder);
    const rows = Math.max(stored.vocabSize, tokenizer.vocabSize);
    const config = resolveDecoderConfig({ ...stored.raw, vocab_size: rows }, `${folder}/config.json`);
    const mode = options.mode ?? (options.lora === undefined ? "full" : "lora");
    if (options.skipMemoryCheck !== true)
      assertFitsMemory(config, mode, tf.getBackend(), options.memoryShape, options.lora);
    if (tf.getBackend() === "wasm") installFastWasmMatMul();
    const checkpoint = await openSafetensorsCheckpoint(folder);
    const newlyAdded = stepTag.mode === "special" && stepTag.id >= vocabBefore;
    const backbone = new DecoderBackbone(
      config,
      checkpointWeightSource(checkpoint, {
        trainedVocabRows: Math.min(vocabBefore, stored.vocabSize),
        // A new tag id inside the stored table lands on an untrained spare row: give it the mean too.
        fillRows: newlyAdded && stepTag.id < stored.vocabSize ? [stepTag.id] : [],
      }),
      { ...options, mode },
    );
    try {
      const valueHead = ValueHead.create(config.hiddenSize, options.seed ?? 0);
      const encoder = new TrajectoryEncoder(tokenizer, {
        stepTag,
        template: options.template ?? "pqm-alpaca",
        maxLength: options.maxLength ?? config.maxPositionEmbeddings,
        overflow: options.overflow,
        addBos: options.addBos,
      });
      const model = new ProcessRewardModel({
        backbone,
        valueHead,
        tokenizer,
        encoder,
        scoring: options.scoring,
        name: options.name,
      });
      return {
        model,
        report: {
          addedTokens: rows - stored.vocabSize,
          stepTagId: stepTag.id,
          embeddingRowsBefore: stored.vocabSize,
          embeddingRowsAfter: rows,
        },
      };
    } catch (error) {
      backbone.dispose();
      throw error;
    }
  }

  /**
   * Scores of a padded batch as a differentiable tensor: one backbone pass, then the head at every tag.
   * Synchronous, for use inside `tf.variableGrads`.
   * @returns `[batch, steps]` raw scores.
   */
  forwardScores(inputs: PrmForwardInputs, options: ValueHeadApplyOptions = {}): tf.Tensor2D {
    return tf.tidy(() => {
      const hidden = this.backbone.forwardHidden({
        inputIds: inputs.inputIds,
        attentionMask: inputs.attentionMask,
        positionIds: inputs.positionIds,
      }); // [batch, seq, hidden]
      return this.valueHead.apply(hidden, inputs.tagPositions, options); // [batch, steps]
    });
  }

  /** Scores of a padded batch in evaluation mode (no dropout), with its step mask. */
  scoreBatch(batch: PrmBatch): BatchScores {
    return tf.tidy(() => {
      const tensors = batchToTensors(batch);
      return { scores: this.forwardScores(tensors), mask: tensors.stepMask };
    });
  }

  /**
   * Raw step scores (logits) for every trajectory, in input order, each as long as its steps. Rows are
   * encoded with the model's spec, sorted by length and scored in batches (one forward pass per batch,
   * every step at once).
   * @throws Error listing the trajectories that cannot be encoded (no steps, too long, tag in text...).
   */
  async scoreSteps(trajectories: readonly Trajectory[]): Promise<number[][]> {
    const summary = this.encoder.encodeAll(
      trajectories.map((t) => ({ question: t.question, steps: t.steps })),
    );
    if (summary.rejected.length > 0) {
      const shown = summary.rejected
        .slice(0, 5)
        .map((r) => `#${r.sourceIndex} (${r.reason}: ${r.message})`)
        .join("; ");
      throw new Error(
        `${this.name}: ${summary.rejected.length} trajectories cannot be scored: ${shown}${summary.rejected.length > 5 ? "; ..." : ""}`,
      );
    }
    const out: number[][] = trajectories.map(() => []);
    for (const rows of this.scoringBatches(summary.rows)) {
      const batch = collateRows(rows, { padTokenId: this.padTokenId });
      const { scores, mask } = this.scoreBatch(batch);
      const values = await scores.data();
      scores.dispose();
      mask.dispose();
      rows.forEach((row, index) => {
        const start = index * batch.maxSteps;
        out[row.sourceIndex] = Array.from(values.subarray(start, start + row.tagPositions.length));
      });
    }
    return out;
  }

  /** Groups rows of similar length, capped by `scoring.batchSize` and `scoring.maxTokensPerBatch`. */
  private *scoringBatches(rows: readonly EncodedRow[]): Generator<EncodedRow[]> {
    const sorted = [...rows].sort((a, b) => a.inputIds.length - b.inputIds.length);
    let current: EncodedRow[] = [];
    for (const row of sorted) {
      const tokens = (current.length + 1) * row.inputIds.length;
      if (
        current.length > 0 &&
        (current.length >= this.scoring.batchSize || tokens > this.scoring.maxTokensPerBatch)
      ) {
        yield current;
        current = [];
      }
      current.push(row);
    }
    if (current.length > 0) yield current;
  }

  /**
   * The trainable variables under stable names (the Hugging Face names of the backbone's weights, in
   * TF.js layout, and `v_head.summary.*`), so optimizer state can be saved and restored by name.
   */
  trainableVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const variable of this.backbone.trainableVariables) out.set(stableName(variable.name), variable);
    if (this.valueHead.weight.trainable) out.set("v_head.summary.weight", this.valueHead.weight);
    if (this.valueHead.bias.trainable) out.set("v_head.summary.bias", this.valueHead.bias);
    return out;
  }

  /** Every weight under its checkpoint name (backbone as Hugging Face names it, head as TRL does); new tensors. */
  namedWeights(): Map<string, tf.Tensor> {
    const out = this.backbone.namedWeights();
    for (const [name, tensor] of this.valueHead.namedWeights()) out.set(name, tensor);
    return out;
  }

  /** Frees the backbone and the head. */
  dispose(): void {
    this.backbone.dispose();
    this.valueHead.dispose();
  }
}

/** The name of a model variable without the per-instance scope (`pqm_decoder_3/model.norm.weight` → `model.norm.weight`). */
export function stableName(variableName: string): string {
  const slash = variableName.indexOf("/");
  return slash < 0 ? variableName : variableName.slice(slash + 1);
}

function presetOrThrow(preset: DecoderSizePreset, vocabSize: number): DecoderConfigJson {
  if (!decoderSizePresets.includes(preset)) {
    throw new Error(`unknown size preset '${preset}'; known: ${decoderSizePresets.join(", ")}`);
  }
  return presetDecoderConfig(preset, vocabSize);
}
