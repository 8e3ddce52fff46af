/**
 * Times forward + backward of the PQM loss (`getLoss("pqm")`, zeta 4) on a padded [64, 32] batch on
 * the cpu and wasm backends: median of repeats after warm-up. Prints a table and writes
 * bench/results/losses.json. Run: `pnpm --filter @pqm/core bench` (node --import tsx bench/losses.bench.ts).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { mulberry32 } from "../src/random/seeded-random.js";

const BATCH = 64;
const STEPS = 32;
const WARMUP = 5;
const REPEATS = 30;
const BACKENDS = ["cpu", "wasm"] as const;

/**
 * The built main entry (`dist/index.js`, which registers tfjs-core's gradients on import): the
 * sources cannot run under plain Node, since they import tfjs-core's gradient files, which tsup
 * bundles (see tsup.config.ts). `pnpm bench` (turbo) builds first; alone, run `npx tsup` before.
 */
async function loadBuiltCore(): Promise<typeof import("../src/index.js")> {
  const entry = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "index.js");
  if (!existsSync(entry)) throw new Error(`${entry} does not exist: build @pqm/core first (npx tsup)`);
  return (await import(pathToFileURL(entry).href)) as typeof import("../src/index.js");
}

/** A deterministic padded batch: rows of 1..STEPS steps, mixed labels, scores in [-3, 3]. */
function makeBatch(): { scores: number[][]; labels: number[][] } {
  const next = mulberry32(12345);
  const scores: number[][] = [];
  const labels: number[][] = [];
  for (let row = 0; row < BATCH; row++) {
    const length = 1 + Math.floor(next() * STEPS);
    scores.push(Array.from({ length: STEPS }, () => next() * 6 - 3));
    labels.push(Array.from({ length: STEPS }, (_, i) => (i >= length ? -100 : next() < 0.7 ? 1 : 0)));
  }
  return { scores, labels };
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function main(): Promise<void> {
  const { getLoss } = await loadBuiltCore();
  const batch = makeBatch();
  const loss = getLoss("pqm", { zeta: 4 });
  const rows: { backend: string; forwardMs: number; forwardBackwardMs: number; loss: number }[] = [];
  for (const backend of BACKENDS) {
    await tf.setBackend(backend);
    await tf.ready();
    const scores = tf.tensor2d(batch.scores);
    const labels = tf.tensor2d(batch.labels);
    const lossAndGradient = tf.valueAndGrad((x: tf.Tensor) => loss(x as tf.Tensor2D, labels));
    const time = (run: () => void): number[] => {
      const times: number[] = [];
      for (let i = 0; i < WARMUP + REPEATS; i++) {
        const start = performance.now();
        run();
        if (i >= WARMUP) times.push(performance.now() - start);
      }
      return times;
    };
    let value = 0;
    process.stderr.write(`[bench] ${backend}: ${WARMUP} warm-up + ${REPEATS} timed runs each\n`);
    const forward = time(() => tf.tidy(() => loss(scores, labels).dataSync()));
    const forwardBackward = time(() =>
      tf.tidy(() => {
        const { value: v, grad } = lossAndGradient(scores);
        value = v.dataSync()[0]!;
        grad.dataSync();
      }),
    );
    rows.push({
      backend,
      forwardMs: median(forward),
      forwardBackwardMs: median(forwardBackward),
      loss: value,
    });
    tf.dispose([scores, labels]);
  }

  const machine = { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length };
  console.log(`PQM loss (zeta 4), batch [${BATCH}, ${STEPS}], median of ${REPEATS} after ${WARMUP} warm-up`);
  console.log(`${machine.cpu}, ${machine.cores} cores, Node ${process.version}`);
  console.log("| backend | forward (ms) | forward + backward (ms) | loss |");
  console.log("|---|---|---|---|");
  for (const row of rows) {
    console.log(
      `| ${row.backend} | ${row.forwardMs.toFixed(2)} | ${row.forwardBackwardMs.toFixed(2)} | ${row.loss.toFixed(6)} |`,
    );
  }
  const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "results");
  mkdirSync(resultsDir, { recursive: true });
  const results = {
    benchmark: "pqm loss forward+backward",
    batch: [BATCH, STEPS],
    zeta: 4,
    warmup: WARMUP,
    repeats: REPEATS,
    machine,
    node: process.version,
    command: "node --import tsx bench/losses.bench.ts",
    timestamp: new Date().toISOString(),
    results: rows.map((row) => ({
      backend: row.backend,
      medianForwardMs: row.forwardMs,
      medianForwardBackwardMs: row.forwardBackwardMs,
      loss: row.loss,
    })),
  };
  writeFileSync(join(resultsDir, "losses.json"), `${JSON.stringify(results, null, 2)}\n`);
  process.stderr.write(`[bench] wrote ${join(resultsDir, "losses.json")}\n`);
}

await main();
