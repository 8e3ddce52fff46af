import { describe, expect, it } from "vitest";
import { escapeHtml, htmlPage, htmlTable } from "./html-page.js";

describe("escapeHtml", () => {
  it("escapes the five characters that matter in content and attributes", () => {
    expect(escapeHtml(`<a href="x">Tom & 'Jerry'</a>`)).toBe(
      "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;",
    );
  });
});

describe("htmlPage", () => {
  it("is a self-contained document: escaped title, base style then the page's, body, script last", () => {
    const page = htmlPage({
      title: "a < b",
      body: "<p>hi</p>",
      style: ".x { color: red; }",
      script: "run();",
    });
    expect(page.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(page).toContain("<title>a &lt; b</title>");
    expect(page).toContain('<meta charset="utf-8">');
    // No network: the favicon request is answered inline, and nothing is fetched.
    expect(page).toContain('<link rel="icon" href="data:,">');
    expect(page).not.toMatch(/src="http|href="http/);
    const style = page.slice(page.indexOf("<style>"), page.indexOf("</style>"));
    expect(style.indexOf("border-collapse")).toBeLessThan(style.indexOf(".x { color: red; }"));
    expect(page.indexOf("<p>hi</p>")).toBeLessThan(page.indexOf("<script>run();</script>"));
    expect(page.trimEnd().endsWith("</body>\n</html>")).toBe(true);
  });

  it("leaves out the script element when there is no script", () => {
    expect(htmlPage({ title: "t", body: "" })).not.toContain("<script");
  });
});

describe("htmlTable", () => {
  it("escapes every cell and makes the first cell of a row its header", () => {
    const table = htmlTable({ header: ["model", "a&b"], rows: [["<pqm>", "1.0"]] }, "table-1");
    expect(table).toBe(
      '<table id="table-1"><thead><tr><th>model</th><th>a&amp;b</th></tr></thead>\n' +
        '<tbody><tr><th scope="row">&lt;pqm&gt;</th><td>1.0</td></tr></tbody></table>',
    );
    expect(htmlTable({ header: [], rows: [] })).toBe(
      "<table><thead><tr></tr></thead>\n<tbody></tbody></table>",
    );
  });
});
