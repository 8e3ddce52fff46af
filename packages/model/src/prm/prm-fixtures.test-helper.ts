// Shared by the tests of the prm, training and checkpoint areas (not exported from the package).
import type { LabeledTrajectory } from "@pqm/core";
import { ArithEnvironment } from "@pqm/data";
import type { BuiltinTokenizer } from "../tokenizer/builtin-tokenizer.js";
import { buildWordTokenizer } from "../tokenizer/builtin-tokenizer.js";
import { ProcessRewardModel } from "./process-reward-model.js";

/** A small arithmetic environment whose mistakes a tiny model can learn to spot within seconds. */
export function easyArithEnvironment(seed = 0): ArithEnvironment {
  return new ArithEnvironment({
    seed,
    problems: { minSteps: 2, maxSteps: 4, minNumber: 1, maxNumber: 9, maxResult: 99 },
    policy: { errorRate: 0.35, slipDeltas: [10, -10, 1], slipChoices: 2 },
  });
}

/** Labeled trajectories of the easy environment. */
export function arithCorpus(questions: number, samplesPerQuestion: number, seed = 0): LabeledTrajectory[] {
  return easyArithEnvironment(seed).exactTrainingCorpus({ questions, samplesPerQuestion });
}

/** The built-in word tokenizer over a corpus' texts. */
export function corpusTokenizer(corpus: readonly LabeledTrajectory[]): BuiltinTokenizer {
  return buildWordTokenizer(
    corpus.map((trajectory) => `${trajectory.question.text} ${trajectory.steps.join(" ")}`),
  );
}

/** Decoder shapes of the test models, by size. */
export const TEST_DECODERS = {
  micro: {
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
  },
  tiny: {
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
  },
} as const;

/** A from-scratch PRM of the given size on a corpus' tokenizer. */
export function testModel(
  corpus: readonly LabeledTrajectory[],
  size: keyof typeof TEST_DECODERS,
  seed = 0,
): ProcessRewardModel {
  return ProcessRewardModel.fromScratch(TEST_DECODERS[size], corpusTokenizer(corpus), { seed });
}
