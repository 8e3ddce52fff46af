/**
 * `@pqm/eval/report`: the pieces `@pqm/eval`'s reports are made of, for a report of one's own (a page
 * of another result in the same look, a plot in another format). The report writers themselves
 * (`writeEvaluationReport`, `writeDemoReport`, `writeExperimentReport`) are in the main entry.
 *
 * @packageDocumentation
 */

export { demoAccuracySpec, demoSearchSpec, formatSummaryValue } from "./demo-report.js";
export { experimentSpec } from "./experiment-report.js";
export type { HtmlPlot } from "./html.js";
export { renderHtmlReport, stepColor } from "./html.js";
export type { HtmlPage, HtmlTableContent } from "./html-page.js";
export { escapeHtml, htmlPage, htmlTable } from "./html-page.js";
export { renderMarkdownReport } from "./markdown.js";
export {
  accuracyCurveSpec,
  aggregationSweepSpec,
  canRenderPng,
  methodColor,
  renderSpecToSvg,
  seriesColorScale,
  svgToPng,
} from "./plots.js";
export { formatNumber, formatPercent } from "./results.js";
export type { ReportTable } from "./tables.js";
export { buildReportTables, formatAccuracyCell, nEqualsOneNote } from "./tables.js";
