import { mkdir } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { writeCandidates, writeJsonl } from "@pqm/data";
import { sha256OfFile, writeScoresFile } from "@pqm/eval";
import { runBestOfN } from "../eval/bon.js";
import type { DemoConfig } from "./demo-config.js";
import { type DemoReportFiles, writeDemoReport } from "./demo-report.js";
import { type DemoSummary, summariseDemo } from "./demo-summary.js";
import { type DemoLog, type DemoSeedResult, type DemoSeedRun, runDemoSeed } from "./run-demo.js";

/** Options of `pqm demo`. */
export interface DemoOptions {
  config: DemoConfig;
  /** Results folder. */
  out: string;
  backend?: "wasm" | "cpu";
  /** The command line, recorded in the results. */
  command: string;
  log: DemoLog;
}

/** What `pqm demo` writes to results.json and prints with `--json`. */
export interface DemoResults {
  format: "pqm-demo/1";
  createdAt: string;
  command: string;
  machine: { cpu: string; cores: number; node: string; platform: string };
  backend: string;
  config: DemoConfig;
  /** One sentence: did PQM beat BCE at the largest n, by how much. */
  verdict: string;
  summary: DemoSummary;
  runs: DemoSeedResult[];
  /** Full best-of-n reports (per-question views) of the first seed, one per model. */
  modelReports: { title: string; folder: string }[];
}

function verdictOf(summary: DemoSummary): string {
  const last = summary.ns.length - 1;
  const n = summary.ns[last];
  const difference = summary.pqmMinusBce[last];
  if (difference === undefined || !Number.isFinite(difference.mean)) return "No comparison could be made.";
  const points = (value: number) => `${(100 * value).toFixed(1)} points`;
  const interval =
    difference.interval === "none"
      ? " (one seed: run with --seeds 3 or more for an interval)"
      : ` (95% interval ${(100 * difference.low).toFixed(1)} to ${(100 * difference.high).toFixed(1)} over ${summary.seeds} seeds)`;
  if (difference.mean > 0) return `PQM beat BCE at best-of-${n} by ${points(difference.mean)}${interval}.`;
  if (difference.mean < 0)
    return `PQM did not beat BCE at best-of-${n}: it was ${points(-difference.mean)} lower${interval}.`;
  return `PQM and BCE tied at best-of-${n}${interval}.`;
}

/** Writes the first seed's candidates, test questions and both models' scores, then a full eval report each. */
async function writeModelReports(
  folder: string,
  run: DemoSeedRun,
  config: DemoConfig,
): Promise<{ title: string; folder: string }[]> {
  const inputs = join(folder, "inputs");
  await mkdir(inputs, { recursive: true });
  const testFile = join(inputs, "test.jsonl");
  const candidateFile = join(inputs, "candidates.json");
  await writeJsonl(
    testFile,
    run.test.questions.map((question) => ({ question: question.text, answer: question.answer })),
  );
  await writeCandidates(
    candidateFile,
    run.test.solutions.map((solutions, index) => ({
      index,
      question: run.test.questions[index]?.text ?? "",
      responses: solutions.map((solution) => ({
        text: solution.text,
        modelName: "arith-policy",
        steps: solution.steps,
        annotations: {
          steps: solution.steps,
          processLabels: solution.processLabels,
          qValues: solution.qValues,
        },
      })),
    })),
  );
  const candidatesSha256 = await sha256OfFile(candidateFile);
  const reports: { title: string; folder: string }[] = [];
  for (const [key, title] of [
    ["pqm", "PQM model: best-of-n report"],
    ["bce", "BCE model: best-of-n report"],
  ] as const) {
    const scoresFile = join(inputs, `scores-${key}.jsonl`);
    await writeScoresFile(
      scoresFile,
      { candidatesSha256, scorer: `demo ${key} (seed ${run.result.seed})` },
      run.scores[key],
    );
    await runBestOfN({
      test: testFile,
      candidates: candidateFile,
      scores: scoresFile,
      ns: config.ns,
      aggregation: "min",
      protocol: "subsets",
      subsets: config.subsets,
      seed: run.result.seed,
      bootstrapResamples: config.bootstrapResamples,
      domain: "gsm",
      out: join(folder, `report-${key}`),
      cacheDir: join(folder, "inputs", "cache"),
      stepSplit: "auto",
      progress: false,
    });
    reports.push({ title, folder: `report-${key}` });
  }
  return reports;
}

/**
 * `pqm demo`: the whole pipeline on the built-in environment, once per seed, then the summary over
 * seeds and the results folder (results.json, report.md, index.html, plots, per-model reports).
 */
export async function runDemo(
  options: DemoOptions,
): Promise<{ results: DemoResults; files: DemoReportFiles }> {
  const { config, log } = options;
  const runs: DemoSeedRun[] = [];
  for (let k = 0; k < config.seeds; k++) {
    const seed = config.seed + k;
    const seedLog: DemoLog = (line) => log(`[seed ${seed}] ${line}`);
    runs.push(await runDemoSeed(config, seed, join(options.out, `seed-${seed}`), seedLog, options.backend));
  }
  const summary = summariseDemo(
    runs.map((run) => run.result),
    config.ns,
  );
  const first = runs[0];
  const modelReports = first ? await writeModelReports(options.out, first, config) : [];
  const results: DemoResults = {
    format: "pqm-demo/1",
    createdAt: new Date().toISOString(),
    command: options.command,
    machine: {
      cpu: cpus()[0]?.model ?? "unknown",
      cores: cpus().length,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    backend: first?.result.backend ?? "",
    config,
    verdict: verdictOf(summary),
    summary,
    runs: runs.map((run) => run.result),
    modelReports,
  };
  const files = await writeDemoReport(options.out, results);
  return { results, files };
}
