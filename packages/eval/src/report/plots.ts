import { createRequire } from "node:module";
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import {
  type BestOfNMethod,
  type BestOfNResult,
  bestOfNMethodLabels,
  bestOfNMethods,
  type CurvePoint,
} from "../best-of-n/best-of-n.js";

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
  const rows = bestOfNMethods.flatMap((method: BestOfNMethod) =>
    curveRows(bestOfNMethodLabels[method], bestOfN.methods[method]),
  );
  const order = bestOfNMethods.map((method) => bestOfNMethodLabels[method]);
  return curveSpec(rows, `${title} (${bestOfN.protocol}, ${bestOfN.aggregation})`, "method", order);
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
    scale: { domain: order },
    legend: { labelLimit: 260, symbolType: "stroke" as const, symbolStrokeWidth: 3, symbolOpacity: 1 },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 520,
    height: 320,
    background: "white",
    data: { values: rows },
    layer: [
      {
        mark: { type: "area", opacity: 0.15 },
        encoding: { x, y: { field: "low", type: "quantitative" }, y2: { field: "high" }, color },
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
