// The training corpus of the trained guides of the exact evaluation: the arith environment with
// @pqm/search's `arithSearchRecipe` (the one `pqm demo` trains on), seed 0, training split, 800
// questions x 4 sampled solutions labelled by Math-Shepherd Monte-Carlo rollouts (N = 8), as the
// demo labels its corpus. Written as Math-Shepherd JSONL for `pqm train --train`.
// Run: node --import tsx packages/search/bench/arith-corpus.ts <out.jsonl> [questions] [samples] [rollouts]
import { ArithEnvironment, arithMonteCarloCorpus, writeMathShepherd } from "@pqm/data";
import { arithSearchRecipe } from "../src/index.js";

const [out, questions = "800", samples = "4", rollouts = "8"] = process.argv.slice(2);
if (out === undefined) throw new Error("usage: arith-corpus.ts <out.jsonl> [questions] [samples] [rollouts]");
const environment = new ArithEnvironment({ ...arithSearchRecipe, seed: 0 });
const { corpus, summary } = await arithMonteCarloCorpus(environment, {
  questions: Number(questions),
  samplesPerQuestion: Number(samples),
  n: Number(rollouts),
  concurrency: 8,
});
const rows = await writeMathShepherd(out, corpus);
console.log(JSON.stringify({ out, rows, labeledSteps: summary.labeledSteps, rollouts: summary.rollouts }));
