// Learnability probe: runs the demo with one recipe variant laid over the default (seed 0, both
// models, one core each; 16 candidates per test question and no searches, to be quick) and records
// the held-out step-level measures against the exact labels: step AUROC, the share of candidates
// whose scores follow the Theorem 3.5 ordering, and Spearman with the exact Q-values. Best-of-n is
// recorded too but was never used to choose the recipe.
// Usage (after `pnpm build`): node packages/pipeline/bench/learnability/probe.mjs '<json overrides>' [label]
// Each run appends one row to probes.jsonl beside this file.
import { appendFileSync } from "node:fs";
import { cpus } from "node:os";
import { runDemo } from "../../dist/index.js";

const overrides = JSON.parse(process.argv[2] ?? "{}");
const label = process.argv[3] ?? JSON.stringify(overrides);
const started = performance.now();
const { results } = await runDemo({
  recipe: {
    candidates: 16,
    ns: [1, 4, 16],
    subsets: 20,
    bootstrapResamples: 100,
    searchNs: [],
    ...overrides,
  },
});
const seconds = (performance.now() - started) / 1000;
const run = results.runs[0];
const row = {
  label,
  date: new Date().toISOString().slice(0, 10),
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  node: process.version,
  overrides,
  seconds: Math.round(seconds),
  stages: run.stages.map((s) => [s.stage, Math.round(s.seconds)]),
};
for (const name of ["pqm", "bce"]) {
  const m = run.models[name];
  row[name] = {
    auroc: +m.stepLabels.auroc.toFixed(3),
    thm35: +(m.qValues.orderingShare ?? 0).toFixed(3),
    spearman: +m.qValues.spearmanPooled.toFixed(3),
    train: Math.round(m.trainSeconds),
    bon: m.bestOfN.map((p) => +(p.mean * 100).toFixed(1)),
  };
}
row.policy = +run.test.policyAccuracy.toFixed(3);
row.majority = run.baselines.majority.map((p) => +(p.mean * 100).toFixed(1));
console.log(JSON.stringify(row));
appendFileSync(new URL("./probes.jsonl", import.meta.url), `${JSON.stringify(row)}\n`);
