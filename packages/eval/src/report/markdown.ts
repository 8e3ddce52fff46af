import type { EvaluationResults } from "./results.js";
import { buildReportTables } from "./tables.js";

/**
 * report.md: the inputs, then every table of {@link buildReportTables} as a Markdown table, then the
 * plots (`plotFiles`, PNG names relative to the report folder).
 */
export function renderMarkdownReport(results: EvaluationResults, plotFiles: readonly string[] = []): string {
  const lines: string[] = [`# ${results.title}`, "", `Created ${results.createdAt}.`, ""];
  if (results.inputs) {
    lines.push(
      `- candidates: \`${results.inputs.candidatesFile}\` (SHA-256 \`${results.inputs.candidatesSha256}\`)`,
      `- scores: \`${results.inputs.scoresFile}\`, scorer \`${results.inputs.scorer}\``,
      `- questions: ${results.inputs.questions}`,
      "",
    );
  }
  const versionText = Object.entries(results.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(", ");
  lines.push(`Versions: ${versionText}.`, "");
  for (const table of buildReportTables(results)) {
    lines.push(`## ${table.title}`, "");
    if (table.note) lines.push(table.note, "");
    lines.push(`| ${table.header.join(" | ")} |`, `|${table.header.map(() => " --- ").join("|")}|`);
    for (const row of table.rows) lines.push(`| ${row.map(escapeCell).join(" | ")} |`);
    lines.push("");
  }
  if (plotFiles.length > 0) {
    lines.push("## Plots", "");
    for (const file of plotFiles) lines.push(`![${file}](${file})`, "");
  }
  return lines.join("\n");
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/** `| a | b |` lines of a Markdown table: the header, its rule and the rows. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}
