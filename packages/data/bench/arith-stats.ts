// Measures the arith environment: policy accuracy, share of wrong steps, how often the strict
// process label and the exact Q disagree, V(x) spread and the cost of exact enumeration.
// Run: cd packages/data && npx tsx bench/arith-stats.ts [questions] [samplesPerQuestion]
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { ArithEnvironment } from "../src/arith/index.js";

const questionCount = Number(process.argv[2] ?? 500);
const samplesPerQuestion = Number(process.argv[3] ?? 8);
const environment = new ArithEnvironment({ seed: 0 });
const started = performance.now();
let solutions = 0;
let correct = 0;
let steps = 0;
let wrongSteps = 0;
let labelZeroButReachable = 0;
let labelZeroQAboveHalf = 0;
let correctWithWrongStep = 0;
let words = 0;
const values: number[] = [];
const stepCounts: number[] = [];
for (const question of environment.trainQuestions(questionCount)) {
  values.push(environment.exactValue(question));
  for (const solution of environment.sampleSolutions(question, samplesPerQuestion)) {
    solutions++;
    stepCounts.push(solution.steps.length);
    words += `${question.text} ${solution.text}`.split(/\s+/).length;
    const isCorrect = solution.finalAnswer === question.answer;
    if (isCorrect) correct++;
    if (isCorrect && solution.processLabels.includes(0)) correctWithWrongStep++;
    solution.processLabels.forEach((label, t) => {
      steps++;
      if (label === 0) {
        wrongSteps++;
        if ((solution.qValues[t] ?? 0) > 0) labelZeroButReachable++;
        if ((solution.qValues[t] ?? 0) > 0.5) labelZeroQAboveHalf++;
      }
    });
  }
}
const seconds = (performance.now() - started) / 1000;
values.sort((a, b) => a - b);
const quantile = (p: number) => values[Math.min(values.length - 1, Math.floor(p * values.length))] ?? 0;
const mean = values.reduce((a, b) => a + b, 0) / values.length;
const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
const result = {
  command: `npx tsx bench/arith-stats.ts ${questionCount} ${samplesPerQuestion}`,
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, node: process.version },
  seed: 0,
  questions: questionCount,
  samplesPerQuestion,
  solutions,
  policyAccuracy: correct / solutions,
  meanExactV: mean,
  shareOfStepsWrong: wrongSteps / steps,
  // A step labelled 0 from which the policy can still reach the gold answer (Q > 0): recovery or coincidence.
  labelZeroWithPositiveQ: labelZeroButReachable / Math.max(wrongSteps, 1),
  labelZeroWithQAboveHalf: labelZeroQAboveHalf / Math.max(wrongSteps, 1),
  correctAnswerWithWrongStep: correctWithWrongStep / Math.max(correct, 1),
  vSpread: {
    mean,
    sd,
    min: values[0],
    p10: quantile(0.1),
    median: quantile(0.5),
    p90: quantile(0.9),
    max: values[values.length - 1],
  },
  meanSteps: stepCounts.reduce((a, b) => a + b, 0) / stepCounts.length,
  meanWordsQuestionPlusSolution: words / solutions,
  seconds,
};
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(new URL("./results/arith-stats.json", import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
