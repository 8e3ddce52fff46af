import { join } from "node:path";
import type { LabeledTrajectory, Scorer, Trajectory } from "@pqm/core";
import type { ArithEnvironmentOptions } from "@pqm/data";
import { buildWordTokenizer, ProcessRewardModel, selectBackend, trainPrm } from "@pqm/model";
import { type ArithEvaluationPoint, evaluateArithSearch, type SearchSpec } from "@pqm/search";
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
  /** Searches guided by the trained model on the arith test questions of `seed`, after scoring. */
  search?: SearchJob;
}

/** The searches a trained model guides: each spec on `questions` test questions of the job's seed. */
export interface SearchJob {
  /** The arith environment's problem and policy knobs (its seed is the job's). */
  environment: Omit<ArithEnvironmentOptions, "seed">;
  questions: number;
  specs: SearchSpec[];
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
  /** The job's searches with this model as the verifier, in `search.specs` order (absent without `search`). */
  search?: ArithEvaluationPoint[];
  /** Seconds the searches took. */
  searchSeconds?: number;
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
    const scoreSeconds = (performance.now() - started) / 1000;
    const searched =
      job.search === undefined ? undefined : await searchWith(model, job, job.search, stopIfAsked);
    return {
      loss: job.loss,
      name,
      backend: `training on ${backend.description}${backend.advice === null ? "" : `; ${backend.advice}`}`,
      trainSteps: train.steps,
      trainSeconds: train.elapsedSeconds,
      trainTokensPerSecond: train.tokensPerSecond,
      validationAuroc:
        train.validation && Number.isFinite(train.validation.auroc) ? train.validation.auroc : null,
      scoreSeconds,
      scores,
      ...(searched === undefined ? {} : searched),
    };
  } finally {
    model.dispose();
  }
}

/** The job's searches with `model` as the verifier; asks `stopIfAsked` before every scoring call. */
async function searchWith(
  model: ProcessRewardModel,
  job: TrainJob,
  search: SearchJob,
  stopIfAsked: () => void,
): Promise<{ search: ArithEvaluationPoint[]; searchSeconds: number }> {
  const started = performance.now();
  // The model itself is the scorer; this wrapper only lets a stop request end a long search.
  const scorer: Scorer = {
    name: model.name,
    scoreSteps: (trajectories) => {
      stopIfAsked();
      return model.scoreSteps(trajectories);
    },
  };
  const evaluation = await evaluateArithSearch({
    environment: search.environment,
    questions: search.questions,
    seeds: [job.seed],
    searches: search.specs,
    scorers: [{ name: job.name ?? job.loss, make: () => scorer }],
  });
  return { search: evaluation.points, searchSeconds: (performance.now() - started) / 1000 };
}
