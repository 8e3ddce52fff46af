// Label quality of Monte-Carlo annotation versus N against the arith environment's exact truths,
// and the annotator's throughput with the built-in completer.
// Run: cd packages/data && npx tsx bench/annotation-quality.ts [questions] [samplesPerQuestion]
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { annotate } from "../src/annotation/index.js";
import { ArithEnvironment } from "../src/arith/index.js";

const questionCount = Number(process.argv[2] ?? 100);
const samplesPerQuestion = Number(process.argv[3] ?? 4);
const environment = new ArithEnvironment({ seed: 0 });
const trajectories = environment.sampleTrajectories({
  questions: questionCount,
  samplesPerQuestion,
  sampleSeed: 1,
});
const truths = trajectories.map((t) => ({
  labels: environment.exactProcessLabels(t.question, t.steps),
  q: environment.exactQValues(t.question, t.steps),
}));

const byN = [];
for (const n of [1, 2, 4, 8, 16, 32]) {
  for (const search of ["all", "first-error"] as const) {
    const { rows, summary } = await annotate(trajectories, {
      completer: environment.policy,
      n,
      seed: 7,
      search,
    });
    let steps = 0;
    let agree = 0;
    let reachableAgree = 0;
    let absoluteError = 0;
    let softSteps = 0;
    for (const row of rows) {
      const truth = truths[row.index]!;
      row.hardLabels.forEach((label, t) => {
        steps++;
        if (label === truth.labels[t]) agree++;
        // Against "can still reach the answer" (Q > 0), the quantity hard MC estimates.
        if (label === ((truth.q[t] ?? 0) > 0 ? 1 : 0)) reachableAgree++;
        const soft = row.softLabels[t];
        if (soft !== null && soft !== undefined) {
          softSteps++;
          absoluteError += Math.abs(soft - (truth.q[t] ?? 0));
        }
      });
    }
    byN.push({
      n,
      search,
      hardAccuracyVsProcessLabels: agree / steps,
      hardAccuracyVsQPositive: reachableAgree / steps,
      softMaeVsExactQ: softSteps === 0 ? null : absoluteError / softSteps,
      rollouts: summary.rollouts,
      rolloutsPerLabeledStep: summary.rolloutsPerLabeledStep,
      rolloutSavingVsAll: 1 - summary.rollouts / summary.fullRollouts,
    });
    console.error(JSON.stringify(byN[byN.length - 1]));
  }
}

// Throughput with the built-in completer: N = 8, concurrency 8, every step rolled out.
const throughputRun = await annotate(trajectories, {
  completer: environment.policy,
  n: 8,
  concurrency: 8,
});
const result = {
  command: `npx tsx bench/annotation-quality.ts ${questionCount} ${samplesPerQuestion}`,
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, node: process.version },
  seed: 0,
  trajectories: trajectories.length,
  steps: truths.reduce((sum, t) => sum + t.labels.length, 0),
  shareOfStepsWrong:
    truths.reduce((sum, t) => sum + t.labels.filter((l) => l === 0).length, 0) /
    truths.reduce((sum, t) => sum + t.labels.length, 0),
  byN,
  throughput: {
    n: 8,
    concurrency: 8,
    labeledSteps: throughputRun.summary.labeledSteps,
    rollouts: throughputRun.summary.rollouts,
    seconds: throughputRun.summary.seconds,
    labeledStepsPerSecond: throughputRun.summary.labeledStepsPerSecond,
    rolloutsPerSecond: throughputRun.summary.rollouts / throughputRun.summary.seconds,
  },
};
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("./results/annotation-quality.json", import.meta.url),
  `${JSON.stringify(result, null, 2)}\n`,
);
console.log(JSON.stringify(result, null, 2));
