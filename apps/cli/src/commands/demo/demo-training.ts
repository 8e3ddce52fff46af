import { join } from "node:path";
import type { LabelledTrajectory, Trajectory } from "@pqm/core";
import { buildWordTokenizer, ProcessRewardModel, selectBackend, trainPrm } from "@pqm/model";
import type { DemoConfig } from "./demo-config.js";

/** Everything one model's training and scoring needs; plain data, so it can cross to a worker thread. */
export interface TrainJob {
  /** A loss name of @pqm/core (`pqm`, `pqm-paper`, `pqm-theory`, `pqm-ablation`, `bce`, `mse`, `orm`). */
  loss: string;
  /** The margin for the PQM losses (default: the config's). */
  zeta?: number;
  /** Which labels the loss reads (default hard; `soft` for bce and mse on soft labels). */
  labels?: "hard" | "soft";
  /** Name of this model in logs and file names (default: the loss). */
  name?: string;
  corpus: LabelledTrajectory[];
  /** The held-out candidates to score, flattened. */
  candidates: Trajectory[];
  tokenizerCorpus: string[];
  config: DemoConfig;
  seed: number;
  outDir: string;
  backend?: "wasm" | "cpu";
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

/**
 * Trains one PRM from scratch on the job's corpus (a fresh word tokenizer and a small Llama, the same
 * initialisation seed for both losses) and scores the held-out candidates. Runs in the calling thread.
 */
export async function trainAndScore(job: TrainJob, log: (line: string) => void): Promise<TrainJobResult> {
  const { config } = job;
  const name = job.name ?? job.loss;
  const backend = await selectBackend({ ...(job.backend ? { backend: job.backend } : {}), log: () => {} });
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
        progress: false,
        metricsPath: join(job.outDir, `metrics-${job.loss}.jsonl`),
        onStep: (record) => {
          if (record.step % 50 === 0)
            log(`  ${job.loss}: step ${record.step}, loss ${record.loss.toFixed(3)}`);
        },
      },
    });
    log(
      `  ${name}: ${train.steps} steps in ${train.elapsedSeconds.toFixed(1)} s (${Math.round(train.tokensPerSecond)} tokens/s), validation AUROC ${train.validation?.auroc.toFixed(3) ?? "-"}`,
    );
    const started = performance.now();
    const scores = await model.scoreSteps(job.candidates);
    return {
      loss: job.loss,
      name,
      backend: backend.description,
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
