import { mkdir, rename, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import type { LabelledTrajectory } from "@pqm/core";
import { ArithEnvironment, arithMonteCarloCorpus } from "@pqm/data";
import { type CurvePoint, escapeHtml, renderSpecToSvg, svgToPng } from "@pqm/eval";
import type { DemoConfig } from "../demo/demo-config.js";
import { runTrainJobs } from "../demo/demo-jobs.js";
import type { TrainJob } from "../demo/demo-training.js";
import { evaluateModel, sampleTestCandidates } from "../demo/run-demo.js";

/** The paper's ablations and open questions, in miniature. */
export const experimentNames = ["zeta", "annotation", "sample-efficiency", "loss-variants"] as const;
export type ExperimentName = (typeof experimentNames)[number];

/** One trained model of an experiment and what it achieved on the held-out candidates. */
export interface ExperimentRow {
  /** What varies, as shown in tables (`zeta=4`, `N=8`, `200 questions`, `pqm-theory`). */
  variant: string;
  /** The x value of the plot. */
  x: string;
  loss: string;
  zeta: number | null;
  labels: "hard" | "soft";
  /** Where the training labels came from: Monte-Carlo with N rollouts, or exact. */
  labelSource: string;
  trainTrajectories: number;
  bestOfN: CurvePoint[];
  stepAuroc: number;
  spearman: number;
  orderingShare: number | null;
  validationAuroc: number | null;
  trainSeconds: number;
}

/** What `pqm experiment` writes to results.json. */
export interface ExperimentResults {
  format: "pqm-experiment/1";
  experiment: ExperimentName;
  createdAt: string;
  command: string;
  machine: { cpu: string; cores: number; node: string };
  config: DemoConfig;
  seed: number;
  rows: ExperimentRow[];
  seconds: number;
}

interface Variant {
  variant: string;
  x: string;
  loss: string;
  zeta?: number;
  labels?: "hard" | "soft";
  labelSource: string;
  corpus: LabelledTrajectory[];
}

const zetas = [0, 0.5, 1, 2, 4, 8, 16];
const rolloutCounts = [1, 2, 4, 8, 16];
const lossVariants = ["pqm", "pqm-paper", "pqm-theory", "pqm-ablation", "bce", "mse", "orm"];

/** The first `questions` questions' trajectories of a corpus ordered by question. */
function firstQuestions(corpus: readonly LabelledTrajectory[], questions: number): LabelledTrajectory[] {
  const kept = new Set<string>();
  return corpus.filter((trajectory) => {
    if (kept.has(trajectory.question.id)) return true;
    if (kept.size >= questions) return false;
    kept.add(trajectory.question.id);
    return true;
  });
}

async function variantsOf(
  experiment: ExperimentName,
  environment: ArithEnvironment,
  config: DemoConfig,
  seed: number,
  outDir: string,
  quick: boolean,
): Promise<Variant[]> {
  const monteCarlo = async (n: number) =>
    (
      await arithMonteCarloCorpus(environment, {
        questions: config.trainQuestions,
        samplesPerQuestion: config.samplesPerQuestion,
        n,
        output: join(outDir, `annotations-n${n}.jsonl`),
        sampleSeed: seed,
        seed,
        progress: false,
      })
    ).corpus;
  const base = `MC N=${config.rollouts}`;
  switch (experiment) {
    case "zeta": {
      const corpus = await monteCarlo(config.rollouts);
      return (quick ? [0, 4] : zetas).map((zeta) => ({
        variant: `zeta=${zeta}`,
        x: String(zeta),
        loss: "pqm",
        zeta,
        labelSource: base,
        corpus,
      }));
    }
    case "loss-variants": {
      const corpus = await monteCarlo(config.rollouts);
      return (quick ? ["pqm", "bce"] : lossVariants).map((loss) => ({
        variant: loss,
        x: loss,
        loss,
        labelSource: base,
        corpus,
      }));
    }
    case "sample-efficiency": {
      const corpus = await monteCarlo(config.rollouts);
      const sizes = [1 / 8, 1 / 4, 1 / 2, 1].map((share) =>
        Math.max(2, Math.round(share * config.trainQuestions)),
      );
      return (quick ? sizes.slice(-2) : sizes).flatMap((questions) =>
        ["pqm", "bce"].map((loss) => ({
          variant: `${loss}, ${questions} questions`,
          x: String(questions),
          loss,
          labelSource: base,
          corpus: firstQuestions(corpus, questions),
        })),
      );
    }
    case "annotation": {
      const sources: { x: string; labelSource: string; corpus: LabelledTrajectory[] }[] = [];
      for (const n of quick ? [1, 4] : rolloutCounts) {
        sources.push({ x: `N=${n}`, labelSource: `MC N=${n}`, corpus: await monteCarlo(n) });
      }
      sources.push({
        x: "exact",
        labelSource: "exact",
        corpus: environment.exactTrainingCorpus({
          questions: config.trainQuestions,
          samplesPerQuestion: config.samplesPerQuestion,
          sampleSeed: seed,
        }),
      });
      return sources.flatMap((source) =>
        ["pqm", "bce"].map((loss) => ({ variant: `${loss}, ${source.labelSource}`, loss, ...source })),
      );
    }
  }
}

/**
 * Runs one experiment on the built-in arith environment: the variants' models are trained from scratch
 * with the same budget (two at a time, one worker thread each), scored on the same held-out candidates
 * and compared by best-of-n, step AUROC against the exact labels, Spearman with the exact Q-values and
 * the Theorem 3.5 ordering share.
 */
export async function runExperiment(options: {
  experiment: ExperimentName;
  config: DemoConfig;
  out: string;
  quick: boolean;
  command: string;
  backend?: "wasm" | "cpu";
  log: (line: string) => void;
}): Promise<ExperimentResults> {
  const started = performance.now();
  const { config, log } = options;
  const seed = config.seed;
  await mkdir(options.out, { recursive: true });
  const environment = new ArithEnvironment({ seed, problems: config.problems, policy: config.policy });
  log(`${options.experiment}: labelling the training corpora ...`);
  const variants = await variantsOf(
    options.experiment,
    environment,
    config,
    seed,
    options.out,
    options.quick,
  );
  const test = sampleTestCandidates(environment, config, seed);
  const firstCorpus = variants[0]?.corpus ?? [];
  const tokenizerCorpus = [
    ...firstCorpus.map((trajectory) => `${trajectory.question.text} ${trajectory.steps.join(" ")}`),
    ...environment.trainQuestions(200, config.trainQuestions).map((question) => question.text),
  ];
  const candidates = test.solutions
    .flat()
    .map((solution) => ({ question: solution.question, steps: solution.steps }));
  const jobs: TrainJob[] = variants.map((variant, index) => ({
    loss: variant.loss,
    name: `${index}-${variant.variant.replace(/[^\w.=-]+/g, "_")}`,
    ...(variant.zeta !== undefined ? { zeta: variant.zeta } : {}),
    labels: variant.labels ?? "hard",
    corpus: variant.corpus,
    candidates,
    tokenizerCorpus,
    config,
    seed,
    outDir: options.out,
    ...(options.backend ? { backend: options.backend } : {}),
  }));
  log(`${options.experiment}: training ${jobs.length} models, ${config.trainSteps} steps each ...`);
  const trained = await runTrainJobs(jobs, config.parallel, log);
  const rows = trained.map((result, index): ExperimentRow => {
    const variant = variants[index]!;
    const evaluation = evaluateModel(
      result,
      test,
      { ...config, zeta: variant.zeta ?? config.zeta },
      seed,
    ).result;
    return {
      variant: variant.variant,
      x: variant.x,
      loss: variant.loss,
      zeta: variant.loss.startsWith("pqm") ? (variant.zeta ?? config.zeta) : null,
      labels: variant.labels ?? "hard",
      labelSource: variant.labelSource,
      trainTrajectories: variant.corpus.length,
      bestOfN: evaluation.bestOfN,
      stepAuroc: evaluation.stepLabels.auroc,
      spearman: evaluation.qValues.spearmanPooled,
      orderingShare: evaluation.qValues.orderingShare,
      validationAuroc: evaluation.validationAuroc,
      trainSeconds: evaluation.trainSeconds,
    };
  });
  return {
    format: "pqm-experiment/1",
    experiment: options.experiment,
    createdAt: new Date().toISOString(),
    command: options.command,
    machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, node: process.version },
    config,
    seed,
    rows,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The experiment's table: one row per model. */
export function experimentTable(results: ExperimentResults): { header: string[]; rows: string[][] } {
  const ns = results.config.ns;
  const percent = (value: number | null | undefined) =>
    value === null || value === undefined || !Number.isFinite(value) ? "-" : `${(100 * value).toFixed(1)}%`;
  const decimal = (value: number | null) =>
    value === null || !Number.isFinite(value) ? "-" : value.toFixed(3);
  return {
    header: ["model", "labels", ...ns.map((n) => `BoN@${n}`), "step AUROC", "Spearman Q", "Thm 3.5 share"],
    rows: results.rows.map((row) => [
      row.variant,
      row.labelSource,
      ...ns.map((n) => percent(row.bestOfN.find((point) => point.n === n)?.mean)),
      decimal(row.stepAuroc),
      decimal(row.spearman),
      percent(row.orderingShare),
    ]),
  };
}

/** Writes results.json, report.md, index.html and the plot (best-of-n at the largest n and step AUROC per variant). */
export async function writeExperimentReport(folder: string, results: ExperimentResults): Promise<string> {
  const largest = Math.max(...results.config.ns);
  const values = results.rows.flatMap((row) => {
    const point = row.bestOfN.find((candidate) => candidate.n === largest);
    const series =
      results.experiment === "annotation" || results.experiment === "sample-efficiency" ? row.loss : "model";
    return [
      {
        x: row.x,
        series,
        metric: `best-of-${largest} accuracy`,
        value: point?.mean ?? null,
        low: point?.low ?? null,
        high: point?.high ?? null,
      },
      { x: row.x, series, metric: "step AUROC (exact labels)", value: row.stepAuroc, low: null, high: null },
    ];
  });
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `pqm experiment ${results.experiment}`,
    data: { values },
    facet: { column: { field: "metric", type: "nominal" as const, title: null } },
    resolve: { scale: { y: "independent" as const } },
    spec: {
      width: 300,
      height: 220,
      layer: [
        {
          mark: { type: "line" as const, point: true },
          encoding: {
            x: { field: "x", type: "ordinal" as const, sort: null, title: results.experiment },
            y: { field: "value", type: "quantitative" as const, scale: { zero: false }, title: null },
            color: { field: "series", type: "nominal" as const, title: null },
          },
        },
        {
          mark: { type: "errorbar" as const },
          encoding: {
            x: { field: "x", type: "ordinal" as const, sort: null },
            y: { field: "low", type: "quantitative" as const },
            y2: { field: "high" },
            color: { field: "series", type: "nominal" as const },
          },
        },
      ],
    },
  };
  const svg = await renderSpecToSvg(spec);
  const table = experimentTable(results);
  const markdown = [
    `# pqm experiment ${results.experiment}`,
    "",
    `Seed ${results.seed}; ${results.config.trainSteps} training steps per model; ${results.seconds.toFixed(0)} s on ${results.machine.cpu} (${results.machine.cores} cores); command: \`${results.command}\`.`,
    "",
    `![${results.experiment}](${results.experiment}.png)`,
    "",
    `| ${table.header.join(" | ")} |`,
    `| ${table.header.map(() => "---").join(" | ")} |`,
    ...table.rows.map((row) => `| ${row.join(" | ")} |`),
    "",
  ].join("\n");
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>pqm experiment ${escapeHtml(results.experiment)}</title><link rel="icon" href="data:,">
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}td:first-child,th:first-child{text-align:left}</style></head><body>
<h1>pqm experiment ${escapeHtml(results.experiment)}</h1>${svg}
<table><thead><tr>${table.header.map((cell) => `<th>${escapeHtml(cell)}</th>`).join("")}</tr></thead><tbody>${table.rows
    .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table></body></html>
`;
  const files: [string, string | Uint8Array][] = [
    ["results.json", `${JSON.stringify(results, null, 2)}\n`],
    ["report.md", markdown],
    [`${results.experiment}.svg`, svg],
    [`${results.experiment}.png`, svgToPng(svg)],
    ["index.html", html],
  ];
  for (const [name, content] of files) {
    await writeFile(join(folder, `${name}.tmp`), content);
    await rename(join(folder, `${name}.tmp`), join(folder, name));
  }
  return join(folder, "index.html");
}
