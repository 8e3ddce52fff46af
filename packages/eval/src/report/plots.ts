import { createRequire } from "node:module";
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import {
  type BestOfNMethod,
  type BestOfNResult,
  bestOfNMethodLabel,
  bestOfNMethods,
  type CurvePoint,
} from "../best-of-n/best-of-n.js";

// One colour per method on every page (the best-of-n report, the demo, the experiments): the
// scored pick in blue, the second model (the demo's BCE) in orange, each baseline its own.
const methodColors: Record<string, string> = {
  "PRM best-of-n": "#4c78a8",
  "Best outcome score": "#4c78a8",
  "PQM (ranking loss, zeta 4)": "#4c78a8",
  BCE: "#f58518",
  // The demo's search plot names its verifiers alone; the oracle in the pass@n colour.
  PQM: "#4c78a8",
  "exact-Q oracle": "#e45756",
  // The demo's weighted votes: each model's colour, lighter.
  "PQM-weighted vote": "#9ecae9",
  "BCE-weighted vote": "#ffbf79",
  "ORM-style (last step)": "#72b7b2",
  "PRM-weighted vote": "#b279a2",
  "Outcome-score-weighted vote": "#b279a2",
  "Majority vote": "#54a24b",
  "Random choice": "#9d755d",
  "pass@n (oracle)": "#e45756",
};
// For series without a colour of their own (aggregations, experiment arms), in order.
const otherColors = [
  "#4c78a8",
  "#f58518",
  "#e45756",
  "#72b7b2",
  "#54a24b",
  "#eeca3b",
  "#b279a2",
  "#ff9da6",
  "#9d755d",
  "#bab0ac",
];

/** The colour of a method's line: the same label has the same colour on every page. */
export function methodColor(label: string): string | undefined {
  return methodColors[label];
}

/**
 * A Vega-Lite colour scale for `order`: known methods in their own colour, other series in a fixed
 * palette by position, so a series keeps its colour whatever else a plot shows.
 */
export function seriesColorScale(order: readonly string[]): { domain: string[]; range: string[] } {
  let other = 0;
  return {
    domain: [...order],
    range: order.map((label) => methodColors[label] ?? otherColors[other++ % otherColors.length]!),
  };
}

/**
 * The legend of a curve plot: line swatches in the full line colour (not the pale interval band),
 * labels never cut.
 */
export const curveLegend = {
  labelLimit: 0,
  symbolType: "stroke" as const,
  symbolStrokeWidth: 3,
  symbolOpacity: 1,
};

/** One row of a plotted curve: accuracy and interval in percent. */
interface CurveRow {
  series: string;
  n: number;
  accuracy: number;
  low: number;
  high: number;
}

function curveRows(series: string, points: readonly CurvePoint[]): CurveRow[] {
  return points
    .filter((point) => !Number.isNaN(point.mean) && point.mean !== null)
    .map((point) => ({
      series,
      n: point.n,
      accuracy: 100 * point.mean,
      low: 100 * point.low,
      high: 100 * point.high,
    }));
}

/**
 * The paper's figure as a Vega-Lite spec: accuracy (%) against n (log2 axis), one line per method with
 * its interval as a translucent band.
 */
export function accuracyCurveSpec(bestOfN: BestOfNResult, title = "Best-of-n accuracy"): TopLevelSpec {
  const level = bestOfN.scoreLevel ?? "step";
  // Methods without numbers (orm-last on outcome-level scores) have no line.
  const shown = bestOfNMethods.filter((method: BestOfNMethod) => bestOfN.methods[method] !== null);
  const rows = shown.flatMap((method: BestOfNMethod) =>
    curveRows(bestOfNMethodLabel(method, level), bestOfN.methods[method] ?? []),
  );
  const order = shown.map((method) => bestOfNMethodLabel(method, level));
  const detail = level === "outcome" ? "outcome scores" : bestOfN.aggregation;
  return curveSpec(rows, `${title} (${bestOfN.protocol}, ${detail})`, "method", order);
}

/** Best-of-n accuracy per aggregation against n, with interval bands. */
export function aggregationSweepSpec(bestOfN: BestOfNResult): TopLevelSpec {
  const rows = Object.entries(bestOfN.sweep).flatMap(([name, points]) => curveRows(name, points ?? []));
  return curveSpec(
    rows,
    `Aggregation sweep (${bestOfN.protocol})`,
    "aggregation",
    Object.keys(bestOfN.sweep),
  );
}

function curveSpec(rows: CurveRow[], title: string, legendTitle: string, order: string[]): TopLevelSpec {
  const ns = [...new Set(rows.map((row) => row.n))].sort((a, b) => a - b);
  const x = {
    field: "n",
    type: "quantitative" as const,
    title: "n (candidates per question)",
    scale: { type: "log" as const, base: 2 },
    axis: { values: ns, format: "d" },
  };
  const color = {
    field: "series",
    type: "nominal" as const,
    title: legendTitle,
    scale: seriesColorScale(order),
    legend: curveLegend,
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 520,
    height: 320,
    background: "white",
    data: { values: rows },
    // Separate legends per layer, of which only the line layer's is drawn.
    resolve: { legend: { color: "independent" } },
    layer: [
      {
        mark: { type: "area", opacity: 0.15 },
        // The band draws no legend: the legend is the line layer's, in the line colour.
        encoding: {
          x,
          y: { field: "low", type: "quantitative" },
          y2: { field: "high" },
          color: { ...color, legend: null },
        },
      },
      {
        mark: { type: "line", point: true },
        encoding: {
          x,
          y: { field: "accuracy", type: "quantitative", title: "accuracy (%)", scale: { zero: false } },
          color,
          tooltip: [
            { field: "series", title: legendTitle },
            { field: "n" },
            { field: "accuracy", format: ".1f" },
            { field: "low", format: ".1f" },
            { field: "high", format: ".1f" },
          ],
        },
      },
    ],
    config: { font: "DejaVu Sans, Liberation Sans, Arial, sans-serif" },
  };
}

/** Compiles a Vega-Lite spec and renders it to an SVG string with vega's headless View (no DOM, no network). */
export async function renderSpecToSvg(spec: TopLevelSpec): Promise<string> {
  const vegaSpec = compile(spec).spec;
  const view = new View(parse(vegaSpec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The package that renders PNGs: an optional peer dependency (a native module), loaded on first use. */
export const PNG_RENDERER_PACKAGE = "@resvg/resvg-js";

type ResvgModule = typeof import("@resvg/resvg-js");
let resvgModule: ResvgModule | null | undefined;

function loadResvg(): ResvgModule | null {
  if (resvgModule === undefined) {
    try {
      resvgModule = createRequire(import.meta.url)(PNG_RENDERER_PACKAGE) as ResvgModule;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== "MODULE_NOT_FOUND" && code !== "ERR_MODULE_NOT_FOUND") throw error;
      resvgModule = null;
    }
  }
  return resvgModule;
}

/** The resvg module; throws naming the package to install when it is missing. */
export function requireResvg(): ResvgModule {
  const resvg = loadResvg();
  if (resvg === null) {
    throw new Error(
      `PNG rendering needs the optional peer dependency ${PNG_RENDERER_PACKAGE}, which is not installed: npm install ${PNG_RENDERER_PACKAGE}`,
    );
  }
  return resvg;
}

/** Whether {@link svgToPng} can run: the optional peer dependency `@resvg/resvg-js` is installed. */
export function canRenderPng(): boolean {
  return loadResvg() !== null;
}

/**
 * Rasterizes an SVG string to PNG bytes with resvg, at `scale` times its size, using the system's fonts.
 * @throws Error naming the package to install when the optional peer dependency `@resvg/resvg-js` is
 * not installed.
 */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const resvg = requireResvg();
  const renderer = new resvg.Resvg(svg, {
    fitTo: { mode: "zoom", value: scale },
    background: "white",
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  });
  return renderer.render().asPng();
}
