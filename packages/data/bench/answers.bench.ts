// Throughput and worst-case latency of isEquivalent on MATH500, on one core.
// Run: cd packages/data && node --import tsx bench/answers.bench.ts
// Writes bench/results/answers.json.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { readMath500 } from "../src/answers/answer-quality.js";
import { extractAnswer, isEquivalent } from "../src/answers/index.js";

const sharedData = resolve(
  process.env.PQM_SHARED_DIR ?? join(import.meta.dirname, "..", "..", "..", "..", "shared"),
  "data",
);
const math500File = join(sharedData, "math500", "test.jsonl");
if (!existsSync(math500File)) {
  console.error(`${math500File} not found; set PQM_SHARED_DIR`);
  process.exit(1);
}
const rows = readMath500(math500File);
const boxed = rows.map((row) => extractAnswer(row.solution, "math"));

/** Runs `check` over all pairs repeatedly for at least `seconds`; returns checks per second. */
function throughput(pairs: ReadonlyArray<readonly [string | null, string]>, seconds = 2): number {
  for (const [prediction, gold] of pairs) isEquivalent(prediction, gold, "math");
  let checks = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    for (const [prediction, gold] of pairs) isEquivalent(prediction, gold, "math");
    checks += pairs.length;
  }
  return checks / ((performance.now() - start) / 1000);
}

/** The slowest single call (ms) over the pairs, after one warm-up pass. */
function worstCall(pairs: ReadonlyArray<readonly [string | null, string]>): {
  ms: number;
  pair: readonly [string | null, string];
} {
  for (const [prediction, gold] of pairs) isEquivalent(prediction, gold, "math");
  let worst = { ms: 0, pair: pairs[0] ?? ([null, ""] as const) };
  for (const pair of pairs) {
    const start = performance.now();
    isEquivalent(pair[0], pair[1], "math");
    const ms = performance.now() - start;
    if (ms > worst.ms) worst = { ms, pair };
  }
  return worst;
}

const goldPairs = rows.map((row, index) => [boxed[index] ?? null, row.answer] as const);
// Same values spelled differently, so every check goes through normalisation.
const respelledPairs = rows.map(
  (row) => [`$\\displaystyle ${row.answer.replace(/\\frac/g, "\\dfrac")} $.`, row.answer] as const,
);
// Answers of neighbouring problems: mostly unequal, so numbers and symbolic evaluation run.
const mismatchedPairs = rows.map(
  (row, index) => [rows[(index + 1) % rows.length]?.answer ?? "", row.answer] as const,
);
const adversarialPairs: ReadonlyArray<readonly [string, string]> = [
  [`${"{".repeat(5000)}1${"}".repeat(5000)}`, "1"],
  [`${"\\frac{1}{".repeat(2000)}2${"}".repeat(2000)}`, "\\frac{1}{2}"],
  ["9".repeat(10_000), "9"],
  [Array.from({ length: 2500 }, () => "x+1").join("+"), "2500x+2500"],
  ["10^{10^{10^{10}}}", "10^{10^{10}}"],
  ["\\binom{1000000000}{500000000}", "1"],
  ["abcdefghijklmnopqrstuvwxyz", "zyxwvutsrqponmlkjihgfedcba"],
];

const results = {
  goldPairsChecksPerSecond: Math.round(throughput(goldPairs)),
  goldPairsWithExtractionChecksPerSecond: Math.round(
    (() => {
      const start = performance.now();
      let checks = 0;
      while (performance.now() - start < 2000) {
        for (const row of rows) isEquivalent(extractAnswer(row.solution, "math"), row.answer, "math");
        checks += rows.length;
      }
      return checks / ((performance.now() - start) / 1000);
    })(),
  ),
  respelledPairsChecksPerSecond: Math.round(throughput(respelledPairs)),
  respelledPairsAllEqual: respelledPairs.every(([prediction, gold]) =>
    isEquivalent(prediction, gold, "math"),
  ),
  mismatchedPairsChecksPerSecond: Math.round(throughput(mismatchedPairs)),
  worstMathPairMs: worstCall([...goldPairs, ...respelledPairs, ...mismatchedPairs]),
  worstAdversarialMs: worstCall(adversarialPairs),
};

const report = {
  machine: {
    cpu: cpus()[0]?.model ?? "unknown",
    logicalCores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  },
  node: process.version,
  command: "cd packages/data && node --import tsx bench/answers.bench.ts",
  date: new Date().toISOString(),
  data: "MATH500 test.jsonl (500 rows)",
  results: {
    ...results,
    worstMathPairMs: {
      ms: Number(results.worstMathPairMs.ms.toFixed(3)),
      pair: results.worstMathPairMs.pair,
    },
    worstAdversarialMs: {
      ms: Number(results.worstAdversarialMs.ms.toFixed(3)),
      pair: results.worstAdversarialMs.pair.map((side) =>
        side !== null && side.length > 60 ? `${side.slice(0, 60)}... (${side.length} chars)` : side,
      ),
    },
  },
};
console.log(JSON.stringify(report, null, 2));
mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
writeFileSync(join(import.meta.dirname, "results", "answers.json"), `${JSON.stringify(report, null, 2)}\n`);
