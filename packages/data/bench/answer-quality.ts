// Prints the answer checker's measured quality on the shared reference data.
// Run: cd packages/data && node --import tsx bench/answer-quality.ts [--pairs N] [--seed S]
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  measureAnswerQuality,
  measureGsmPlusQuality,
  readGsm8k,
  readGsmPlus,
  readMath500,
} from "../src/answers/answer-quality.js";

const sharedData = resolve(
  process.env.PQM_SHARED_DIR ?? join(import.meta.dirname, "..", "..", "..", "..", "shared"),
  "data",
);
const math500File = join(sharedData, "math500", "test.jsonl");
const gsm8kFile = join(sharedData, "gsm8k", "test.jsonl");
if (!existsSync(math500File) || !existsSync(gsm8kFile)) {
  console.error(`shared data not found under ${sharedData}; set PQM_SHARED_DIR`);
  process.exit(1);
}

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isFinite(value)) throw new Error(`--${name} needs a number`);
  return value;
}

const started = performance.now();
const report = measureAnswerQuality(
  readMath500(math500File),
  readGsm8k(gsm8kFile),
  flag("pairs", 5000),
  flag("seed", 20250101),
);
const gsmPlusFile = join(sharedData, "gsm-plus", "testmini.jsonl");
const gsmPlus = existsSync(gsmPlusFile) ? measureGsmPlusQuality(readGsmPlus(gsmPlusFile)) : null;
const seconds = (performance.now() - started) / 1000;

const { math500, gsm8k, mismatched } = report;
console.log(
  `MATH500 answer vs last \\boxed{} of its solution: ${math500.total - math500.failures.length}/${math500.total} equal`,
);
for (const failure of math500.failures)
  console.log(`  FAIL ${failure.id}: ${JSON.stringify(failure.answer)} vs ${JSON.stringify(failure.boxed)}`);
console.log(
  `GSM8K test #### gold vs answer extracted from the same solution: ${gsm8k.total - gsm8k.failures.length}/${gsm8k.total} equal`,
);
for (const failure of gsm8k.failures)
  console.log(`  FAIL ${failure.id}: gold ${failure.gold} extracted ${failure.extracted}`);
const counted = mismatched.pairs - mismatched.identicalPairs;
console.log(
  `Mismatched pairs (seed ${mismatched.seed}): ${mismatched.pairs} sampled, ${mismatched.identicalPairs} with identical normalised golds excluded, ` +
    `${mismatched.falseEquals.length}/${counted} judged equal (${(100 * mismatched.falseEqualRate).toFixed(3)}%)`,
);
for (const pair of mismatched.falseEquals)
  console.log(`  EQUAL ${pair.domain}: ${JSON.stringify(pair.first)} ~ ${JSON.stringify(pair.second)}`);
if (gsmPlus !== null) {
  console.log(
    `GSM-Plus testmini solution vs answer field: ${gsmPlus.total - gsmPlus.failures.length}/${gsmPlus.total} equal`,
  );
  for (const failure of gsmPlus.failures)
    console.log(`  FAIL ${failure.id}: answer ${failure.answer} extracted ${failure.extracted}`);
  console.log(
    `GSM-Plus None golds read as "None" with their "#### None" line removed: ${gsmPlus.detectedWithoutMarker}/${gsmPlus.unanswerable}`,
  );
  for (const miss of gsmPlus.missedWithoutMarker)
    console.log(`  MISS ${miss.id}: ...${JSON.stringify(miss.ending)}`);
}
console.log(`(${seconds.toFixed(1)} s)`);
