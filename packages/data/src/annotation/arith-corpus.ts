import type { LabeledTrajectory } from "@pqm/core/reference";
import type { ArithEnvironment } from "../arith/index.js";
import type { AnnotateOptions, AnnotationSummary } from "./monte-carlo-annotator.js";
import { annotate, annotatedRowToTrajectory } from "./monte-carlo-annotator.js";

/** Options of `arithMonteCarloCorpus`. */
export interface ArithMonteCarloCorpusOptions extends Omit<AnnotateOptions, "completer"> {
  /** Training questions to sample. */
  questions: number;
  /** Sampled solutions per question. */
  samplesPerQuestion: number;
  /** First question index (default 0). */
  offset?: number;
  /** Seed of the sampled solutions (default 0). */
  sampleSeed?: number;
}

/**
 * A Math-Shepherd-style training corpus from the arith environment with Monte-Carlo labels: the
 * policy's sampled solutions, annotated by rolling the same policy out `n` times per step. Each
 * trajectory's `meta` also carries the exact process labels and Q-values, to measure label noise.
 * Write it with `writeMathShepherd`. Throws as `annotate`. `rollouts` counts the rollouts behind every
 * row's labels, rows resumed from `output` included (the summary's count is this call's only).
 */
export async function arithMonteCarloCorpus(
  environment: ArithEnvironment,
  options: ArithMonteCarloCorpusOptions,
): Promise<{ corpus: LabeledTrajectory[]; summary: AnnotationSummary; rollouts: number }> {
  const { questions, samplesPerQuestion, offset, sampleSeed, ...annotateOptions } = options;
  const trajectories = environment.sampleTrajectories({
    questions,
    samplesPerQuestion,
    offset: offset ?? 0,
    sampleSeed: sampleSeed ?? 0,
  });
  const { rows, summary } = await annotate(trajectories, {
    ...annotateOptions,
    completer: environment.policy,
  });
  const corpus: LabeledTrajectory[] = [];
  let rollouts = 0;
  for (const row of rows) {
    for (const count of row.rollouts) rollouts += count;
    const trajectory = annotatedRowToTrajectory(row);
    if (trajectory === undefined) continue;
    const { meta: _meta, ...question } = trajectory.question;
    corpus.push({
      ...trajectory,
      question,
      meta: {
        source: "arith",
        exactLabels: environment.exactProcessLabels(row.question, row.steps),
        exactQValues: environment.exactQValues(row.question, row.steps),
      },
    });
  }
  return { corpus, summary, rollouts };
}
