import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { bestOfNMethods } from "../best-of-n.js";
import { writeFixtureReport } from "./report-fixture.test-helper.js";
import { readEvaluationResults } from "./results.js";
import { scrubSecrets } from "./secrets.js";
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
      for (const point of results.bestOfN!.methods[method])
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

  it("never writes a secret from the environment", async () => {
    const secret = "hf_abcdefghijklmnopqrstuvwxyz012345";
    process.env.HF_TOKEN_FOR_TEST = secret;
    try {
      const { files } = await writeFixtureReport({
        note: `token ${secret}`,
        apiKey: process.env.HF_TOKEN_FOR_TEST,
      });
      for (const file of [files.results, files.markdown, files.html]) {
        const text = await readFile(file, "utf8");
        expect(text).not.toContain(secret);
      }
      expect(await readFile(files.results, "utf8")).toContain("[redacted]");
    } finally {
      delete process.env.HF_TOKEN_FOR_TEST;
    }
  });
});

describe("scrubSecrets", () => {
  it("removes values of secret-named variables and token shapes, keeps the rest", () => {
    const env = { MY_API_KEY: "s3cr3t-value-123", PATH: "/usr/bin:/bin", SHORT_KEY: "abc" };
    expect(scrubSecrets("key s3cr3t-value-123 path /usr/bin:/bin abc", env)).toBe(
      "key [redacted] path /usr/bin:/bin abc",
    );
    expect(scrubSecrets("sk-ABCDEFGHIJKLMNOPQRSTUVWX1 ok", {})).toBe("[redacted] ok");
  });
});
