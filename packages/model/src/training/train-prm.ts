import { existsSync } from "node:fs";
import { appendFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { JsonValue, LabeledTrajectory, TensorLoss } from "@pqm/core";
import { auroc, getLoss, isLossName, lossLabelKinds } from "@pqm/core";
import { deriveSeed } from "@pqm/core/reference";
import * as tf from "@tensorflow/tfjs-core";
import type { PrmBatchTensors } from "../batching/batch-tensors.js";
import { batchToTensors } from "../batching/batch-tensors.js";
import type { PrmBatch } from "../batching/collate-rows.js";
import type { BatchStep, LengthBucket } from "../batching/length-batcher.js";
import { LengthBucketedBatcher, REFERENCE_BUCKETS } from "../batching/length-batcher.js";
import type { SavedTrainingState, TrainingStateJson } from "../checkpoint/checkpoint-format.js";
import { saveCheckpoint } from "../checkpoint/save-checkpoint.js";
import { OnnxDecoderTrainer, type OnnxStepResult } from "../onnx/onnx-training-step.js";
import type { ProcessRewardModel } from "../prm/process-reward-model.js";
import { stableName } from "../prm/process-reward-model.js";
import { currentBackendSelection } from "../tfjs-backends/select-backend.js";
import type { EncodedRow } from "../tokenizer/trajectory-encoder.js";
import { AdamW } from "./adamw.js";
import { clipFactor, globalNormTensor } from "./clip-gradients.js";
import type { LearningRateDecay } from "./learning-rate-schedule.js";
import { learningRateAt } from "./learning-rate-schedule.js";
import { TrainingDivergedError } from "./training-errors.js";
import { splitByQuestion } from "./validation-split.js";

/** The training configuration: plain data, stored in `pqm.json` with every checkpoint. */
export interface TrainingConfig {
  /** Loss name from @pqm/core (`pqm`, `pqm-paper`, `pqm-theory`, `pqm-ablation`, `bce`, `mse`, `orm`). Default `pqm`. */
  loss: string;
  /** PQM margin (default 4). */
  zeta: number;
  /** Which labels the loss reads: `hard` (0/1) or `soft` (Q-value estimates; `bce`/`mse` only). Default `hard`. */
  labels: "hard" | "soft";
  /** Peak learning rate (default 1e-4). */
  learningRate: number;
  /** Warm-up as a share of the total steps (default 0.1, the reference's); `warmupSteps` wins when set. */
  warmupRatio: number;
  /** Warm-up steps (default: from `warmupRatio`). */
  warmupSteps: number | null;
  /** Default `linear`. */
  decay: LearningRateDecay;
  /** Learning rate at the end of the decay (default 0). */
  minLearningRate: number;
  /** AdamW decoupled weight decay (default 0). */
  weightDecay: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Clip the global gradient norm to this (default 1.0, the reference's); null for no clipping. */
  maxGradNorm: number | null;
  /** Micro-batches per optimizer step (default 1). */
  gradientAccumulation: number;
  /** Passes over the training rows (default 1); ignored when `maxSteps` is set. */
  epochs: number;
  /** Optimizer steps of the whole run (default: from `epochs`). The schedule spans these. */
  maxSteps: number | null;
  /** Rows per batch for every length (default null: the reference's length buckets). */
  batchSize: number | null;
  /** Cap on rows x padded length per batch (default null). */
  maxTokensPerBatch: number | null;
  /** Seed of shuffling, dropout and the validation split (default 0, the reference's). */
  seed: number;
  /** Share of questions held out for validation when no validation set is given (default 0.1). */
  validationFraction: number;
  /** Evaluate every this many steps (and at the end); 0: only at the end. Default 0. */
  evalEvery: number;
  /** Save a checkpoint every this many steps (and at the end) when `outputDir` is set; 0: only at the end. */
  checkpointEvery: number;
}

/** The defaults of {@link TrainingConfig}. */
export const DEFAULT_TRAINING_CONFIG: Readonly<TrainingConfig> = Object.freeze({
  loss: "pqm",
  zeta: 4,
  labels: "hard",
  learningRate: 1e-4,
  warmupRatio: 0.1,
  warmupSteps: null,
  decay: "linear",
  minLearningRate: 0,
  weightDecay: 0,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  maxGradNorm: 1,
  gradientAccumulation: 1,
  epochs: 1,
  maxSteps: null,
  batchSize: null,
  maxTokensPerBatch: null,
  seed: 0,
  validationFraction: 0.1,
  evalEvery: 0,
  checkpointEvery: 0,
});

/** Metrics of one pass over the validation rows. */
export interface ValidationMetrics {
  /** Mean loss over validation batches, weighted by rows. */
  loss: number;
  /** Step-level AUROC of the scores against the hard labels (NaN when a class is absent). */
  auroc: number;
  /** Steps scored. */
  steps: number;
}

/** One line of the metrics log. */
export interface StepRecord {
  step: number;
  epoch: number;
  /** Mean loss over the step's micro-batches. */
  loss: number;
  learningRate: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Real (unpadded) tokens per second over this step. */
  tokensPerSecond: number;
  elapsedSeconds: number;
  validation?: ValidationMetrics;
}

/** Options of one call to {@link trainPrm} that are not part of the model's recipe. */
export interface TrainRunOptions {
  /** Checkpoints go to `outputDir/checkpoint-<step>`; none are written without it. */
  outputDir?: string;
  /** JSONL metrics log (default `outputDir/metrics.jsonl` when `outputDir` is set). */
  metricsPath?: string;
  /** Stop after this many seconds of this call (a checkpoint is written at the stop). */
  timeBudgetSeconds?: number;
  /** Stop after this optimizer step, keeping the schedule of the full run (to pause and resume). */
  stopAfterStep?: number;
  /**
   * Continue from a checkpoint's training state (see `loadCheckpoint`). Rows of an existing metrics log
   * past its step are dropped first (a fresh run empties the log), so each step is logged once however
   * often a run is interrupted and resumed.
   */
  resume?: SavedTrainingState;
  /**
   * Stop early: once aborted, the step in flight finishes, a checkpoint of it is written (when
   * `outputDir` is set and a step was done in this call) and trainPrm returns with `stoppedBy:
   * "interrupted"`, without the final validation.
   */
  signal?: AbortSignal;
  /** Called after every optimizer step. */
  onStep?: (record: StepRecord) => void;
  /**
   * How the decoder's forward and backward pass run (the value head and the loss always run in TF.js):
   * - `auto` (default): on ONNX Runtime where it can (the wasm backend, onnxruntime-node installed, a
   *   fully trained llama/mistral/qwen2 decoder without LoRA), else TF.js;
   * - `tfjs`: TF.js's own gradients;
   * - `onnxruntime`: on ONNX Runtime, failing with the reason where it cannot.
   * The two give the same gradients to float32 rounding; the result says which ran.
   */
  decoderPass?: DecoderPass;
  /** ONNX Runtime threads of the `onnxruntime` decoder pass (default: `PQM_ORT_THREADS`, else 1). */
  decoderPassThreads?: number;
  /**
   * Told how the run goes (start, each step, validations, checkpoints, end), e.g. to draw a progress
   * bar; trainPrm itself prints nothing.
   */
  onProgress?: (event: TrainProgressEvent) => void;
}

/** How the decoder's training pass runs (see {@link TrainRunOptions.decoderPass}). */
export type DecoderPass = "auto" | "tfjs" | "onnxruntime";

/** What {@link trainPrm} reports through `run.onProgress`, in this order: start, then steps (with validations and checkpoints between them), then end. */
export type TrainProgressEvent =
  /**
   * Before the first step; `step` is where the run starts (above 0 when resumed). `decoderPass` is the
   * pass that runs, and `decoderPassNote` why `auto` chose TF.js (absent otherwise). `lossInGraph`: the
   * value head and the loss run inside ONNX Runtime's step graph too (the `pqm` loss on that pass).
   */
  | {
      type: "start";
      step: number;
      totalSteps: number;
      decoderPass: "tfjs" | "onnxruntime";
      lossInGraph: boolean;
      decoderPassNote?: string;
    }
  /** After each optimizer step, with its metrics-log record. */
  | { type: "step"; step: number; totalSteps: number; record: StepRecord }
  /** After a validation pass; `final` for the one at the end. */
  | { type: "validation"; step: number; metrics: ValidationMetrics; final: boolean }
  /** After a checkpoint folder was written. */
  | { type: "checkpoint"; step: number; folder: string }
  /** After the last checkpoint, when the run returns normally. */
  | { type: "end"; step: number; totalSteps: number; stoppedBy: TrainResult["stoppedBy"] };

/** What {@link trainPrm} did. */
export interface TrainResult {
  /** Optimizer steps done in total (resumed ones included). */
  steps: number;
  /** Why it stopped. */
  stoppedBy: "steps" | "time" | "stop-after-step" | "interrupted";
  /** The records of this call's steps. */
  history: StepRecord[];
  /** Validation at the end (null without validation rows). */
  validation: ValidationMetrics | null;
  /** Checkpoint folders written. */
  checkpoints: string[];
  /** Seconds of this call. */
  elapsedSeconds: number;
  /** Real tokens per second over this call. */
  tokensPerSecond: number;
  /** Trajectories the encoder rejected, by set and reason. */
  rejected: { train: number; validation: number };
  /** Where the decoder's forward and backward pass ran. */
  decoderPass: "tfjs" | "onnxruntime";
  /** Whether the value head and the loss ran in the same ONNX Runtime graph as the decoder. */
  lossInGraph: boolean;
}

/** Input of {@link trainPrm}. */
export interface TrainPrmInput {
  model: ProcessRewardModel;
  /** Labeled training trajectories. */
  train: readonly LabeledTrajectory[];
  /** Validation trajectories; default: `validationFraction` of the training questions. */
  validation?: readonly LabeledTrajectory[];
  config?: Partial<TrainingConfig>;
  run?: TrainRunOptions;
}

/** Fills defaults and checks the config. @throws RangeError naming the bad field. */
export function resolveTrainingConfig(config: Partial<TrainingConfig> = {}): TrainingConfig {
  const resolved: TrainingConfig = { ...DEFAULT_TRAINING_CONFIG, ...config };
  if (!isLossName(resolved.loss)) {
    // getLoss also knows user-registered losses; let it validate those.
    getLoss(resolved.loss, { zeta: resolved.zeta });
  }
  if (resolved.labels === "soft" && isLossName(resolved.loss) && lossLabelKinds[resolved.loss] !== "soft") {
    throw new RangeError(`config.labels = 'soft' but loss '${resolved.loss}' needs hard labels`);
  }
  const positive: (keyof TrainingConfig)[] = ["learningRate", "gradientAccumulation", "epochs"];
  for (const field of positive) {
    const value = resolved[field];
    if (typeof value !== "number" || !(value > 0))
      throw new RangeError(`config.${field} = ${value} must be > 0`);
  }
  for (const field of ["maxSteps", "batchSize", "maxTokensPerBatch", "warmupSteps"] as const) {
    const value = resolved[field];
    if (value !== null && !(Number.isInteger(value) && value >= (field === "warmupSteps" ? 0 : 1))) {
      throw new RangeError(`config.${field} = ${value} must be a positive integer or null`);
    }
  }
  if (!Number.isInteger(resolved.gradientAccumulation)) {
    throw new RangeError(`config.gradientAccumulation = ${resolved.gradientAccumulation} must be an integer`);
  }
  if (resolved.maxGradNorm !== null && !(resolved.maxGradNorm > 0)) {
    throw new RangeError(`config.maxGradNorm = ${resolved.maxGradNorm} must be > 0 or null`);
  }
  return resolved;
}

interface LabeledBatch {
  batch: PrmBatch;
  tensors: PrmBatchTensors;
  labels: tf.Tensor2D;
  /** The labels' values on the host, which the loss checks instead of reading the tensor back. */
  labelValues: ArrayLike<number>;
}

function withLabels(batch: PrmBatch, source: "hard" | "soft"): LabeledBatch {
  const soft = source === "soft" && batch.softLabels !== null;
  const labelValues = soft ? batch.softLabels : batch.labels;
  if (labelValues === null) throw new Error("training batch without labels");
  const tensors = batchToTensors(batch);
  const labels = soft ? tensors.softLabels : tensors.labels;
  if (labels === null) throw new Error("training batch without labels");
  return { batch, tensors, labels, labelValues };
}

function disposeBatch(tensors: PrmBatchTensors): void {
  for (const tensor of Object.values(tensors)) (tensor as tf.Tensor | null)?.dispose();
}

function realTokens(batch: PrmBatch): number {
  let count = 0;
  for (const value of batch.attentionMask) count += value;
  return count;
}

/**
 * Mean loss and step AUROC over validation rows, in evaluation mode (no dropout). One asynchronous
 * read per batch: its loss and its scores together.
 */
export async function evaluatePrm(
  model: ProcessRewardModel,
  batcher: LengthBucketedBatcher,
  loss: TensorLoss,
  labelSource: "hard" | "soft",
): Promise<ValidationMetrics> {
  const scores: number[] = [];
  const labels: number[] = [];
  let lossSum = 0;
  let rows = 0;
  for (const { batch } of batcher.batches()) {
    const { tensors, labels: target, labelValues } = withLabels(batch, labelSource);
    const both = tf.tidy(() => {
      const predicted = model.forwardScores(tensors); // [batch, steps]
      return tf.concat([tf.reshape(loss(predicted, target, labelValues), [1]), tf.reshape(predicted, [-1])]);
    });
    disposeBatch(tensors);
    const read = await both.data();
    both.dispose();
    lossSum += (read[0] as number) * batch.batchSize;
    rows += batch.batchSize;
    const values = read.subarray(1);
    const hard = batch.labels as Int32Array;
    for (let index = 0; index < hard.length; index++) {
      if (batch.stepMask[index] === 1) {
        scores.push(values[index] as number);
        labels.push(hard[index] as number);
      }
    }
  }
  return {
    loss: rows === 0 ? Number.NaN : lossSum / rows,
    auroc: auroc(scores, labels),
    steps: scores.length,
  };
}

/** The config as JSON data (`Infinity`-free), for `pqm.json`. */
function configJson(config: TrainingConfig): { [key: string]: JsonValue } {
  return JSON.parse(JSON.stringify(config)) as { [key: string]: JsonValue };
}

/**
 * Trains a PRM: one loop in the classic order (learning rate; evaluate and checkpoint; forward and
 * backward over `gradientAccumulation` micro-batches; clip; AdamW step; log; stop). Batches come from the
 * length-bucketed batcher; dropout masks are seeded from `(seed, step, micro-batch)`, so a run resumed
 * from a checkpoint continues exactly as an uninterrupted one. Writes JSONL metrics and checkpoints when
 * asked, and reports its progress through `run.onProgress` (it prints nothing). Every step frees its
 * tensors (the live count stays flat).
 * @throws TrainingDivergedError when the loss or the gradient norm is NaN or infinite (naming the step
 *   and the batch's rows); RangeError for a bad config; Error when no training row can be encoded or
 *   the resume state belongs to other data.
 */
export async function trainPrm(input: TrainPrmInput): Promise<TrainResult> {
  const { model } = input;
  const run = input.run ?? {};
  const config = resolveTrainingConfig(input.config);
  const loss = getLoss(config.loss, { zeta: config.zeta });

  // Data: encode with the model's own spec, split, batch by length.
  let trainSet = input.train;
  let validationSet = input.validation;
  if (validationSet === undefined && config.validationFraction > 0) {
    const split = splitByQuestion(input.train, config.validationFraction, config.seed);
    trainSet = split.train;
    validationSet = split.validation;
  }
  const trainEncoded = model.encoder.encodeAll(trainSet);
  const validationEncoded = model.encoder.encodeAll(validationSet ?? []);
  if (trainEncoded.rows.length === 0) {
    throw new Error(`no training row could be encoded (${trainEncoded.rejected.length} rejected)`);
  }
  const buckets: readonly LengthBucket[] =
    config.batchSize === null
      ? REFERENCE_BUCKETS
      : [{ maxLength: Number.POSITIVE_INFINITY, batchSize: config.batchSize }];
  const batcherOptions = {
    padTokenId: model.padTokenId,
    buckets,
    seed: config.seed,
    ...(config.maxTokensPerBatch === null ? {} : { maxTokensPerBatch: config.maxTokensPerBatch }),
  };
  const batcher = new LengthBucketedBatcher(trainEncoded.rows, batcherOptions);
  const validationBatcher =
    validationEncoded.rows.length === 0
      ? null
      : new LengthBucketedBatcher(validationEncoded.rows, { ...batcherOptions, shuffle: false });
  const evaluate = async (): Promise<ValidationMetrics | null> =>
    validationBatcher === null ? null : evaluatePrm(model, validationBatcher, loss, config.labels);

  const batchesPerEpoch = batcher.planEpoch(0).length;
  const totalSteps =
    config.maxSteps ??
    Math.max(1, Math.floor((batchesPerEpoch * config.epochs) / config.gradientAccumulation));
  const warmupSteps = config.warmupSteps ?? Math.round(totalSteps * config.warmupRatio);
  const schedule = {
    peak: config.learningRate,
    warmupSteps,
    totalSteps,
    decay: config.decay,
    minimum: config.minLearningRate,
  };

  const parameters = model.trainableVariables();
  const parameterList = [...parameters.values()];
  const optimizer = new AdamW({
    beta1: config.beta1,
    beta2: config.beta2,
    epsilon: config.epsilon,
    weightDecay: config.weightDecay,
  });
  let step = 0;
  let batcherState = batcher.initialState();
  let elapsedBefore = 0;
  let tokensSeen = 0;
  if (run.resume !== undefined) {
    const saved = run.resume.state;
    if (saved.rng.seed !== config.seed) {
      throw new Error(
        `the checkpoint was trained with seed ${saved.rng.seed}, this run has seed ${config.seed}`,
      );
    }
    optimizer.setState({ step: saved.optimizerStep, moments: run.resume.optimizerMoments }, parameters);
    step = saved.step;
    batcherState = saved.batcher;
    elapsedBefore = saved.elapsedSeconds;
    tokensSeen = saved.tokensSeen;
  }
  // Unlimited epochs when steps bound the run; the batcher is lazy.
  const untilEpoch = config.maxSteps === null ? config.epochs : Number.MAX_SAFE_INTEGER;
  const iterator: Iterator<BatchStep> = batcher.batches(batcherState, untilEpoch);

  const metricsPath =
    run.metricsPath ?? (run.outputDir === undefined ? undefined : join(run.outputDir, "metrics.jsonl"));
  if (metricsPath !== undefined) {
    await mkdir(dirname(metricsPath), { recursive: true });
    await truncateMetrics(metricsPath, step);
  }
  const startStep = step;
  const aborted = (): boolean => run.signal?.aborted === true;
  const progress = run.onProgress;
  const { trainer, note: decoderPassNote } = await openDecoderPass(
    model,
    run,
    config.loss === "pqm" ? config.zeta : null,
  );
  const decoderPass = trainer === null ? "tfjs" : "onnxruntime";
  const lossInGraph = trainer?.lossInGraph === true;
  progress?.({
    type: "start",
    step,
    totalSteps,
    decoderPass,
    lossInGraph,
    ...(decoderPassNote === undefined ? {} : { decoderPassNote }),
  });

  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const history: StepRecord[] = [];
  const checkpoints: string[] = [];
  let tokensThisCall = 0;
  let lastValidation: ValidationMetrics | null = null;
  let stoppedBy: TrainResult["stoppedBy"] = "steps";
  let dataExhausted = false;

  const checkpoint = async (): Promise<void> => {
    if (run.outputDir === undefined) return;
    const folder = join(run.outputDir, `checkpoint-${String(step).padStart(6, "0")}`);
    const state: TrainingStateJson = {
      version: 1,
      step,
      optimizerStep: optimizer.step,
      rng: { seed: config.seed, scheme: "derived-from-step" },
      batcher: batcherState,
      elapsedSeconds: elapsedBefore + seconds(),
      tokensSeen,
    };
    const { moments } = await optimizer.getState();
    await saveCheckpoint(folder, model, {
      loss: config.loss,
      zeta: config.loss.startsWith("pqm") ? config.zeta : null,
      step,
      training: configJson(config),
      trainingState: { state, optimizerMoments: moments },
    });
    checkpoints.push(folder);
    progress?.({ type: "checkpoint", step, folder });
  };

  try {
    while (step < totalSteps) {
      if (aborted()) {
        stoppedBy = "interrupted";
        break;
      }
      // 1. Learning rate of this step.
      const learningRate = learningRateAt(step, schedule);

      // 2. Evaluate and checkpoint (never re-saving the step a run resumed from).
      let validation: ValidationMetrics | null = null;
      if (config.evalEvery > 0 && step % config.evalEvery === 0 && step > 0) {
        validation = await evaluate();
        if (validation !== null) progress?.({ type: "validation", step, metrics: validation, final: false });
      }
      if (
        config.checkpointEvery > 0 &&
        step % config.checkpointEvery === 0 &&
        step > (run.resume?.state.step ?? 0)
      ) {
        await checkpoint();
      }

      // 3. Forward and backward over the micro-batches, gradients averaged. Nothing is read back
      // here: the losses stay on the backend until step 4 reads them with the gradient norm.
      const stepStart = performance.now();
      let accumulated: Map<string, tf.Tensor> | null = null;
      const losses: tf.Scalar[] = [];
      const microRows: number[][] = [];
      let micro = 0;
      let stepTokens = 0;
      for (; micro < config.gradientAccumulation; micro++) {
        const next = iterator.next();
        if (next.done === true) {
          dataExhausted = true;
          break;
        }
        const { batch } = next.value;
        microRows.push(batch.sourceIndices);
        const { tensors, labels, labelValues } = withLabels(batch, config.labels);
        const dropoutSeed = deriveSeed(config.seed, step, micro);
        const { value, grads } =
          trainer === null
            ? tf.variableGrads(
                () =>
                  loss(model.forwardScores(tensors, { training: true, dropoutSeed }), labels, labelValues),
                parameterList,
              )
            : onnxPassGradients(
                trainer,
                model,
                tensors,
                (scores) => loss(scores, labels, labelValues),
                labelValues,
                dropoutSeed,
              );
        losses.push(value);
        disposeBatch(tensors);
        stepTokens += realTokens(batch);
        batcherState = next.value.next;
        const scaled = new Map<string, tf.Tensor>();
        for (const [name, gradient] of Object.entries(grads)) {
          if (gradient === null) continue;
          const key = stableName(name);
          const previous = accumulated?.get(key);
          scaled.set(
            key,
            tf.tidy(() => {
              const part =
                config.gradientAccumulation === 1
                  ? tf.clone(gradient)
                  : tf.div(gradient, config.gradientAccumulation);
              return previous === undefined ? part : tf.add(previous, part);
            }),
          );
          gradient.dispose();
          previous?.dispose();
        }
        accumulated = scaled;
      }
      if (accumulated === null || micro === 0) break;

      // 4. The step's one read from the backend, asynchronous: every micro-batch's loss and the global
      // gradient norm. Then the guards, and clipping by that norm.
      const readBack = tf.tidy(() =>
        tf.concat([
          ...losses.map((value) => tf.reshape(value, [1])),
          tf.reshape(globalNormTensor(accumulated), [1]),
        ]),
      );
      tf.dispose(losses);
      const values = await readBack.data();
      readBack.dispose();
      let lossSum = 0;
      for (let index = 0; index < micro; index++) {
        const lossValue = values[index] as number;
        if (!Number.isFinite(lossValue)) {
          for (const gradient of accumulated.values()) gradient.dispose();
          throw divergence(step, "loss", lossValue, microRows[index] ?? [], trainSet, trainEncoded.rows);
        }
        lossSum += lossValue;
      }
      const lastRows = microRows[micro - 1] ?? [];
      const norm = values[micro] as number;
      if (!Number.isFinite(norm)) {
        for (const gradient of accumulated.values()) gradient.dispose();
        throw divergence(step, "gradient norm", norm, lastRows, trainSet, trainEncoded.rows);
      }

      // 5. Optimizer step, clipping as it updates (the gradients times the clipping factor).
      optimizer.applyGradients(parameters, accumulated, learningRate, {
        gradientScale: clipFactor(config.maxGradNorm ?? Number.POSITIVE_INFINITY, norm),
      });
      for (const gradient of accumulated.values()) gradient.dispose();
      step++;
      tokensSeen += stepTokens;
      tokensThisCall += stepTokens;

      // 6. Log.
      const record: StepRecord = {
        step,
        epoch: batcherState.epoch,
        loss: lossSum / micro,
        learningRate,
        gradNorm: norm,
        tokensPerSecond: stepTokens / ((performance.now() - stepStart) / 1000),
        elapsedSeconds: elapsedBefore + seconds(),
        ...(validation === null ? {} : { validation }),
      };
      if (validation !== null) lastValidation = validation;
      history.push(record);
      if (metricsPath !== undefined) await appendFile(metricsPath, `${JSON.stringify(record)}\n`);
      run.onStep?.(record);
      progress?.({ type: "step", step, totalSteps, record });

      // 7. Stop. With a signal, let the event loop run once so an abort (a signal handler) is seen.
      if (run.signal !== undefined) await new Promise((resolve) => setImmediate(resolve));
      if (aborted()) {
        stoppedBy = "interrupted";
        break;
      }
      if (dataExhausted) break;
      if (run.stopAfterStep !== undefined && step >= run.stopAfterStep) {
        stoppedBy = "stop-after-step";
        break;
      }
      if (run.timeBudgetSeconds !== undefined && seconds() >= run.timeBudgetSeconds) {
        stoppedBy = "time";
        break;
      }
    }
    const finalValidation = stoppedBy === "interrupted" ? null : await evaluate();
    if (finalValidation !== null) {
      lastValidation = finalValidation;
      const line = { step, final: true, validation: finalValidation };
      if (metricsPath !== undefined) await appendFile(metricsPath, `${JSON.stringify(line)}\n`);
      progress?.({ type: "validation", step, metrics: finalValidation, final: true });
    }
    // An interrupted call that took no step has nothing new to keep.
    if (stoppedBy !== "interrupted" || step > startStep) await checkpoint();
  } finally {
    optimizer.dispose();
    trainer?.dispose();
  }
  progress?.({ type: "end", step, totalSteps, stoppedBy });
  const elapsedSeconds = seconds();
  return {
    steps: step,
    stoppedBy,
    history,
    validation: lastValidation,
    checkpoints,
    elapsedSeconds,
    tokensPerSecond: tokensThisCall / elapsedSeconds,
    rejected: { train: trainEncoded.rejected.length, validation: validationEncoded.rejected.length },
    decoderPass,
    lossInGraph,
  };
}

/**
 * The ONNX Runtime decoder pass `run.decoderPass` asks for, or null with why TF.js runs instead. With the
 * practical PQM loss (`pqmZeta` not null) the whole step runs as one graph, value head and loss included.
 * @throws Error with the reason when `onnxruntime` was asked for and cannot run.
 */
async function openDecoderPass(
  model: ProcessRewardModel,
  run: TrainRunOptions,
  pqmZeta: number | null,
): Promise<{ trainer: OnnxDecoderTrainer | null; note?: string }> {
  const choice = run.decoderPass ?? "auto";
  if (choice !== "auto" && choice !== "tfjs" && choice !== "onnxruntime") {
    throw new RangeError(`run.decoderPass = '${String(choice)}' must be auto, tfjs or onnxruntime`);
  }
  if (choice === "tfjs") return { trainer: null };
  let reason = OnnxDecoderTrainer.unsupportedReason(model.backbone);
  if (reason === null) {
    const selection = currentBackendSelection();
    const threads = run.decoderPassThreads ?? (selection?.matmul === "onnxruntime" ? selection.threads : 1);
    if (!(Number.isInteger(threads) && threads >= 1))
      throw new RangeError(`run.decoderPassThreads = ${threads} must be a positive integer`);
    try {
      return {
        trainer: await OnnxDecoderTrainer.create(model.backbone, {
          threads,
          spinning: threads === 1,
          ...(pqmZeta === null ? {} : { pqmLoss: { zeta: pqmZeta } }),
        }),
      };
    } catch (error) {
      reason = (error as Error).message;
    }
  }
  if (choice === "onnxruntime") throw new Error(`run.decoderPass = 'onnxruntime': ${reason}`);
  return { trainer: null, note: reason };
}

/**
 * A micro-batch's loss and gradients with the decoder on ONNX Runtime: its forward pass, then the value
 * head and the loss under TF.js's tape (their weights' gradients and the hidden state's), then the
 * decoder's backward from the hidden state's gradient. Keyed like `tf.variableGrads`'s result.
 */
function onnxPassGradients(
  trainer: OnnxDecoderTrainer,
  model: ProcessRewardModel,
  tensors: PrmBatchTensors,
  lossOf: (scores: tf.Tensor2D) => tf.Scalar,
  labelValues: ArrayLike<number>,
  dropoutSeed: number,
): { value: tf.Scalar; grads: Record<string, tf.Tensor | null> } {
  const { weight, bias } = model.valueHead;
  if (trainer.lossInGraph) {
    // One run: the head's dropout multiplier is tf.dropout's own mask for this seed, so the step matches
    // the TF.js path's.
    const [batch, tags] = tensors.tagPositions.shape as [number, number];
    const rate = model.valueHead.dropout;
    const dropoutScale =
      rate > 0
        ? tf.tidy(() =>
            tf.dropout(tf.ones([batch * tags, weight.shape[1] as number]), rate, undefined, dropoutSeed),
          )
        : undefined;
    let result: OnnxStepResult;
    try {
      result = trainer.step({
        inputIds: tensors.inputIds,
        attentionMask: tensors.attentionMask,
        positionIds: tensors.positionIds,
        tagPositions: tensors.tagPositions,
        labels: labelValues,
        head: { weight, bias },
        ...(dropoutScale === undefined ? {} : { dropoutScale }),
      });
    } finally {
      dropoutScale?.dispose();
    }
    const grads: Record<string, tf.Tensor | null> = {};
    for (const [name, gradient] of result.gradients) grads[name] = gradient;
    for (const [variable, gradient] of [
      [weight, result.headGradients.weight],
      [bias, result.headGradients.bias],
    ] as const) {
      if (variable.trainable) grads[variable.name] = gradient;
      else gradient.dispose();
    }
    return { value: result.loss, grads };
  }
  const pass = trainer.forward(tensors);
  const head = [model.valueHead.weight, model.valueHead.bias].filter((variable) => variable.trainable);
  let result: { value: tf.Scalar; grads: tf.Tensor[] };
  try {
    result = tf
      .engine()
      .gradients(
        () =>
          lossOf(model.valueHead.apply(pass.hidden, tensors.tagPositions, { training: true, dropoutSeed })),
        [pass.hidden, ...head],
      );
  } catch (error) {
    trainer.discard(pass);
    throw error;
  } finally {
    pass.hidden.dispose();
  }
  const [hiddenGradient, ...headGradients] = result.grads as [tf.Tensor, ...tf.Tensor[]];
  let decoderGradients: Map<string, tf.Tensor>;
  try {
    decoderGradients = trainer.backward(pass, hiddenGradient);
  } finally {
    hiddenGradient.dispose();
  }
  const grads: Record<string, tf.Tensor | null> = {};
  for (const [name, gradient] of decoderGradients) grads[name] = gradient;
  head.forEach((variable, index) => {
    grads[variable.name] = headGradients[index] as tf.Tensor;
  });
  return { value: result.value, grads };
}

/**
 * Keeps the rows of a metrics log up to `step` (a final validation row at `step` excluded: the run goes on
 * from there), so a resumed run logs each step once. A fresh run (`step` 0) empties it. Rewritten through
 * a temporary file and a rename; a missing log is left missing.
 */
async function truncateMetrics(path: string, step: number): Promise<void> {
  if (!existsSync(path)) return;
  const text = await readFile(path, "utf8");
  const kept: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let row: { step?: unknown; final?: unknown };
    try {
      row = JSON.parse(line) as { step?: unknown; final?: unknown };
    } catch {
      break; // a line cut short by a crash: it and anything after it go
    }
    if (typeof row.step !== "number" || row.step > step || (row.step === step && row.final === true))
      continue;
    kept.push(line);
  }
  const rewritten = kept.map((line) => `${line}\n`).join("");
  if (rewritten === text) return;
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, rewritten);
  await rename(temporary, path);
}

function divergence(
  step: number,
  quantity: "loss" | "gradient norm",
  value: number,
  sourceIndices: readonly number[],
  trainSet: readonly LabeledTrajectory[],
  _rows: readonly EncodedRow[],
): TrainingDivergedError {
  const questionIds = sourceIndices.map((index) => trainSet[index]?.question.id ?? "?");
  return new TrainingDivergedError(step + 1, quantity, value, sourceIndices, questionIds);
}
