import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { environmentSecrets, redactSecrets, writeFileAtomic } from "@pqm/data";
import { type HtmlPlot, renderHtmlReport } from "./html.js";
import { renderMarkdownReport } from "./markdown.js";
import {
  accuracyCurveSpec,
  aggregationSweepSpec,
  canRenderPng,
  PNG_RENDERER_PACKAGE,
  renderSpecToSvg,
  requireResvg,
  svgToPng,
} from "./plots.js";
import type { QuestionDetail } from "./question-details.js";
import type { EvaluationResults } from "./results.js";

/** The files {@link writeEvaluationReport} wrote, as absolute or `dir`-relative paths like `dir`. */
export interface EvaluationReportFiles {
  results: string;
  markdown: string;
  html: string;
  /** SVG and PNG files of the plots. */
  plots: string[];
  /** Why no PNG files were written although there were plots (`png: "if-available"` without resvg); else null. */
  pngSkipped: string | null;
}

/** Options of {@link writeEvaluationReport}. */
export interface EvaluationReportOptions {
  /**
   * PNG copies of the plots, rendered by the optional peer dependency `@resvg/resvg-js` (a native
   * module): `"if-available"` (default) writes them when it is installed and otherwise skips them
   * (`EvaluationReportFiles.pngSkipped` says so; `report.md` then shows the SVGs); `true` requires them (throws
   * naming the package when it is missing); `false` never writes them.
   */
  png?: boolean | "if-available";
}

/**
 * Writes a results folder: `results.json` (everything), `report.md` (tables), the plots as
 * `accuracy-vs-n.svg/.png` and `aggregation-sweep.svg/.png` (when there is a best-of-n result; PNGs
 * as `options.png` says), and a self-contained `index.html` (tables, inline plots, per-question view
 * built from `questions`). Every file is written atomically (`writeFileAtomic` of @pqm/data), and every
 * text written passes through `redactSecrets` (token shapes, and the values of the environment's
 * secret-named variables: `environmentSecrets`). Throws on file-system errors, and with `png: true` when `@resvg/resvg-js` is not installed (before writing anything).
 */
export async function writeEvaluationReport(
  dir: string,
  results: EvaluationResults,
  questions: readonly QuestionDetail[] = [],
  options: EvaluationReportOptions = {},
): Promise<EvaluationReportFiles> {
  const secrets = environmentSecrets();
  const redact = (text: string) => redactSecrets(text, secrets);
  const pngOption = options.png ?? "if-available";
  if (pngOption === true && results.bestOfN) requireResvg();
  const writePng = pngOption !== false && canRenderPng();
  await mkdir(dir, { recursive: true });
  const plots: HtmlPlot[] = [];
  const plotFiles: string[] = [];
  const imageNames: string[] = [];
  let pngSkipped: string | null = null;
  if (results.bestOfN) {
    if (!writePng && pngOption === "if-available") {
      pngSkipped = `${PNG_RENDERER_PACKAGE} is not installed (npm install ${PNG_RENDERER_PACKAGE} to get PNG plots)`;
    }
    const specs = [
      {
        name: "accuracy-vs-n",
        title: "Accuracy against n, per method",
        spec: accuracyCurveSpec(results.bestOfN),
      },
      // No sweep on outcome-level scores: there are no step scores to aggregate.
      ...(results.bestOfN.notApplicable?.sweep === undefined
        ? [
            {
              name: "aggregation-sweep",
              title: "Accuracy against n, per aggregation",
              spec: aggregationSweepSpec(results.bestOfN),
            },
          ]
        : []),
    ];
    for (const { name, title, spec } of specs) {
      const svg = await renderSpecToSvg(spec);
      await writeFileAtomic(join(dir, `${name}.svg`), svg);
      plotFiles.push(join(dir, `${name}.svg`));
      if (writePng) {
        await writeFileAtomic(join(dir, `${name}.png`), svgToPng(svg));
        plotFiles.push(join(dir, `${name}.png`));
      }
      imageNames.push(writePng ? `${name}.png` : `${name}.svg`);
      plots.push({ title, svg });
    }
  }
  const resultsPath = join(dir, "results.json");
  await writeFileAtomic(resultsPath, `${redact(JSON.stringify(results, null, 1))}\n`);
  const markdownPath = join(dir, "report.md");
  await writeFileAtomic(markdownPath, redact(renderMarkdownReport(results, imageNames)));
  const htmlPath = join(dir, "index.html");
  await writeFileAtomic(htmlPath, redact(renderHtmlReport(results, plots, questions)));
  return { results: resultsPath, markdown: markdownPath, html: htmlPath, plots: plotFiles, pngSkipped };
}
