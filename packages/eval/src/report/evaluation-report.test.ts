import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { bestOfNMethods } from "../best-of-n/best-of-n.js";
import { writeFixtureReport } from "./report-fixture.test-helper.js";
import { readEvaluationResults } from "./results.js";
import { formatAccuracyCell } from "./tables.js";

describe("writeEvaluationReport", () => {
  it("writes results.json that reads back equal to what was recorded", async () => {
    const { files, results } = await writeFixtureReport();
    const read = await readEvaluationResults(files.results);
    // NaN (an undefined metric) is written as null, like JSON.stringify does.
    expect(read).toEqual(JSON.parse(JSON.stringify(results)));
    expect(read.versions.node).toBe(process.version);
    expect(read.versions["@pqm/eval"]).toMatch(/^\d+\.\d+\.\d+/);
    expect(read.verdicts!.questions).toHaveLength(6);
    expect(read.verdicts!.questions[0]).toHaveLength(8);
    expect(Date.parse(read.createdAt)).not.toBeNaN();
  });

  it("report.md holds every number of the best-of-n table", async () => {
    const { files, results } = await writeFixtureReport();
    const markdown = await readFile(files.markdown, "utf8");
    for (const method of bestOfNMethods) {
      for (const point of results.bestOfN!.methods[method]!)
        expect(markdown).toContain(formatAccuracyCell(point));
    }
    for (const points of Object.values(results.bestOfN!.sweep)) {
      for (const point of points!) expect(markdown).toContain(formatAccuracyCell(point));
    }
    expect(markdown).toContain("| gsm8k (threshold chosen here) | 50.0 | 75.0 | 60.0 | 4 | 4 |");
    expect(markdown).toContain("![accuracy-vs-n.png](accuracy-vs-n.png)");
  });

  it("writes valid SVG and PNG plots", async () => {
    const { files } = await writeFixtureReport();
    const svgs = files.plots.filter((file) => file.endsWith(".svg"));
    const pngs = files.plots.filter((file) => file.endsWith(".png"));
    expect(svgs).toHaveLength(2);
    expect(pngs).toHaveLength(2);
    expect(files.pngSkipped).toBeNull();
    for (const file of svgs) {
      const svg = await readFile(file, "utf8");
      expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      expect(svg).toContain("</svg>");
      expect(svg).toContain("accuracy (%)");
    }
    for (const file of pngs) {
      const png = await readFile(file);
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      // IHDR width and height (big-endian at bytes 16 and 20): 2x the plot size, a few hundred pixels.
      const width = png.readUInt32BE(16);
      const height = png.readUInt32BE(20);
      expect(width).toBeGreaterThan(800);
      expect(width).toBeLessThan(3000);
      expect(height).toBeGreaterThan(400);
      expect(png.length).toBeGreaterThan(10_000);
    }
  });

  it("writes no PNG with png: false, and report.md shows the SVGs", async () => {
    const { files, reportDir } = await writeFixtureReport({}, { png: false });
    expect(files.plots.map((file) => file.slice(reportDir.length + 1))).toEqual([
      "accuracy-vs-n.svg",
      "aggregation-sweep.svg",
    ]);
    expect(readdirSync(reportDir).filter((file) => file.endsWith(".png"))).toEqual([]);
    expect(files.pngSkipped).toBeNull();
    const markdown = await readFile(files.markdown, "utf8");
    expect(markdown).toContain("![accuracy-vs-n.svg](accuracy-vs-n.svg)");
    expect(markdown).not.toContain(".png");
  });

  it("never writes a secret from the environment, token-shaped or not", async () => {
    const secret = "hf_abcdefghijklmnopqrstuvwxyz012345";
    // Shaped like no known token: only the environment's secret-named variables reveal it.
    const plainSecret = "plain-value-7f3a9c";
    process.env.HF_TOKEN_FOR_TEST = secret;
    process.env.PQM_PASSWORD_FOR_TEST = plainSecret;
    try {
      const { files } = await writeFixtureReport({
        note: `token ${secret}, password ${plainSecret}`,
        apiKey: process.env.HF_TOKEN_FOR_TEST,
      });
      for (const file of [files.results, files.markdown, files.html]) {
        const text = await readFile(file, "utf8");
        expect(text).not.toContain(secret);
        expect(text).not.toContain(plainSecret);
      }
      expect(await readFile(files.results, "utf8")).toContain("[redacted]");
    } finally {
      delete process.env.HF_TOKEN_FOR_TEST;
      delete process.env.PQM_PASSWORD_FOR_TEST;
    }
  });
});

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, "..", "..");

/** Every module specifier imported by the non-test sources of this package (`typeof import(...)` aside). */
function sourceImports(): { file: string; specifier: string }[] {
  const found: { file: string; specifier: string }[] = [];
  const pattern =
    /(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\sfrom\s+)?["']([^"']+)["']|(?<!typeof\s)import\(\s*["']([^"']+)["']/g;
  for (const entry of readdirSync(join(packageRoot, "src"), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts") || /\.test(-helper)?\.ts$/.test(entry.name)) continue;
    const file = join(entry.parentPath, entry.name);
    for (const match of readFileSync(file, "utf8").matchAll(pattern)) {
      found.push({ file, specifier: (match[1] ?? match[2])! });
    }
  }
  return found;
}

describe("what @pqm/eval needs at run time", () => {
  it("imports neither TF.js nor @pqm/core's main entry, and resvg only lazily", () => {
    const specifiers = sourceImports().map(({ specifier }) => specifier);
    expect(specifiers).toContain("@pqm/core/reference");
    expect(specifiers.filter((s) => s.startsWith("@tensorflow/") || s === "@pqm/core")).toEqual([]);
    expect(specifiers.filter((s) => s.startsWith("@resvg/"))).toEqual([]);
  });

  // A child process under plain Node (tsx for the TypeScript) where `@resvg/resvg-js` cannot be
  // resolved, as in a project that did not install the optional peer dependency.
  const tsx = join(packageRoot, "node_modules", "tsx", "dist", "esm", "index.mjs");
  const builtDeps = ["core", "data"].every((name) =>
    existsSync(join(packageRoot, "..", name, "dist", "index.js")),
  );
  it.skipIf(!existsSync(tsx) || !builtDeps)(
    `without @resvg/resvg-js: the report has SVG plots only, png: true and svgToPng name the package${!existsSync(tsx) ? " [skipped: tsx is not installed]" : builtDeps ? "" : " [skipped: build @pqm/core and @pqm/data first]"}`,
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "pqm-eval-no-resvg-"));
      const hide = join(dir, "hide-resvg.cjs");
      await writeFile(
        hide,
        `const Module = require("node:module");
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === "@resvg/resvg-js") throw Object.assign(new Error("Cannot find module '@resvg/resvg-js'"), { code: "MODULE_NOT_FOUND" });
  return resolve.call(this, request, ...rest);
};
`,
      );
      const child = join(dir, "child.mts");
      await writeFile(
        child,
        `const { writeFixtureReport } = await import(${JSON.stringify(join(here, "report-fixture.test-helper.ts"))});
const { canRenderPng, svgToPng } = await import(${JSON.stringify(join(here, "plots.ts"))});
const message = (run) => { try { run(); return null; } catch (error) { return error.message; } };
const { files } = await writeFixtureReport();
let strict = null;
await writeFixtureReport({}, { png: true }).catch((error) => { strict = error.message; });
process.stdout.write(JSON.stringify({ canRenderPng: canRenderPng(), plots: files.plots, pngSkipped: files.pngSkipped, svgToPng: message(() => svgToPng("<svg/>")), strict }));
`,
      );
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        ["--require", hide, "--import", tsx, child],
        { cwd: packageRoot },
      );
      expect(stderr).toBe("");
      const result = JSON.parse(stdout) as {
        canRenderPng: boolean;
        plots: string[];
        pngSkipped: string | null;
        svgToPng: string | null;
        strict: string | null;
      };
      expect(result.canRenderPng).toBe(false);
      expect(result.plots.map((file) => file.slice(file.lastIndexOf("/") + 1))).toEqual([
        "accuracy-vs-n.svg",
        "aggregation-sweep.svg",
      ]);
      expect(result.pngSkipped).toContain("npm install @resvg/resvg-js");
      const missing =
        "PNG rendering needs the optional peer dependency @resvg/resvg-js, which is not installed: npm install @resvg/resvg-js";
      expect(result.svgToPng).toBe(missing);
      expect(result.strict).toBe(missing);
    },
    120_000,
  );
});
