import { join } from "node:path";
import type { LabeledTrajectory, Trajectory } from "@pqm/core";
import { buildWordTokenizer, ProcessRewardModel, selectBackend, trainPrm } from "@pqm/model";
import type { RunOptions } from "./progress.js";
import type { DemoRecipe } from "./recipe.js";

/** Everything one model's training and scoring needs; plain data, so it can cross to a worker thread. */
export interface TrainJob {
  /** A loss name of @pqm/core (`pqm`, `pqm-paper`, `pqm-theory`, `pqm-ablation`, `bce`, `mse`, `orm`). */
  loss: string;
  /** The margin for the PQM losses (default: the recipe's). */
  zeta?: number;
  /** Which labels the loss reads (default hard; `soft` for bce and mse on soft labels). */
  labels?: "hard" | "soft";
  /** Name of this model in events and file names (default: the loss). */
  name?: string;
  corpus: LabeledTrajectory[];
  /** The held-out candidates to score, flattened. */
  candidates: Trajectory[];
  tokenizerCorpus: string[];
  config: DemoRecipe;
  seed: number;
  /** Folder of the metrics log (`metrics-<name>.jsonl`) and of the result once trained (`model-<name>.result.json`); neither is written without it. */
  outDir?: string;
  backend?: RunOptions["backend"];
}

/** What training and scoring one model gave. */
export interface TrainJobResult {
  loss: string;
  name: string;
  backend: string;
  trainSteps: number;
  trainSeconds: number;
  trainTokensPerSecond: number;
  validationAuroc: number | null;
  scoreSeconds: number;
  /** Step scores of `candidates`, in order. */
  scores: number[][];
}

/** What a model's training reports while it runs. */
export interface TrainHooks {
  onStep?: (step: number, loss: number) => void;
  onTrained?: (info: {
    steps: number;
    seconds: number;
    tokensPerSecond: number;
    validationAuroc: number | null;
  }) => void;
  /** Asked after every optimizer step and before scoring; true stops with {@link TrainingStoppedError}. */
  shouldStop?: () => boolean;
}

/** Training was stopped on request (an abort); the caller turns it into its signal's reason. */
export class TrainingStoppedError extends Error {
  constructor(name: string) {
    super(`training of the ${name} model was stopped`);
    this.name = "TrainingStoppedError";
  }
}

/**
 * Trains one PRM from scratch on the job's corpus (a fresh word tokenizer and a small Llama, the same
 * initialization seed for every loss) and scores the held-out candidates. Runs in the calling thread.
 * @throws TrainingStoppedError when `hooks.shouldStop` says so; the model is disposed either way.
 */
export async function trainAndScore(job: TrainJob, hooks: TrainHooks = {}): Promise<TrainJobResult> {
  const { config } = job;
  const name = job.name ?? job.loss;
  const stopIfAsked = () => {
    if (hooks.shouldStop?.()) throw new TrainingStoppedError(name);
  };
  stopIfAsked();
  const backend = await selectBackend(job.backend ? { backend: job.backend } : {});
  const tokenizer = buildWordTokenizer(job.tokenizerCorpus);
  const model = ProcessRewardModel.fromScratch(
    {
      hidden_size: config.hiddenSize,
      num_hidden_layers: config.layers,
      num_attention_heads: config.heads,
      num_key_value_heads: config.kvHeads,
      intermediate_size: config.intermediateSize,
      max_position_embeddings: 512,
      initializer_range: 0.02,
    },
    tokenizer,
    { seed: job.seed, name: `arith-${name}` },
  );
  try {
    const train = await trainPrm({
      model,
      train: job.corpus,
      config: {
        loss: job.loss,
        zeta: job.zeta ?? config.zeta,
        labels: job.labels ?? "hard",
        learningRate: config.learningRate,
        maxSteps: config.trainSteps,
        batchSize: config.batchSize,
        seed: job.seed,
        validationFraction: 0.1,
      },
      run: {
        ...(job.outDir !== undefined ? { metricsPath: join(job.outDir, `metrics-${name}.jsonl`) } : {}),
        onStep: (record) => {
          hooks.onStep?.(record.step, record.loss);
          stopIfAsked();
        },
      },
    });
    hooks.onTrained?.({
      steps: train.steps,
      seconds: train.elapsedSeconds,
      tokensPerSecond: train.tokensPerSecond,
      validationAuroc: train.validation?.auroc ?? null,
    });
    stopIfAsked();
    const started = performance.now();
    const scores = await model.scoreSteps(job.candidates);
    return {
      loss: job.loss,
      name,
      backend: `training on ${backend.description}${backend.advice === null ? "" : `; ${backend.advice}`}`,
      trainSteps: train.steps,
      trainSeconds: train.elapsedSeconds,
      trainTokensPerSecond: train.tokensPerSecond,
      validationAuroc:
        train.validation && Number.isFinite(train.validation.auroc) ? train.validation.auroc : null,
      scoreSeconds: (performance.now() - started) / 1000,
      scores,
    };
  } finally {
    model.dispose();
  }
}
