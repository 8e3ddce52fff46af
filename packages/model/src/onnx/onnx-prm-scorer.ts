import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Scorer, Trajectory } from "@pqm/core";
import { readDecoderConfig } from "../backbone/load-pretrained.js";
import { ModelLoadError } from "../backbone/model-load-error.js";
import type { PrmBatch } from "../batching/collate-rows.js";
import { collateRows } from "../batching/collate-rows.js";
import { CHECKPOINT_FILES } from "../checkpoint/checkpoint-format.js";
import { readPqmMetadata } from "../checkpoint/load-checkpoint.js";
import type { ProcessRewardModel, ScoringBatchOptions } from "../prm/process-reward-model.js";
import { loadTokenizer } from "../tokenizer/hf-tokenizer.js";
import { defaultPadTokenId } from "../tokenizer/prm-tokenizer.js";
import type { PromptTemplate } from "../tokenizer/prompt-templates.js";
import type { EncodedRow } from "../tokenizer/trajectory-encoder.js";
import { TrajectoryEncoder } from "../tokenizer/trajectory-encoder.js";
import type { ValueHeadWeights } from "./decoder-onnx-graph.js";
import { ONNX_IO_NAMES } from "./decoder-onnx-graph.js";
import type { OnnxExportOptions } from "./export-onnx.js";
import { decoderOnnxBytes, ONNX_MODEL_FILE, valueHeadWeights } from "./export-onnx.js";
import type { OnnxSessionOptions } from "./onnx-decoder-session.js";
import { OnnxDecoderSession } from "./onnx-decoder-session.js";
import { OnnxExportError } from "./onnx-export-error.js";

/** Options of {@link OnnxPrmScorer.load} and {@link OnnxPrmScorer.fromModel}. */
export interface OnnxPrmScorerOptions extends OnnxSessionOptions {
  /** Batching (default 16 rows, at most 8192 padded tokens per batch). */
  scoring?: ScoringBatchOptions;
  /** The `Scorer` name (default `pqm-prm-onnx`). */
  name?: string;
  /**
   * Score with this head on the graph's `hidden_states` instead of its `values` output: a head trained on
   * a frozen backbone (`trainValueHeadOnFeatures`), or a backbone-only export.
   */
  valueHead?: ValueHeadWeights;
}

/** Options of {@link OnnxPrmScorer.load}. */
export interface OnnxPrmScorerLoadOptions extends OnnxPrmScorerOptions {
  /** The ONNX file (default `<folder>/model.onnx`). */
  onnxFile?: string;
}

/** Options of {@link OnnxPrmScorer.fromModel}. */
export interface OnnxPrmScorerFromModelOptions extends OnnxPrmScorerOptions, OnnxExportOptions {
  /** An already exported file of this model; without it the model is exported to memory. */
  onnxFile?: string;
}

/** Rows grouped by length into batches capped in rows and padded tokens (as `ProcessRewardModel.scoreSteps`). */
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

/** The template of a saved spec, its fixed text exactly as trained (as `loadCheckpoint` rebuilds it). */
function savedTemplate(
  layout: { head: string; middle: string; tail: string },
  name: string,
  stepFormat: PromptTemplate["stepFormat"],
): PromptTemplate {
  return {
    name,
    description: "as saved in pqm.json",
    stepFormat: { ...stepFormat },
    layout: () => ({ ...layout }),
  };
}

/**
 * A PRM scorer on ONNX Runtime (implements @pqm/core's `Scorer`): encodes trajectories with the model's
 * own encoder (template, step tag, BOS), batches them by length, runs the exported graph and reads the
 * value head's output at each step tag. Scores equal `ProcessRewardModel.scoreSteps` (raw logits) to
 * float32 noise, at ONNX Runtime's speed. Call `release()` when done.
 */
export class OnnxPrmScorer implements Scorer {
  readonly name: string;
  readonly scoring: Required<ScoringBatchOptions>;

  private constructor(
    /** The ONNX Runtime session. */
    readonly session: OnnxDecoderSession,
    /** The encoder the model was trained with. */
    readonly encoder: TrajectoryEncoder,
    /** Id written at padded positions. */
    readonly padTokenId: number,
    private readonly valueHead: ValueHeadWeights | undefined,
    options: OnnxPrmScorerOptions,
  ) {
    this.name = options.name ?? "pqm-prm-onnx";
    this.scoring = { batchSize: 16, maxTokensPerBatch: 8192, ...options.scoring };
  }

  /**
   * A scorer over any exported decoder file (or its bytes) with a given encoder: e.g. a backbone-only
   * export (`exportBackboneToOnnx`) for `extractTagHiddenStates`, scored later with `options.valueHead`.
   * @throws OnnxExportError when ONNX Runtime rejects the file.
   */
  static async open(
    model: string | Uint8Array,
    encoder: TrajectoryEncoder,
    options: OnnxPrmScorerOptions = {},
  ): Promise<OnnxPrmScorer> {
    const session = await OnnxDecoderSession.open(model, options);
    return new OnnxPrmScorer(
      session,
      encoder,
      defaultPadTokenId(encoder.tokenizer),
      options.valueHead,
      options,
    );
  }

  /**
   * Opens `<folder>/model.onnx` (written by `exportPrmToOnnx`) with the folder's tokenizer and encoding
   * spec (`pqm.json`, as `saveCheckpoint` writes it). No TF.js and no safetensors are read. The file is
   * opened by path, so a model exported with external data (`model.onnx.data` beside it) loads too.
   * @throws ModelLoadError naming the missing file (`model.onnx`, `pqm.json`, `config.json`) or a bad field;
   *   EncodingMismatchError when the tokenizer disagrees with the saved spec; OnnxExportError when ONNX
   *   Runtime rejects the file or it has no usable output.
   */
  static async load(folder: string, options: OnnxPrmScorerLoadOptions = {}): Promise<OnnxPrmScorer> {
    const onnxFile = options.onnxFile ?? join(folder, ONNX_MODEL_FILE);
    if (!existsSync(onnxFile)) {
      throw new ModelLoadError(
        onnxFile,
        undefined,
        "not found: export the checkpoint with exportPrmToOnnx first",
      );
    }
    const metadataPath = join(folder, CHECKPOINT_FILES.pqm);
    if (!existsSync(metadataPath)) {
      throw new ModelLoadError(
        metadataPath,
        undefined,
        "not found: the ONNX scorer needs the encoding spec a PQM checkpoint stores",
      );
    }
    const metadata = await readPqmMetadata(folder);
    const config = await readDecoderConfig(folder);
    const tokenizer = await loadTokenizer(folder);
    const { name, layout, stepFormat } = metadata.encoding.template;
    const encoder = new TrajectoryEncoder(tokenizer, {
      stepTag: { ...metadata.encoding.stepTag },
      template: savedTemplate(layout, name, stepFormat),
      addBos: metadata.encoding.addBos,
      maxLength: config.maxPositionEmbeddings,
      expectSpec: metadata.encoding,
    });
    return OnnxPrmScorer.open(onnxFile, encoder, options);
  }

  /**
   * A scorer for an in-memory PRM: opens `options.onnxFile` when given (it must be this model's export),
   * else exports the model to memory first (`dtype` applies; weights must fit protobuf's 2 GiB there:
   * export a larger model to a file with `exportPrmToOnnx`, which writes external data, and pass it as
   * `onnxFile`). Uses the model's encoder and scoring batch sizes.
   * @throws OnnxExportError for an unsupported model type, weights over 2 GiB in memory, or a file ONNX
   *   Runtime rejects.
   */
  static async fromModel(
    model: ProcessRewardModel,
    options: OnnxPrmScorerFromModelOptions = {},
  ): Promise<OnnxPrmScorer> {
    const source =
      options.onnxFile ??
      decoderOnnxBytes(model.backbone, valueHeadWeights(model), {
        logits: options.logits,
        dtype: options.dtype,
      }).bytes;
    return OnnxPrmScorer.open(source, model.encoder, { scoring: model.scoring, ...options });
  }

  /**
   * Raw step scores (logits) per trajectory, in input order, each as long as its steps.
   * @throws Error listing the trajectories that cannot be encoded; OnnxExportError when ONNX Runtime fails.
   */
  async scoreSteps(trajectories: readonly Trajectory[]): Promise<number[][]> {
    const rows = this.encode(trajectories);
    const out: number[][] = trajectories.map(() => []);
    for (const scored of await this.scoreRows(rows)) out[scored.sourceIndex] = scored.scores;
    return out;
  }

  /** Encodes trajectories with the model's spec. @throws Error listing those that cannot be encoded. */
  encode(trajectories: readonly Trajectory[]): EncodedRow[] {
    const summary = this.encoder.encodeAll(trajectories);
    if (summary.rejected.length > 0) {
      const shown = summary.rejected
        .slice(0, 5)
        .map((r) => `#${r.sourceIndex} (${r.reason}: ${r.message})`)
        .join("; ");
      throw new Error(
        `${this.name}: ${summary.rejected.length} trajectories cannot be scored: ${shown}${summary.rejected.length > 5 ? "; ..." : ""}`,
      );
    }
    return summary.rows;
  }

  /**
   * Step scores of encoded rows, in batch order (each with its `sourceIndex`).
   * @throws OnnxExportError when the graph has no `values` output and no `valueHead` was given, or ONNX Runtime fails.
   */
  async scoreRows(rows: readonly EncodedRow[]): Promise<{ sourceIndex: number; scores: number[] }[]> {
    if (this.valueHead === undefined && !this.session.hasOutput(ONNX_IO_NAMES.values)) {
      throw new OnnxExportError(
        this.session.source,
        "has no 'values' output (a backbone-only export): pass options.valueHead, or export with exportPrmToOnnx",
      );
    }
    const out: { sourceIndex: number; scores: number[] }[] = [];
    for (const group of lengthBatches(rows, this.scoring)) {
      const batch = collateRows(group, { padTokenId: this.padTokenId });
      if (this.valueHead === undefined) {
        const { values } = await this.session.run(this.tokenBatch(batch), [ONNX_IO_NAMES.values]);
        group.forEach((row, index) => {
          const offset = index * batch.sequenceLength;
          out.push({
            sourceIndex: row.sourceIndex,
            scores: Array.from(row.tagPositions, (p) => values.data[offset + p] as number),
          });
        });
      } else {
        const head = this.valueHead;
        const hidden = await this.tagHidden(batch, group);
        group.forEach((row, index) => {
          const features = hidden[index] as Float32Array;
          const scores: number[] = [];
          for (let step = 0; step < row.tagPositions.length; step++) {
            let sum = 0;
            for (let h = 0; h < head.weight.length; h++) {
              sum += (features[step * head.weight.length + h] as number) * (head.weight[h] as number);
            }
            scores.push(Math.fround(sum + head.bias));
          }
          out.push({ sourceIndex: row.sourceIndex, scores });
        });
      }
    }
    return out;
  }

  /**
   * The final hidden states at each step tag of encoded rows, in batch order: one `[steps, hidden]`
   * row-major array per row (what a value head reads).
   * @param onBatch called after each batch with the rows done so far (for progress).
   */
  async tagHiddenStates(
    rows: readonly EncodedRow[],
    onBatch?: (done: number, total: number) => void,
  ): Promise<{ row: EncodedRow; hidden: Float32Array }[]> {
    const out: { row: EncodedRow; hidden: Float32Array }[] = [];
    for (const group of lengthBatches(rows, this.scoring)) {
      const batch = collateRows(group, { padTokenId: this.padTokenId });
      const hidden = await this.tagHidden(batch, group);
      group.forEach((row, index) => {
        out.push({ row, hidden: hidden[index] as Float32Array });
      });
      onBatch?.(out.length, rows.length);
    }
    return out;
  }

  private async tagHidden(batch: PrmBatch, group: readonly EncodedRow[]): Promise<Float32Array[]> {
    const { hidden_states: states } = await this.session.run(this.tokenBatch(batch), [
      ONNX_IO_NAMES.hiddenStates,
    ]);
    const size = states.dims[2] as number;
    return group.map((row, index) => {
      const features = new Float32Array(row.tagPositions.length * size);
      row.tagPositions.forEach((position, step) => {
        const start = (index * batch.sequenceLength + position) * size;
        features.set(states.data.subarray(start, start + size), step * size);
      });
      return features;
    });
  }

  private tokenBatch(batch: PrmBatch) {
    return {
      batch: batch.batchSize,
      sequence: batch.sequenceLength,
      inputIds: batch.inputIds,
      attentionMask: batch.attentionMask,
    };
  }

  /** Frees the ONNX Runtime session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}
