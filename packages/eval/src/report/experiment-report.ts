import { join } from "node:path";
import { writeFileAtomic } from "@pqm/data";
import { pngDecision, type SummaryReportOptions } from "./demo-report.js";
import { escapeHtml, htmlPage, htmlTable } from "./html-page.js";
import { markdownTable } from "./markdown.js";
import { renderSpecToSvg, svgToPng } from "./plots.js";

/** What the experiment report reads of one trained model (a pipeline's fuller row fits it). */
export interface ExperimentReportRow {
  /** What varies, as shown in tables (`zeta=4`, `pqm, MC N=8`, `bce, 200 questions`, `pqm-theory`). */
  variant: string;
  /** The x value of the plot. */
  x: string;
  /** The loss the model was trained with; the plot's series when `series` is `"loss"`. */
  loss: string;
  /** Where the training labels came from (`MC N=8`, `exact`). */
  labelSource: string;
  /** Best-of-n accuracy at each n, with its interval. */
  bestOfN: readonly { n: number; mean: number; low: number; high: number }[];
  /** Step AUROC against the exact process labels. */
  stepAuroc: number;
  /** Spearman correlation of the step scores with the exact Q-values. */
  spearman: number;
  /** Share of candidates whose scores follow the Theorem 3.5 ordering (null: not measured). */
  orderingShare: number | null;
}

/**
 * What {@link writeExperimentReport} reads. Any object with these fields fits; results.json holds the
 * object as given, every field included.
 */
export interface ExperimentReportInput {
  /** The experiment's name: the page's title, the plot's x axis and its file name. */
  experiment: string;
  /** What started the run (a command line), quoted in report.md. */
  command: string;
  seed: number;
  /** Seconds the whole experiment took. */
  seconds: number;
  machine: { cpu: string; cores: number };
  config: { ns: readonly number[]; trainSteps: number };
  rows: readonly ExperimentReportRow[];
}

/** Options of {@link writeExperimentReport}. */
export interface ExperimentReportOptions extends SummaryReportOptions {
  /** One plot line per loss (`"loss"`, for experiments that train each variant with several losses) or one line (default). */
  series?: "loss" | "model";
}

/** Files {@link writeExperimentReport} wrote. */
export interface ExperimentReportFiles {
  results: string;
  markdown: string;
  html: string;
  plotSvg: string;
  /** Null when no PNG was written. */
  plotPng: string | null;
  /** Why no PNG was written with `png: "if-available"`; else null. */
  pngSkipped: string | null;
}

/** The experiment's table: one row per model, best-of-n at each n of the config, then the step metrics. */
export function experimentTable(input: Pick<ExperimentReportInput, "config" | "rows">): {
  header: string[];
  rows: string[][];
} {
  const ns = input.config.ns;
  const percent = (value: number | null | undefined) =>
    value === null || value === undefined || !Number.isFinite(value) ? "-" : `${(100 * value).toFixed(1)}%`;
  const decimal = (value: number | null) =>
    value === null || !Number.isFinite(value) ? "-" : value.toFixed(3);
  return {
    header: ["model", "labels", ...ns.map((n) => `BoN@${n}`), "step AUROC", "Spearman Q", "Thm 3.5 share"],
    rows: input.rows.map((row) => [
      row.variant,
      row.labelSource,
      ...ns.map((n) => percent(row.bestOfN.find((point) => point.n === n)?.mean)),
      decimal(row.stepAuroc),
      decimal(row.spearman),
      percent(row.orderingShare),
    ]),
  };
}

/** The Vega-Lite spec: best-of-n at the largest n and step AUROC against the variant, side by side. */
export function experimentSpec(input: ExperimentReportInput, series: "loss" | "model" = "model") {
  const largest = Math.max(...input.config.ns);
  const values = input.rows.flatMap((row) => {
    const point = row.bestOfN.find((candidate) => candidate.n === largest);
    const line = series === "loss" ? row.loss : "model";
    return [
      {
        x: row.x,
        series: line,
        metric: `best-of-${largest} accuracy`,
        value: point?.mean ?? null,
        low: point?.low ?? null,
        high: point?.high ?? null,
      },
      {
        x: row.x,
        series: line,
        metric: "step AUROC (exact labels)",
        value: row.stepAuroc,
        low: null,
        high: null,
      },
    ];
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `pqm experiment ${input.experiment}`,
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
            x: { field: "x", type: "ordinal" as const, sort: null, title: input.experiment },
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
}

/**
 * Writes an experiment's results folder: `results.json` (the input as given), `report.md` (the table),
 * `<experiment>.svg` and `.png` (the plot; PNG as `options.png` says) and `index.html`. Each file is
 * written beside and renamed into place. Throws on file-system errors, and with `png: true` when
 * `@resvg/resvg-js` is not installed.
 */
export async function writeExperimentReport(
  folder: string,
  input: ExperimentReportInput,
  options: ExperimentReportOptions = {},
): Promise<ExperimentReportFiles> {
  const png = pngDecision(options.png);
  const name = input.experiment;
  const files: ExperimentReportFiles = {
    results: join(folder, "results.json"),
    markdown: join(folder, "report.md"),
    html: join(folder, "index.html"),
    plotSvg: join(folder, `${name}.svg`),
    plotPng: png.write ? join(folder, `${name}.png`) : null,
    pngSkipped: png.skipped,
  };
  const svg = await renderSpecToSvg(experimentSpec(input, options.series));
  const table = experimentTable(input);
  const markdown = [
    `# pqm experiment ${name}`,
    "",
    `Seed ${input.seed}; ${input.config.trainSteps} training steps per model; ${input.seconds.toFixed(0)} s on ${input.machine.cpu} (${input.machine.cores} cores); command: \`${input.command}\`.`,
    "",
    `![${name}](${name}.${png.write ? "png" : "svg"})`,
    "",
    markdownTable(table.header, table.rows),
    "",
  ].join("\n");
  const html = htmlPage({
    title: `pqm experiment ${name}`,
    body: `<h1>pqm experiment ${escapeHtml(name)}</h1>${svg}\n${htmlTable(table)}`,
  });
  await writeFileAtomic(files.results, `${JSON.stringify(input, null, 2)}\n`);
  await writeFileAtomic(files.markdown, markdown);
  await writeFileAtomic(files.plotSvg, svg);
  if (files.plotPng) await writeFileAtomic(files.plotPng, svgToPng(svg));
  await writeFileAtomic(files.html, html);
  return files;
}
