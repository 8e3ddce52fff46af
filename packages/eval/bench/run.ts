// Best-of-n speed on synthetic scores: 500 questions x 128 candidates, n in {1..128}, every
// aggregation of @pqm/core, both protocols. Run: `pnpm --filter @pqm/eval bench` (or
// `node --import tsx bench/run.ts` in packages/eval). Writes bench/results/bon.json.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AnswerChecker } from "@pqm/core/reference";
import { aggregationNames } from "@pqm/core/reference";
import { checkCandidateAnswers } from "../src/answers/verdicts.js";
import { type BestOfNQuestion, evaluateBestOfN } from "../src/best-of-n/best-of-n.js";
import { createRandom } from "../src/statistics/random.js";

const QUESTIONS = 500;
const CANDIDATES = 128;
const NS = [1, 8, 16, 32, 64, 128];
const SUBSETS = 100;

const random = createRandom(2024);
const golds = Array.from({ length: QUESTIONS }, (_, q) => ({ answer: String(q), domain: "math" as const }));
const texts: string[][] = [];
const stepScores: number[][][] = [];
for (let q = 0; q < QUESTIONS; q++) {
  const skill = random();
  const questionTexts: string[] = [];
  const questionScores: number[][] = [];
  for (let c = 0; c < CANDIDATES; c++) {
    const right = random() < skill;
    const answer = right ? String(q) : String(q + 1 + Math.floor(random() * 6));
    questionTexts.push(random() < 0.03 ? "no final answer" : `... so the answer is ${answer}`);
    const steps = 3 + Math.floor(random() * 10);
    questionScores.push(Array.from({ length: steps }, () => (right ? 0.8 : -0.3) + 1.5 * (random() - 0.5)));
  }
  texts.push(questionTexts);
  stepScores.push(questionScores);
}

const toyChecker: AnswerChecker = {
  name: "bench-exact",
  extractAnswer: (text) => /answer is (\S+)/.exec(text)?.[1] ?? null,
  isEquivalent: (prediction, gold) => prediction !== null && prediction === gold,
};

const timings: Record<string, number> = {};
async function time<T>(label: string, run: () => Promise<T> | T): Promise<T> {
  const start = performance.now();
  const value = await run();
  timings[label] = Math.round(performance.now() - start);
  process.stderr.write(`${label}: ${timings[label]} ms\n`);
  return value;
}

const cacheFile = join(await mkdtemp(join(tmpdir(), "pqm-eval-bench-")), "verdicts.json");
const verdicts = await time("verdicts, first run (64,000 candidates)", () =>
  checkCandidateAnswers(golds, texts, toyChecker, { cacheFile, cacheKey: "bench" }),
);
await time("verdicts, from cache", () =>
  checkCandidateAnswers(golds, texts, toyChecker, { cacheFile, cacheKey: "bench" }),
);
const questions: BestOfNQuestion[] = stepScores.map((scores, q) => ({
  stepScores: scores,
  correct: verdicts.questions[q]!.map((verdict) => verdict.correct),
  answerGroups: verdicts.questions[q]!.map((verdict) => verdict.group),
}));
const reference = await time("best-of-n reference, 6 n x all aggregations + baselines", () =>
  evaluateBestOfN(questions, { ns: NS, protocol: "reference" }),
);
const subsets = await time(`best-of-n subsets (${SUBSETS} per n), 6 n x all aggregations + baselines`, () =>
  evaluateBestOfN(questions, { ns: NS, protocol: "subsets", subsets: SUBSETS }),
);

const here = dirname(fileURLToPath(import.meta.url));
const output = {
  benchmark: "best-of-n on synthetic scores",
  command: "cd packages/eval && node --import tsx bench/run.ts",
  machine: {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  },
  node: process.version,
  date: new Date().toISOString(),
  setup: {
    questions: QUESTIONS,
    candidatesPerQuestion: CANDIDATES,
    ns: NS,
    aggregations: [...aggregationNames],
    subsets: SUBSETS,
    bootstrapResamples: 1000,
    checker: "exact string (the bench measures the metric code, not @pqm/data's checker)",
  },
  timingsMs: timings,
  accuracyAtN128: {
    reference: Object.fromEntries(
      Object.entries(reference.methods).map(([m, points]) => [m, points!.at(-1)!.mean]),
    ),
    subsets: Object.fromEntries(
      Object.entries(subsets.methods).map(([m, points]) => [m, points!.at(-1)!.mean]),
    ),
  },
};
await mkdir(join(here, "results"), { recursive: true });
await writeFile(join(here, "results", "bon.json"), `${JSON.stringify(output, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(output.timingsMs, null, 2)}\n`);
