import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type HtmlPlot, renderHtmlReport } from "./html.js";
import { renderMarkdownReport } from "./markdown.js";
import { accuracyCurveSpec, aggregationSweepSpec, renderSpecToSvg, svgToPng } from "./plots.js";
import type { QuestionDetail } from "./question-details.js";
import type { EvaluationResults } from "./results.js";
import { scrubSecrets } from "./secrets.js";

/** The files {@link writeEvaluationReport} wrote, as absolute or `dir`-relative paths like `dir`. */
export interface ReportFiles {
  results: string;
  markdown: string;
  html: string;
  /** SVG and PNG files of the plots. */
  plots: string[];
}

/**
 * Writes a results folder: `results.json` (everything), `report.md` (tables), the plots as
 * `accuracy-vs-n.svg/.png` and `aggregation-sweep.svg/.png` (when there is a best-of-n result), and a
 * self-contained `index.html` (tables, inline plots, per-question view built from `questions`).
 * Every text written is passed through `scrubSecrets`. Throws on file-system errors.
 */
export async function writeEvaluationReport(
  dir: string,
  results: EvaluationResults,
  questions: readonly QuestionDetail[] = [],
): Promise<ReportFiles> {
  await mkdir(dir, { recursive: true });
  const plots: HtmlPlot[] = [];
  const plotFiles: string[] = [];
  const pngNames: string[] = [];
  if (results.bestOfN) {
    const specs = [
      {
        name: "accuracy-vs-n",
        title: "Accuracy against n, per method",
        spec: accuracyCurveSpec(results.bestOfN),
      },
      {
        name: "aggregation-sweep",
        title: "Accuracy against n, per aggregation",
        spec: aggregationSweepSpec(results.bestOfN),
      },
    ];
    for (const { name, title, spec } of specs) {
      const svg = await renderSpecToSvg(spec);
      await writeFile(join(dir, `${name}.svg`), svg);
      await writeFile(join(dir, `${name}.png`), svgToPng(svg));
      plotFiles.push(join(dir, `${name}.svg`), join(dir, `${name}.png`));
      pngNames.push(`${name}.png`);
      plots.push({ title, svg });
    }
  }
  const resultsPath = join(dir, "results.json");
  await writeFile(resultsPath, `${scrubSecrets(JSON.stringify(results, null, 1))}\n`);
  const markdownPath = join(dir, "report.md");
  await writeFile(markdownPath, scrubSecrets(renderMarkdownReport(results, pngNames)));
  const htmlPath = join(dir, "index.html");
  await writeFile(htmlPath, scrubSecrets(renderHtmlReport(results, plots, questions)));
  return { results: resultsPath, markdown: markdownPath, html: htmlPath, plots: plotFiles };
}
