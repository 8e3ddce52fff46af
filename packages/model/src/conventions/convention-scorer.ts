import { basename, resolve } from "node:path";
import type { Scorer, Trajectory } from "@pqm/core";
import * as tf from "@tensorflow/tfjs-core";
import type { DecoderBackbone } from "../backbone/decoder-backbone.js";
import type { PrmBatch } from "../batching/collate-rows.js";
import { collateRows } from "../batching/collate-rows.js";
import type { ScoreHeadWeights } from "../onnx/decoder-onnx-graph.js";
import { ONNX_IO_NAMES } from "../onnx/decoder-onnx-graph.js";
import { scoreHeadOnnxBytes } from "../onnx/export-onnx.js";
import type { OnnxSessionOptions } from "../onnx/onnx-decoder-session.js";
import { OnnxDecoderSession } from "../onnx/onnx-decoder-session.js";
import type { ScoringBatchOptions } from "../prm/process-reward-model.js";
import type { BackendChoice } from "../tfjs-backends/select-backend.js";
import { selectBackend } from "../tfjs-backends/select-backend.js";
import { defaultPadTokenId } from "../tokenizer/prm-tokenizer.js";
import type { EncodedRow } from "../tokenizer/trajectory-encoder.js";
import type { ConventionEncoding } from "./anchored-encoding.js";
import type { ConventionEncoder } from "./convention-encoder.js";
import type { ConventionModel, LoadConventionModelOptions } from "./convention-model.js";
import { loadConventionModel } from "./convention-model.js";
import type { ConventionDetection } from "./detect-convention.js";
import type { ScoringConvention } from "./scoring-convention.js";

/** Where a convention scorer runs its forward passes. */
export type ConventionRuntime = "tfjs" | "onnxruntime";

/** Options of {@link loadConventionScorer}. */
export interface LoadConventionScorerOptions extends LoadConventionModelOptions, OnnxSessionOptions {
  /**
   * Start this TF.js backend first (through `selectBackend`); default: the active backend (call
   * `selectBackend()` before, as for every model of this package).
   */
  backend?: BackendChoice;
  /**
   * `tfjs` (default): TensorFlow.js on the active backend. `onnxruntime`: the model is exported to ONNX in
   * memory (float32, head included) and run by onnxruntime-node (an optional peer); TF.js only holds the
   * weights while exporting. The export holds at most 2 GiB of weights (about 0.5B parameters).
   */
  runtime?: ConventionRuntime;
  /** Batching (default 16 rows, at most 8192 padded tokens per batch). */
  scoring?: ScoringBatchOptions;
  /** Longest row in tokens (default the config's `max_position_embeddings`): longer rows are refused. */
  maxLength?: number;
  /** The `Scorer` name (default `<convention>:<folder name>`). */
  name?: string;
  /** Told about backend fallbacks when `backend` is given. */
  onWarning?: (message: string) => void;
}

/** A published PRM as @pqm/core's `Scorer`: one log-odds value per step. */
export interface ConventionScorer extends Scorer {
  readonly convention: ScoringConvention;
  /** How the convention was chosen: null when named, else what detection saw. */
  readonly detection: ConventionDetection | null;
  /** The model folder. */
  readonly folder: string;
  readonly runtime: ConventionRuntime;
  /** The convention bound to the folder's tokenizer. */
  readonly encoder: ConventionEncoder;
  /** The head as plain numbers (for the ONNX export). */
  readonly head: ScoreHeadWeights;
  /**
   * One solution's token ids and read positions, as the model reads it.
   * @throws ConventionEncodingError naming the step.
   */
  encode(question: string, steps: readonly string[]): ConventionEncoding;
  /**
   * Log-odds per step for every trajectory, in input order, each as long as its steps.
   * @throws Error listing the trajectories that cannot be encoded (no steps, too long, a tag that merges).
   */
  scoreSteps(trajectories: readonly Trajectory[]): Promise<number[][]>;
  /** Log-odds per step of already encoded solutions, in order. */
  scoreEncoded(encodings: readonly ConventionEncoding[]): Promise<number[][]>;
  /**
   * The ONNX bytes (float32) of this model with its head: `values` `[batch, sequence]` holds the log-odds at
   * every position; read it at `scorePositions`. With the TF.js runtime only (the ONNX one has given its
   * weights to ONNX Runtime).
   * @throws OnnxExportError for a model the export cannot write; Error with the ONNX runtime.
   */
  onnxBytes(): Uint8Array;
  /** Frees the weights (TF.js) or the session (ONNX Runtime). */
  dispose(): Promise<void>;
}

function* lengthBatches(
  rows: readonly EncodedRow[],
  scoring: Required<ScoringBatchOptions>,
): Generator<EncodedRow[]> {
  const sorted = [...rows].sort((a, b) => a.inputIds.length - b.inputIds.length);
  let current: EncodedRow[] = [];
  for (const row of sorted) {
    const tokens = (current.length + 1) * row.inputIds.length;
    if (current.length > 0 && (current.length >= scoring.batchSize || tokens > scoring.maxTokensPerBatch)) {
      yield current;
      current = [];
    }
    current.push(row);
  }
  if (current.length > 0) yield current;
}

/**
 * Scores of one padded batch on TF.js: the decoder's last hidden states gathered at the read positions,
 * then the head. Returns `[batch, maxSteps]` row-major log-odds.
 */
function scoreBatchTfjs(backbone: DecoderBackbone, head: ScoreHeadWeights, batch: PrmBatch): Float32Array {
  const { batchSize, sequenceLength, maxSteps } = batch;
  const hiddenSize = backbone.config.hiddenSize;
  const scores = tf.tidy(() => {
    const shape: [number, number] = [batchSize, sequenceLength];
    const hidden = backbone.forwardHidden({
      inputIds: tf.tensor2d(batch.inputIds, shape, "int32"),
      attentionMask: tf.tensor2d(batch.attentionMask, shape, "int32"),
      positionIds: tf.tensor2d(batch.positionIds, shape, "int32"),
    }); // [batch, seq, hidden]
    const rowOffsets = tf.mul(tf.range(0, batchSize, 1, "int32"), tf.scalar(sequenceLength, "int32")); // [batch]
    const flatIndices = tf.add(
      tf.tensor2d(batch.tagPositions, [batchSize, maxSteps], "int32"),
      tf.reshape(rowOffsets, [batchSize, 1]),
    ); // [batch, steps]
    let x: tf.Tensor2D = tf.gather(
      tf.reshape(hidden, [batchSize * sequenceLength, hiddenSize]),
      tf.reshape(flatIndices, [-1]),
    ) as tf.Tensor2D; // [batch*steps, hidden]
    if (head.hidden !== undefined) {
      const first = tf.tensor2d(head.hidden.weight, [hiddenSize, hiddenSize]); // [out, in]
      x = tf.relu(tf.add(tf.matMul(x, first, false, true), tf.tensor1d(head.hidden.bias))) as tf.Tensor2D;
    }
    const last = tf.tensor2d(head.weight, [head.outputs, hiddenSize]); // [outputs, in]
    const outputs = tf.add(tf.matMul(x, last, false, true), tf.tensor1d(head.bias)) as tf.Tensor2D; // [batch*steps, outputs]
    return head.outputs === 1
      ? tf.reshape(outputs, [-1])
      : tf.sub(
          tf.reshape(tf.slice(outputs, [0, 1], [-1, 1]), [-1]),
          tf.reshape(tf.slice(outputs, [0, 0], [-1, 1]), [-1]),
        ); // [batch*steps]
  });
  const values = scores.dataSync() as Float32Array;
  scores.dispose();
  return values;
}

class LoadedConventionScorer implements ConventionScorer {
  readonly name: string;
  readonly convention: ScoringConvention;
  readonly detection: ConventionDetection | null;
  readonly folder: string;
  readonly encoder: ConventionEncoder;
  readonly head: ScoreHeadWeights;
  readonly runtime: ConventionRuntime;
  private readonly scoring: Required<ScoringBatchOptions>;
  private readonly maxLength: number;
  private readonly padTokenId: number;
  private backbone: DecoderBackbone | null;
  private session: OnnxDecoderSession | null = null;

  constructor(model: ConventionModel, options: LoadConventionScorerOptions) {
    this.convention = model.convention;
    this.detection = model.detection;
    this.folder = model.folder;
    this.encoder = model.encoder;
    this.head = model.head;
    this.backbone = model.backbone;
    this.runtime = options.runtime ?? "tfjs";
    this.name = options.name ?? `${model.convention.name}:${basename(resolve(model.folder))}`;
    this.scoring = { batchSize: 16, maxTokensPerBatch: 8192, ...options.scoring };
    this.maxLength = options.maxLength ?? model.config.maxPositionEmbeddings;
    this.padTokenId = Math.min(defaultPadTokenId(model.tokenizer), model.config.vocabSize - 1);
  }

  /** Moves the model to ONNX Runtime: exports it to memory, opens the session, frees the TF.js weights. */
  async startOnnxRuntime(options: OnnxSessionOptions): Promise<void> {
    const bytes = this.onnxBytes();
    this.session = await OnnxDecoderSession.open(bytes, options);
    this.backbone?.dispose();
    this.backbone = null;
  }

  encode(question: string, steps: readonly string[]): ConventionEncoding {
    return this.encoder.encode(question, steps);
  }

  onnxBytes(): Uint8Array {
    if (this.backbone === null)
      throw new Error(`${this.name}: the weights went to ONNX Runtime; export from a TF.js-runtime scorer`);
    return scoreHeadOnnxBytes(this.backbone, this.head, { "pqm.convention": this.convention.name }).bytes;
  }

  async scoreSteps(trajectories: readonly Trajectory[]): Promise<number[][]> {
    const encodings: ConventionEncoding[] = [];
    const failures: string[] = [];
    trajectories.forEach((trajectory, index) => {
      try {
        const encoding = this.encode(trajectory.question.text, trajectory.steps);
        if (encoding.inputIds.length > this.maxLength) {
          failures.push(`#${index} (${encoding.inputIds.length} tokens > maxLength ${this.maxLength})`);
        }
        encodings.push(encoding);
      } catch (error) {
        failures.push(`#${index} (${(error as Error).message})`);
        encodings.push({ inputIds: [], scorePositions: [] });
      }
    });
    if (failures.length > 0) {
      throw new Error(
        `${this.name}: ${failures.length} trajectories cannot be scored: ${failures.slice(0, 5).join("; ")}${failures.length > 5 ? "; ..." : ""}`,
      );
    }
    return this.scoreEncoded(encodings);
  }

  async scoreEncoded(encodings: readonly ConventionEncoding[]): Promise<number[][]> {
    const rows: EncodedRow[] = encodings.map((encoding, sourceIndex) => ({
      sourceIndex,
      inputIds: Int32Array.from(encoding.inputIds),
      tagPositions: Int32Array.from(encoding.scorePositions),
      hardLabels: null,
      softLabels: null,
      truncatedTokens: 0,
    }));
    const out: number[][] = encodings.map(() => []);
    for (const group of lengthBatches(rows, this.scoring)) {
      const batch = collateRows(group, { padTokenId: this.padTokenId });
      const values = await this.scoreBatch(batch);
      group.forEach((row, index) => {
        out[row.sourceIndex] = Array.from(values[index]!);
      });
    }
    return out;
  }

  /** Per row of the batch, the log-odds at its read positions. */
  private async scoreBatch(batch: PrmBatch): Promise<Float32Array[]> {
    const steps = (index: number) =>
      batch.stepMask.subarray(index * batch.maxSteps, (index + 1) * batch.maxSteps);
    const count = (index: number) => steps(index).reduce((total, flag) => total + flag, 0);
    if (this.session !== null) {
      const { values } = await this.session.run(
        {
          batch: batch.batchSize,
          sequence: batch.sequenceLength,
          inputIds: batch.inputIds,
          attentionMask: batch.attentionMask,
        },
        [ONNX_IO_NAMES.values],
      );
      return Array.from({ length: batch.batchSize }, (_, index) => {
        const positions = batch.tagPositions.subarray(
          index * batch.maxSteps,
          index * batch.maxSteps + count(index),
        );
        return Float32Array.from(
          positions,
          (position) => values.data[index * batch.sequenceLength + position]!,
        );
      });
    }
    if (this.backbone === null) throw new Error(`${this.name}: used after dispose()`);
    const values = scoreBatchTfjs(this.backbone, this.head, batch);
    return Array.from({ length: batch.batchSize }, (_, index) =>
      values.subarray(index * batch.maxSteps, index * batch.maxSteps + count(index)),
    );
  }

  async dispose(): Promise<void> {
    this.backbone?.dispose();
    this.backbone = null;
    await this.session?.release();
    this.session = null;
  }
}

/**
 * A published PRM's folder as @pqm/core's `Scorer`: the convention (named in `options.convention`, or
 * detected from the folder), the decoder and its head loaded through `loadConventionModel`, each candidate
 * formatted the convention's way, and one log-odds value per step of the candidate read where the convention
 * reads it. Rows are batched by length and right-padded like `ProcessRewardModel.scoreSteps`.
 * @throws as `loadConventionModel`; MissingPeerDependencyError for the ONNX runtime without onnxruntime-node.
 */
export async function loadConventionScorer(
  folder: string,
  options: LoadConventionScorerOptions = {},
): Promise<ConventionScorer> {
  if (options.backend !== undefined) {
    await selectBackend({
      backend: options.backend,
      ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    });
  }
  const model = await loadConventionModel(folder, options);
  const scorer = new LoadedConventionScorer(model, options);
  if (options.runtime === "onnxruntime") {
    try {
      await scorer.startOnnxRuntime(options);
    } catch (error) {
      await scorer.dispose();
      throw error;
    }
  }
  return scorer;
}
