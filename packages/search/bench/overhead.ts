// The search's own time per node, with the policy's and the PRM's time taken out: every method on
// arith questions with the in-process arith policy and the exact-Q oracle (both synchronous, so the
// time inside their calls is all theirs). Overhead = wall time - policy time - PRM time.
// Run: node --import tsx packages/search/bench/overhead.ts [questions]
import { mkdirSync, writeFileSync } from "node:fs";
import { ArithEnvironment } from "@pqm/data";
import type { SearchSpec } from "../src/index.js";
import {
  ArithStepPolicy,
  arithSearchRecipe,
  ExactQScorer,
  MeteredScorer,
  searchLabel,
  searchQuestion,
} from "../src/index.js";
import { machine } from "./machine.js";

const questionCount = Number(process.argv[2] ?? 200);
const environment = new ArithEnvironment({ ...arithSearchRecipe, seed: 0 });
const questions = environment.testQuestions(questionCount);
const policy = new ArithStepPolicy(environment);
const scorer = new MeteredScorer(new ExactQScorer(environment));
const specs: SearchSpec[] = [
  { method: "bon", n: 64 },
  { method: "weighted-bon", n: 64 },
  { method: "beam", n: 16, beamWidth: 4 },
  { method: "beam", n: 64, beamWidth: 4 },
  { method: "beam", n: 16, beamWidth: 4, lookahead: 1 },
  { method: "dvts", n: 64, beamWidth: 4 },
  { method: "mcts", n: 64, beamWidth: 4 },
];
// Warm up the JIT and the exact-Q memo on other questions.
for (const question of environment.trainQuestions(20)) {
  for (const spec of specs) await searchQuestion(question, policy, scorer, spec);
}
const runs = [];
for (const spec of specs) {
  let nodes = 0;
  let total = 0;
  let policyMs = 0;
  let prmMs = 0;
  for (const [i, question] of questions.entries()) {
    const outcome = await searchQuestion(question, policy, scorer, { ...spec, seed: i });
    nodes += outcome.compute.nodes;
    total += outcome.compute.totalMs;
    policyMs += outcome.compute.policyMs;
    prmMs += outcome.compute.prmMs;
  }
  const overheadMs = total - policyMs - prmMs;
  const run = {
    search: searchLabel(spec),
    questions: questionCount,
    nodes,
    overheadMicrosecondsPerNode: (1000 * overheadMs) / nodes,
    policyMicrosecondsPerNode: (1000 * policyMs) / nodes,
    prmMicrosecondsPerNode: (1000 * prmMs) / nodes,
    totalMs: total,
  };
  runs.push(run);
  console.error(JSON.stringify(run));
}
const result = {
  command: `node --import tsx packages/search/bench/overhead.ts ${questionCount}`,
  machine: machine(),
  runs,
};
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(new URL("./results/overhead.json", import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
