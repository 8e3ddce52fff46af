import { join } from "node:path";
import { writeFileAtomic } from "@pqm/data";
import { escapeHtml, htmlPage, htmlTable } from "./html-page.js";
import { markdownTable } from "./markdown.js";
import {
  canRenderPng,
  curveLegend,
  PNG_RENDERER_PACKAGE,
  renderSpecToSvg,
  requireResvg,
  seriesColorScale,
  svgToPng,
} from "./plots.js";
import { nEqualsOneNote } from "./tables.js";

/** A mean with its 95% interval: over seeds (Student t) with several seeds, else the run's own interval. */
export interface SummaryValue {
  mean: number;
  low: number;
  high: number;
  /** How the interval was made. */
  interval: "bootstrap over questions" | "t over seeds" | "none";
}

/**
 * The methods the demo compares at each n: its two PRMs picking the best candidate (`pqm`, `bce`) and
 * weighting a vote (`pqmWeighted`, `bceWeighted`), and the PRM-free baselines.
 */
export type DemoMethod = "pqm" | "bce" | "pqmWeighted" | "bceWeighted" | "majority" | "random" | "pass";

/** Step-level search against best-of-N at equal budgets, over seeds. */
export interface DemoSearchSummary {
  /** Questions searched per seed. */
  questions: number;
  beamWidth: number;
  /** The budgets N. */
  ns: number[];
  /** One row per verifier and method: accuracy and tokens generated per question at each N. */
  rows: { scorer: string; method: string; accuracy: SummaryValue[]; generatedTokens: SummaryValue[] }[];
  /** Beam search minus best-of-N accuracy per verifier at each N (paired over seeds). */
  beamMinusBon: { scorer: string; difference: SummaryValue[] }[];
}

/** The demo's numbers over seeds: what its tables, plot and verdict show. */
export interface DemoSummary {
  seeds: number;
  ns: number[];
  /** Best-of-n accuracy per method and n, over seeds. */
  bestOfN: Record<DemoMethod, SummaryValue[]>;
  /** PQM minus BCE best-of-n accuracy per n (interval only with several seeds). */
  pqmMinusBce: SummaryValue[];
  step: Record<
    "stepAuroc" | "spearman" | "orderingShare" | "validationAuroc",
    { pqm: SummaryValue; bce: SummaryValue }
  >;
  labelQuality: { hardLabelAccuracy: SummaryValue; softLabelMae: SummaryValue };
  policyAccuracy: SummaryValue;
  stageSeconds: Record<string, SummaryValue>;
  totalSeconds: SummaryValue;
  /** Search against best-of-N (absent when the run made no searches). */
  search?: DemoSearchSummary;
}

/** Mean step score at one step position, for steps whose exact label is correct and wrong (null: none). */
export interface PositionScores {
  position: number;
  correct: number | null;
  wrong: number | null;
}

/** What the demo report reads of one seed's run (a pipeline's fuller seed result fits it). */
export interface DemoReportRun {
  seed: number;
  models: {
    pqm: { scoreByPosition: readonly PositionScores[] };
    bce: { scoreByPosition: readonly PositionScores[] };
  };
}

/**
 * What {@link writeDemoReport} reads. Any object with these fields fits; results.json holds the object
 * as given, every field included.
 */
export interface DemoReportInput {
  /** One sentence: did PQM beat BCE at the largest n, by how much. */
  verdict: string;
  /** The TF.js backend, as a sentence. */
  backend: string;
  createdAt: string;
  /** What started the run (a command line), quoted in report.md. */
  command: string;
  summary: DemoSummary;
  /** The runs per seed; the first one's mean step scores by position become a table. */
  runs: readonly DemoReportRun[];
  /** Full best-of-n reports linked from the page: a title and a folder relative to the results folder. */
  modelReports: readonly { title: string; folder: string }[];
}

/** A table of formatted cells with its title, shared by the terminal, Markdown and HTML outputs. */
export interface TitledTable {
  title: string;
  header: string[];
  rows: string[][];
}

/** Files {@link writeDemoReport} wrote. */
export interface DemoReportFiles {
  results: string;
  markdown: string;
  html: string;
  plotSvg: string;
  /** Null when no PNG was written (see `pngSkipped`, or `png: false`). */
  plotPng: string | null;
  /** Why no PNG was written with `png: "if-available"` (the renderer is not installed); else null. */
  pngSkipped: string | null;
  /** The search plot (accuracy against generated tokens), when the run searched; else null. */
  searchSvg: string | null;
  /** Its PNG copy, when a PNG is written and the run searched; else null. */
  searchPng: string | null;
}

/** Options of {@link writeDemoReport} and `writeExperimentReport`. */
export interface SummaryReportOptions {
  /**
   * A PNG copy of the plot, rendered by the optional peer dependency `@resvg/resvg-js`:
   * `"if-available"` (default) writes it when that is installed, `true` requires it (throws naming the
   * package, before writing anything), `false` never writes it. report.md shows the SVG without it.
   */
  png?: boolean | "if-available";
}

const percent = (value: number) => (Number.isFinite(value) ? `${(100 * value).toFixed(1)}%` : "-");
const decimal = (value: number) => (Number.isFinite(value) ? value.toFixed(3) : "-");

/** `51.2% [48.0, 54.3]` (a share by default), or the mean alone when there is no interval. */
export function formatSummaryValue(value: SummaryValue, format: (value: number) => string = percent): string {
  if (value.interval === "none" || !Number.isFinite(value.low)) return format(value.mean);
  const bare = (number: number) => format(number).replace("%", "");
  return `${format(value.mean)} [${bare(value.low)}, ${bare(value.high)}]`;
}

const methodLabels: [DemoMethod, string][] = [
  ["pqm", "PQM (ranking loss, zeta 4)"],
  ["bce", "BCE"],
  ["pqmWeighted", "PQM-weighted vote"],
  ["bceWeighted", "BCE-weighted vote"],
  ["majority", "Majority vote"],
  ["random", "Random choice"],
  ["pass", "pass@n (oracle)"],
];

/** The methods a summary has curves for (results written before the weighted votes lack them). */
function presentMethods(summary: DemoSummary): [DemoMethod, string][] {
  return methodLabels.filter(([key]) => Array.isArray(summary.bestOfN[key]));
}

/**
 * The demo's tables as rows of cells: best-of-n with intervals, the step-level metrics, the data's
 * label quality, the first run's mean step score by position (when `firstRun` is given) and the time
 * per stage.
 */
export function demoTables(summary: DemoSummary, firstRun?: DemoReportRun): TitledTable[] {
  const signed = (value: number) =>
    Number.isFinite(value) ? `${value >= 0 ? "+" : ""}${(100 * value).toFixed(1)}` : "-";
  return [
    {
      title: "Best-of-n accuracy (solution score = min of step scores; 95% interval)",
      header: ["method", ...summary.ns.map((n) => `n=${n}`)],
      rows: [
        ...presentMethods(summary).map(([key, label]) => [
          label,
          ...summary.bestOfN[key].map((value) => formatSummaryValue(value)),
        ]),
        [
          "PQM - BCE (points)",
          ...summary.pqmMinusBce.map((value) =>
            value.interval === "none"
              ? signed(value.mean)
              : `${signed(value.mean)} [${signed(value.low)}, ${signed(value.high)}]`,
          ),
        ],
      ],
    },
    ...(summary.search ? [searchTable(summary.search, signed)] : []),
    {
      title: "Step level, on the held-out candidates against the exact truths",
      header: ["metric", "PQM", "BCE"],
      rows: (
        [
          ["step AUROC vs exact process labels", "stepAuroc"],
          ["Spearman with exact Q-values (all steps)", "spearman"],
          ["share following the Theorem 3.5 ordering", "orderingShare"],
          ["validation AUROC vs Monte-Carlo labels", "validationAuroc"],
        ] as const
      ).map(([label, key]) => {
        const pair = summary.step[key];
        const format = key === "orderingShare" ? percent : decimal;
        return [label, formatSummaryValue(pair.pqm, format), formatSummaryValue(pair.bce, format)];
      }),
    },
    {
      title: "Data",
      header: ["what", "value"],
      rows: [
        [
          "Monte-Carlo hard labels agreeing with exact labels",
          formatSummaryValue(summary.labelQuality.hardLabelAccuracy),
        ],
        [
          "Monte-Carlo soft labels, mean absolute error vs exact Q",
          formatSummaryValue(summary.labelQuality.softLabelMae, decimal),
        ],
        ["policy accuracy (share of correct candidates)", formatSummaryValue(summary.policyAccuracy)],
      ],
    },
    ...(firstRun
      ? [
          {
            title: `Mean step score by step position and exact label (seed ${firstRun.seed}): separation within a position is what checking steps looks like`,
            header: ["position", "PQM correct", "PQM wrong", "BCE correct", "BCE wrong"],
            rows: firstRun.models.pqm.scoreByPosition.map((row, index) => {
              const bce = firstRun.models.bce.scoreByPosition[index];
              const cell = (value: number | null | undefined) =>
                value === null || value === undefined ? "-" : value.toFixed(2);
              return [
                String(row.position),
                cell(row.correct),
                cell(row.wrong),
                cell(bce?.correct),
                cell(bce?.wrong),
              ];
            }),
          },
        ]
      : []),
    {
      title: "Time per stage (seconds)",
      header: ["stage", "seconds"],
      rows: [
        ...Object.entries(summary.stageSeconds).map(([stage, value]) => [
          stage,
          formatSummaryValue(value, (x) => x.toFixed(1)),
        ]),
        ["total", formatSummaryValue(summary.totalSeconds, (x) => x.toFixed(1))],
      ],
    },
  ];
}

const scorerLabels: Record<string, string> = { pqm: "PQM", bce: "BCE", oracle: "exact-Q oracle" };

function searchTable(search: DemoSearchSummary, signed: (value: number) => string): TitledTable {
  const interval = (value: SummaryValue) =>
    value.interval === "none" || !Number.isFinite(value.low)
      ? signed(value.mean)
      : `${signed(value.mean)} [${signed(value.low)}, ${signed(value.high)}]`;
  return {
    title: `Search against best-of-N at equal generated tokens (${search.questions} questions a seed; beam width ${search.beamWidth}; paths ranked by the min of step scores; 95% interval; tokens generated per question in parentheses)`,
    header: ["verifier", "method", ...search.ns.map((n) => `N=${n}`)],
    rows: [
      ...search.rows.map((row) => [
        scorerLabels[row.scorer] ?? row.scorer,
        row.method === "bon" ? "best-of-N" : `beam (m=${search.beamWidth})`,
        ...row.accuracy.map(
          (value, index) =>
            `${formatSummaryValue(value)} (${Math.round(row.generatedTokens[index]?.mean ?? Number.NaN)})`,
        ),
      ]),
      ...search.beamMinusBon.map((row) => [
        scorerLabels[row.scorer] ?? row.scorer,
        "beam - best-of-N (points)",
        ...row.difference.map(interval),
      ]),
    ],
  };
}

/** The Vega-Lite spec of best-of-n accuracy against n (log scale), one line and interval band per method. */
export function demoAccuracySpec(summary: DemoSummary) {
  const values = presentMethods(summary).flatMap(([key, label]) =>
    summary.bestOfN[key].map((value, index) => ({
      method: label,
      n: summary.ns[index],
      accuracy: value.mean,
      low: Number.isFinite(value.low) ? value.low : value.mean,
      high: Number.isFinite(value.high) ? value.high : value.mean,
    })),
  );
  const encoding = {
    x: {
      field: "n",
      type: "quantitative" as const,
      scale: { type: "log" as const, base: 2 },
      title: "n (candidates)",
    },
    // The same colour per method as the best-of-n report; the legend in the line colour, labels whole.
    color: {
      field: "method",
      type: "nominal" as const,
      scale: seriesColorScale(presentMethods(summary).map(([, label]) => label)),
      legend: curveLegend,
    },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Best-of-n accuracy on held-out arith questions",
    width: 480,
    height: 300,
    data: { values },
    // Separate legends per layer, of which only the line layer's is drawn (not the pale band's).
    resolve: { legend: { color: "independent" as const } },
    layer: [
      {
        mark: { type: "area" as const, opacity: 0.15 },
        encoding: {
          ...encoding,
          color: { ...encoding.color, legend: null },
          y: { field: "low", type: "quantitative" as const },
          y2: { field: "high" },
        },
      },
      {
        mark: { type: "line" as const, point: true },
        encoding: {
          ...encoding,
          y: { field: "accuracy", type: "quantitative" as const, title: "accuracy", axis: { format: "%" } },
        },
      },
    ],
  };
}

/**
 * The Vega-Lite spec of the demo's searches: accuracy against tokens generated per question (log
 * scale), one colour per verifier, a solid line for beam search and a dashed one for best-of-N.
 */
export function demoSearchSpec(search: DemoSearchSummary) {
  const values = search.rows.flatMap((row) =>
    row.accuracy.map((value, index) => ({
      verifier: scorerLabels[row.scorer] ?? row.scorer,
      method: row.method === "bon" ? "best-of-N" : `beam (m=${search.beamWidth})`,
      n: search.ns[index],
      tokens: row.generatedTokens[index]?.mean ?? Number.NaN,
      accuracy: value.mean,
      low: Number.isFinite(value.low) ? value.low : value.mean,
      high: Number.isFinite(value.high) ? value.high : value.mean,
    })),
  );
  const encoding = {
    x: {
      field: "tokens",
      type: "quantitative" as const,
      scale: { type: "log" as const, base: 2 },
      title: "tokens generated per question",
    },
    color: {
      field: "verifier",
      type: "nominal" as const,
      scale: seriesColorScale([...new Set(search.rows.map((row) => scorerLabels[row.scorer] ?? row.scorer))]),
      legend: curveLegend,
    },
    strokeDash: {
      field: "method",
      type: "nominal" as const,
      title: "method",
      // The renderer draws no symbol for a dash legend here, so the subtitle says which is which.
      legend: null,
    },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: "Beam search against best-of-N at equal generated tokens",
      subtitle: `solid: beam search (width ${search.beamWidth}); dashed: best-of-N; bars: 95% intervals`,
    },
    width: 480,
    height: 300,
    data: { values },
    // Separate legends per layer, of which only the line layer's is drawn (not the interval rules').
    resolve: { legend: { color: "independent" as const } },
    layer: [
      {
        mark: { type: "rule" as const, opacity: 0.4 },
        encoding: {
          x: encoding.x,
          color: { ...encoding.color, legend: null },
          y: { field: "low", type: "quantitative" as const },
          y2: { field: "high" },
        },
      },
      {
        mark: { type: "line" as const, point: true },
        encoding: {
          ...encoding,
          y: { field: "accuracy", type: "quantitative" as const, title: "accuracy", axis: { format: "%" } },
        },
      },
    ],
  };
}

function demoHtml(input: DemoReportInput, svg: string): string {
  const tables = demoTables(input.summary, input.runs[0])
    .map((table) => `<h2>${escapeHtml(table.title)}</h2>${htmlTable(table)}`)
    .join("\n");
  const links = input.modelReports
    .map(
      (report) =>
        `<li><a href="${escapeHtml(report.folder)}/index.html">${escapeHtml(report.title)}</a></li>`,
    )
    .join("");
  const body = `<h1>pqm demo: PQM against BCE on the built-in arith environment</h1>
<p class="note">${escapeHtml(input.verdict)}</p>
<p class="note">${input.summary.seeds} seed(s); ${escapeHtml(input.backend)}; ${escapeHtml(input.createdAt)}.</p>
${svg}
${tables}
${input.summary.ns.includes(1) ? `<p class="note">${escapeHtml(nEqualsOneNote("subsets"))}</p>` : ""}
<h2>Per-question views</h2><p>Each candidate with its answer, correctness and step scores, colored by score:</p><ul>${links}</ul>`;
  return htmlPage({ title: "pqm demo", body });
}

/** Whether to write a PNG, and why not; throws first when a PNG is required and cannot be made. */
export function pngDecision(option: boolean | "if-available" = "if-available"): {
  write: boolean;
  skipped: string | null;
} {
  if (option === true) requireResvg();
  if (option === false) return { write: false, skipped: null };
  const write = canRenderPng();
  return {
    write,
    skipped: write
      ? null
      : `${PNG_RENDERER_PACKAGE} is not installed (npm install ${PNG_RENDERER_PACKAGE} to get PNG plots)`,
  };
}

/**
 * Writes the demo's results folder: `results.json` (the input as given), `report.md` (verdict and
 * tables), `accuracy-vs-n.svg` and `.png` (the plot; PNG as `options.png` says) and a self-contained
 * `index.html` linking the per-model reports. Each file is written atomically (`writeFileAtomic`).
 * Throws on file-system errors, and with `png: true` when `@resvg/resvg-js` is not installed.
 */
export async function writeDemoReport(
  folder: string,
  input: DemoReportInput,
  options: SummaryReportOptions = {},
): Promise<DemoReportFiles> {
  const png = pngDecision(options.png);
  const files: DemoReportFiles = {
    results: join(folder, "results.json"),
    markdown: join(folder, "report.md"),
    html: join(folder, "index.html"),
    plotSvg: join(folder, "accuracy-vs-n.svg"),
    plotPng: png.write ? join(folder, "accuracy-vs-n.png") : null,
    pngSkipped: png.skipped,
    searchSvg: input.summary.search ? join(folder, "search-vs-tokens.svg") : null,
    searchPng: input.summary.search && png.write ? join(folder, "search-vs-tokens.png") : null,
  };
  const svg = await renderSpecToSvg(demoAccuracySpec(input.summary));
  const searchSvg = input.summary.search ? await renderSpecToSvg(demoSearchSpec(input.summary.search)) : null;
  const markdown = [
    "# pqm demo: PQM against BCE on the built-in arith environment",
    "",
    input.verdict,
    "",
    `${input.summary.seeds} seed(s); ${input.backend}; ${input.createdAt}; command: \`${input.command}\`.`,
    "",
    `![accuracy against n](${png.write ? "accuracy-vs-n.png" : "accuracy-vs-n.svg"})`,
    "",
    ...(searchSvg === null
      ? []
      : [
          `![search against best-of-N: accuracy against generated tokens](${png.write ? "search-vs-tokens.png" : "search-vs-tokens.svg"})`,
          "",
        ]),
    ...demoTables(input.summary, input.runs[0]).flatMap((table) => [
      `## ${table.title}`,
      "",
      markdownTable(table.header, table.rows),
      "",
    ]),
  ].join("\n");
  await writeFileAtomic(files.results, `${JSON.stringify(input, null, 2)}\n`);
  await writeFileAtomic(files.markdown, markdown);
  await writeFileAtomic(files.plotSvg, svg);
  if (files.plotPng) await writeFileAtomic(files.plotPng, svgToPng(svg));
  if (searchSvg !== null && files.searchSvg) await writeFileAtomic(files.searchSvg, searchSvg);
  if (searchSvg !== null && files.searchPng) await writeFileAtomic(files.searchPng, svgToPng(searchSvg));
  await writeFileAtomic(files.html, demoHtml(input, svg + (searchSvg ?? "")));
  return files;
}
