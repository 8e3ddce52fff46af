/**
 * The HTML page every pqm report is built on (the evaluation report, the demo and experiment reports,
 * the search-tree view of the CLI): one document head, one base stylesheet, one escaping rule and one
 * table markup, so the pages look alike and escape alike. Pages add their own styles and scripts.
 */

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** The base stylesheet of every page: type, colors, headings, notes and tables. */
const BASE_STYLE = `
body { font: 14px/1.4 system-ui, "DejaVu Sans", Arial, sans-serif; color: #1d1d1f; max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 20px 0 6px; }
.note { color: #555; font-size: 13px; margin: 4px 0; }
table { border-collapse: collapse; background: #fff; font-size: 13px; margin: 6px 0 18px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; }
th[scope=row] { text-align: left; }
thead th { background: #f0f0f0; }
`;

/** What {@link htmlPage} puts together. */
export interface HtmlPage {
  /** The document title (text; escaped here). */
  title: string;
  /** The content of `<body>`, as HTML (escape any text in it with {@link escapeHtml}). */
  body: string;
  /** CSS of this page, after the base stylesheet (so it can override it). */
  style?: string;
  /** JavaScript run at the end of the body. */
  script?: string;
}

/**
 * A self-contained HTML document (no network: no external styles, scripts or favicon) with the base
 * stylesheet, the page's own style, its body and its script.
 */
export function htmlPage(page: HtmlPage): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(page.title)}</title>
<style>${BASE_STYLE}${page.style ?? ""}</style>
</head>
<body>
${page.body}
${page.script === undefined ? "" : `<script>${page.script}</script>\n`}</body>
</html>
`;
}

/** A table for {@link htmlTable}: header cells and rows of text cells. */
export interface HtmlTableContent {
  header: readonly string[];
  rows: readonly (readonly string[])[];
}

/**
 * A `<table>` of text cells (escaped here): the header in `<thead>`, the first cell of each row as its
 * row header (`<th scope="row">`), the others as `<td>`.
 * @param id the table's `id` attribute, when it needs one.
 */
export function htmlTable(table: HtmlTableContent, id?: string): string {
  const head = `<thead><tr>${table.header.map((cell) => `<th>${escapeHtml(cell)}</th>`).join("")}</tr></thead>`;
  const rows = table.rows
    .map(
      (row) =>
        `<tr>${row.map((cell, k) => (k === 0 ? `<th scope="row">${escapeHtml(cell)}</th>` : `<td>${escapeHtml(cell)}</td>`)).join("")}</tr>`,
    )
    .join("\n");
  return `<table${id === undefined ? "" : ` id="${escapeHtml(id)}"`}>${head}\n<tbody>${rows}</tbody></table>`;
}
