import type { AnnotationProgress } from "@pqm/data";

/** A stage of a run began (`annotate`, `sample candidates`, `train and score both models ...`, `evaluate`; experiments: `label`, `train`). */
export interface StageStartEvent {
  type: "stage-start";
  /** The seed of the run the stage belongs to. */
  seed: number;
  stage: string;
  /** Models this stage trains (training stages only). */
  models?: number;
}

/** A stage of a run ended. */
export interface StageEndEvent {
  type: "stage-end";
  seed: number;
  stage: string;
  seconds: number;
}

/** The Monte-Carlo annotation of a training corpus moved on (as @pqm/data's `annotate` reports it). */
export interface AnnotationEvent {
  type: "annotation";
  seed: number;
  /** Rollouts per step of this corpus (the experiments label with several). */
  rollouts: number;
  progress: AnnotationProgress;
}

/** One optimizer step of one model is done. */
export interface TrainingStepEvent {
  type: "training-step";
  seed: number;
  /** The model's name (the loss in the demo; `<index>-<variant>` in the experiments). */
  model: string;
  loss: string;
  step: number;
  totalSteps: number;
  /** The step's training loss. */
  value: number;
}

/** One model finished training (its scoring of the held-out candidates follows). */
export interface ModelTrainedEvent {
  type: "model-trained";
  seed: number;
  model: string;
  loss: string;
  steps: number;
  seconds: number;
  tokensPerSecond: number;
  /** Step AUROC on the validation split against its Monte-Carlo labels; null without validation, NaN when a class is absent. */
  validationAuroc: number | null;
}

/** A model's result was found in the results folder, kept by an earlier run of the same recipe: it is not trained again. */
export interface ModelResumedEvent {
  type: "model-resumed";
  seed: number;
  model: string;
  loss: string;
  /** The file it was read from. */
  file: string;
}

/** A worker thread that trains one model started or exited (parallel runs only). */
export interface WorkerEvent {
  type: "worker";
  state: "started" | "exited";
  seed: number;
  model: string;
  /** Node's id of the thread. */
  threadId: number;
}

/** What a run tells its `onProgress` callback; nothing is printed. */
export type PipelineEvent =
  | StageStartEvent
  | StageEndEvent
  | AnnotationEvent
  | TrainingStepEvent
  | ModelTrainedEvent
  | ModelResumedEvent
  | WorkerEvent;

/** Options every run takes besides its recipe. */
export interface RunOptions {
  /**
   * Results folder: per-seed annotations and training metrics, the report files and per-model reports.
   * Without it nothing is written to disk and only the returned data remains.
   */
  out?: string;
  /**
   * Force a TF.js backend (`wasm`, `cpu`, or `webgpu` / a native one when installed); default: the
   * fastest installed.
   */
  backend?: "tensorflow-gpu" | "webgpu" | "tensorflow" | "wasm" | "cpu";
  /**
   * Stops the run: the annotation stops between rows, training stops between optimizer steps (the
   * models in flight are abandoned), workers are ended, and the promise rejects with @pqm/data's
   * `InterruptedError` (name `AbortError`, cause `signal.reason`) whose `saved` is a `PipelineSaved`:
   * what was finished and kept in `out`. Training in the calling thread (`parallel: false`) notices
   * the signal at its next step only when the signal is aborted from a progress callback or between
   * awaits, since a training step does not yield.
   */
  signal?: AbortSignal;
  /**
   * With `out`, a run resumes what an earlier run of the same settings left in the folder (its
   * `run.json` records them): finished annotation rows and trained models are read back. A folder
   * holding a run with other settings is refused with `RunMismatchError`. `overwrite: true` deletes
   * the folder's run state first (`run.json`, annotations, metrics, kept models, `seed-*` folders)
   * and starts over.
   */
  overwrite?: boolean;
  /** Told about stages, annotation, training steps and worker threads. */
  onProgress?: (event: PipelineEvent) => void;
  /** Recorded in the results as what started the run (a command line); default `@pqm/pipeline`. */
  command?: string;
  /** Worker threads at once when the recipe is `parallel` (default 2: one per core of the 2-core machines the recipe was sized on). */
  workers?: number;
  /**
   * Modules each worker thread imports before it trains, as URLs or absolute paths (for example one
   * that sets TF.js flags for that thread, since they belong to each thread's engine).
   */
  workerSetup?: readonly (string | URL)[];
}
