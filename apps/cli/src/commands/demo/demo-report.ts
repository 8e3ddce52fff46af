import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { escapeHtml, renderSpecToSvg, svgToPng } from "@pqm/eval";
import type { DemoSummary, SummaryValue } from "./demo-summary.js";
import type { DemoSeedResult } from "./run-demo.js";
import type { DemoResults } from "./run-demo-command.js";

/** Files the demo writes into its results folder. */
export interface DemoReportFiles {
  results: string;
  markdown: string;
  html: string;
  plotSvg: string;
  plotPng: string;
}

const percent = (value: number) => (Number.isFinite(value) ? `${(100 * value).toFixed(1)}%` : "-");
const decimal = (value: number) => (Number.isFinite(value) ? value.toFixed(3) : "-");

/** `51.2% [48.0, 54.3]`, or the mean alone when there is no interval. */
export function formatSummary(value: SummaryValue, format: (value: number) => string = percent): string {
  if (value.interval === "none" || !Number.isFinite(value.low)) return format(value.mean);
  const bare = (number: number) => format(number).replace("%", "");
  return `${format(value.mean)} [${bare(value.low)}, ${bare(value.high)}]`;
}

const methodLabels: [keyof DemoSummary["bestOfN"], string][] = [
  ["pqm", "PQM (ranking loss, zeta 4)"],
  ["bce", "BCE"],
  ["majority", "Majority vote"],
  ["random", "Random choice"],
  ["pass", "pass@n (oracle)"],
];

/** The tables of the demo as rows of cells, shared by the terminal, Markdown and HTML outputs. */
export function demoTables(
  summary: DemoSummary,
  firstRun?: DemoSeedResult,
): { title: string; header: string[]; rows: string[][] }[] {
  const signed = (value: number) =>
    Number.isFinite(value) ? `${value >= 0 ? "+" : ""}${(100 * value).toFixed(1)}` : "-";
  return [
    {
      title: "Best-of-n accuracy (solution score = min of step scores; 95% interval)",
      header: ["method", ...summary.ns.map((n) => `n=${n}`)],
      rows: [
        ...methodLabels.map(([key, label]) => [
          label,
          ...summary.bestOfN[key].map((value) => formatSummary(value)),
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
    {
      title: "Step level, on the held-out candidates against the exact truths",
      header: ["metric", "PQM", "BCE"],
      rows: [
        ["step AUROC vs exact process labels", "stepAuroc"],
        ["Spearman with exact Q-values (all steps)", "spearman"],
        ["share following the Theorem 3.5 ordering", "orderingShare"],
        ["validation AUROC vs Monte-Carlo labels", "validationAuroc"],
      ].map(([label, key]) => {
        const pair = summary.step[key as keyof DemoSummary["step"]];
        const format = key === "orderingShare" ? percent : decimal;
        return [label as string, formatSummary(pair.pqm, format), formatSummary(pair.bce, format)];
      }),
    },
    {
      title: "Data",
      header: ["what", "value"],
      rows: [
        [
          "Monte-Carlo hard labels agreeing with exact labels",
          formatSummary(summary.labelQuality.hardLabelAccuracy),
        ],
        [
          "Monte-Carlo soft labels, mean absolute error vs exact Q",
          formatSummary(summary.labelQuality.softLabelMae, decimal),
        ],
        ["policy accuracy (share of correct candidates)", formatSummary(summary.policyAccuracy)],
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
          formatSummary(value, (x) => x.toFixed(1)),
        ]),
        ["total", formatSummary(summary.totalSeconds, (x) => x.toFixed(1))],
      ],
    },
  ];
}

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function accuracySpec(summary: DemoSummary) {
  const values = methodLabels.flatMap(([key, label]) =>
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
    color: { field: "method", type: "nominal" as const, sort: methodLabels.map(([, label]) => label) },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Best-of-n accuracy on held-out arith questions",
    width: 480,
    height: 300,
    data: { values },
    layer: [
      {
        mark: { type: "area" as const, opacity: 0.15 },
        encoding: { ...encoding, y: { field: "low", type: "quantitative" as const }, y2: { field: "high" } },
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

function html(results: DemoResults, svg: string): string {
  const tables = demoTables(results.summary, results.runs[0])
    .map(
      (table) =>
        `<h2>${escapeHtml(table.title)}</h2><table><thead><tr>${table.header.map((cell) => `<th>${escapeHtml(cell)}</th>`).join("")}</tr></thead><tbody>${table.rows
          .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join("")}</tr>`)
          .join("")}</tbody></table>`,
    )
    .join("\n");
  const links = results.modelReports
    .map(
      (report) =>
        `<li><a href="${escapeHtml(report.folder)}/index.html">${escapeHtml(report.title)}</a></li>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pqm demo</title>
<link rel="icon" href="data:,">
<style>
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f4f4f4}.note{color:#555}
</style></head><body>
<h1>pqm demo: PQM against BCE on the built-in arith environment</h1>
<p class="note">${escapeHtml(results.verdict)}</p>
<p class="note">${results.summary.seeds} seed(s); ${escapeHtml(results.backend)}; ${escapeHtml(results.createdAt)}.</p>
${svg}
${tables}
<h2>Per-question views</h2><p>Each candidate with its answer, correctness and step scores, coloured by score:</p><ul>${links}</ul>
</body></html>
`;
}

/** Writes results.json, report.md, index.html and the accuracy plot (SVG and PNG) into `folder`. */
export async function writeDemoReport(folder: string, results: DemoResults): Promise<DemoReportFiles> {
  await mkdir(folder, { recursive: true });
  const files: DemoReportFiles = {
    results: join(folder, "results.json"),
    markdown: join(folder, "report.md"),
    html: join(folder, "index.html"),
    plotSvg: join(folder, "accuracy-vs-n.svg"),
    plotPng: join(folder, "accuracy-vs-n.png"),
  };
  const svg = await renderSpecToSvg(accuracySpec(results.summary));
  const markdown = [
    "# pqm demo: PQM against BCE on the built-in arith environment",
    "",
    results.verdict,
    "",
    `${results.summary.seeds} seed(s); ${results.backend}; ${results.createdAt}; command: \`${results.command}\`.`,
    "",
    "![accuracy against n](accuracy-vs-n.png)",
    "",
    ...demoTables(results.summary, results.runs[0]).flatMap((table) => [
      `## ${table.title}`,
      "",
      markdownTable(table.header, table.rows),
      "",
    ]),
  ].join("\n");
  const writes: [string, string | Uint8Array][] = [
    [files.results, `${JSON.stringify(results, null, 2)}\n`],
    [files.markdown, markdown],
    [files.plotSvg, svg],
    [files.plotPng, svgToPng(svg)],
    [files.html, html(results, svg)],
  ];
  for (const [path, content] of writes) {
    // Written beside and renamed, so a reader never sees half a file.
    await writeFile(`${path}.tmp`, content);
    await rename(`${path}.tmp`, path);
  }
  return files;
}
