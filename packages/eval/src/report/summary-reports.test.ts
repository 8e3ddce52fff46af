import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DemoReportInput,
  type DemoSummary,
  demoTables,
  formatSummaryValue,
  type SummaryValue,
  writeDemoReport,
} from "./demo-report.js";
import { type ExperimentReportInput, experimentTable, writeExperimentReport } from "./experiment-report.js";

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-summary-reports-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

const value = (
  mean: number,
  low = mean,
  high = mean,
  interval: SummaryValue["interval"] = "none",
): SummaryValue => ({
  mean,
  low,
  high,
  interval,
});

function summary(): DemoSummary {
  const curve = (means: number[]) =>
    means.map((mean) => value(mean, mean - 0.05, mean + 0.05, "t over seeds"));
  return {
    seeds: 3,
    ns: [1, 4],
    bestOfN: {
      pqm: curve([0.4, 0.45]),
      bce: curve([0.4, 0.474]),
      pqmWeighted: curve([0.4, 0.52]),
      bceWeighted: curve([0.4, 0.53]),
      majority: curve([0.4, 0.55]),
      random: curve([0.4, 0.4]),
      pass: curve([0.4, 0.86]),
    },
    pqmMinusBce: [value(0), value(-0.024, -0.067, 0.02, "t over seeds")],
    step: {
      stepAuroc: { pqm: value(0.751, 0.74, 0.763, "t over seeds"), bce: value(0.762) },
      spearman: { pqm: value(0.281), bce: value(0.291) },
      orderingShare: { pqm: value(0.146), bce: value(0.026) },
      validationAuroc: { pqm: value(Number.NaN), bce: value(0.8) },
    },
    labelQuality: { hardLabelAccuracy: value(0.9), softLabelMae: value(0.109) },
    policyAccuracy: value(0.4),
    stageSeconds: { annotate: value(1.25), evaluate: value(0.04) },
    totalSeconds: value(1.29),
    search: {
      questions: 100,
      beamWidth: 4,
      ns: [4],
      rows: [
        { scorer: "pqm", method: "bon", accuracy: [value(0.47)], generatedTokens: [value(96)] },
        { scorer: "pqm", method: "beam", accuracy: [value(0.61)], generatedTokens: [value(96)] },
      ],
      beamMinusBon: [{ scorer: "pqm", difference: [value(0.14, 0.05, 0.23, "t over seeds")] }],
    },
  };
}

const demoInput = (): DemoReportInput & { extra: string } => ({
  verdict: "PQM did not beat BCE at best-of-4: it was 2.4 points lower.",
  backend: "training on cpu",
  createdAt: "2026-01-01T00:00:00.000Z",
  command: "pqm demo --seeds 3",
  summary: summary(),
  runs: [
    {
      seed: 7,
      models: {
        pqm: { scoreByPosition: [{ position: 1, correct: 0.5, wrong: -0.25 }] },
        bce: { scoreByPosition: [{ position: 1, correct: null, wrong: 1.5 }] },
      },
    },
  ],
  modelReports: [{ title: "PQM <model>", folder: "report-pqm" }],
  extra: "kept in results.json",
});

describe("the demo report", () => {
  it("formats a summary value with its interval, or alone without one", () => {
    expect(formatSummaryValue(value(0.512, 0.48, 0.543, "t over seeds"))).toBe("51.2% [48.0, 54.3]");
    expect(formatSummaryValue(value(0.512))).toBe("51.2%");
    expect(formatSummaryValue(value(0.75, 0.7, 0.8, "bootstrap over questions"), (x) => x.toFixed(3))).toBe(
      "0.750 [0.700, 0.800]",
    );
    expect(formatSummaryValue(value(Number.NaN))).toBe("-");
  });

  it("builds the tables: best-of-n with the difference in points, step metrics, data, positions, time", () => {
    const tables = demoTables(summary(), demoInput().runs[0]);
    expect(tables.map((table) => table.header[0])).toEqual([
      "method",
      "verifier",
      "metric",
      "what",
      "position",
      "stage",
    ]);
    const [bestOfN, search, step, , positions, time] = tables;
    expect(bestOfN?.header).toEqual(["method", "n=1", "n=4"]);
    expect(bestOfN?.rows[1]).toEqual(["BCE", "40.0% [35.0, 45.0]", "47.4% [42.4, 52.4]"]);
    expect(bestOfN?.rows.at(-1)).toEqual(["PQM - BCE (points)", "+0.0", "-2.4 [-6.7, +2.0]"]);
    expect(bestOfN?.rows.map((row) => row[0])).toContain("PQM-weighted vote");
    expect(search?.header).toEqual(["verifier", "method", "N=4"]);
    expect(search?.rows).toEqual([
      ["PQM", "best-of-N", "47.0% (96)"],
      ["PQM", "beam (m=4)", "61.0% (96)"],
      ["PQM", "beam - best-of-N (points)", "+14.0 [+5.0, +23.0]"],
    ]);
    expect(step?.rows[0]).toEqual(["step AUROC vs exact process labels", "0.751 [0.740, 0.763]", "0.762"]);
    expect(step?.rows[2]).toEqual(["share following the Theorem 3.5 ordering", "14.6%", "2.6%"]);
    expect(step?.rows[3]).toEqual(["validation AUROC vs Monte-Carlo labels", "-", "0.800"]);
    expect(positions?.title).toContain("(seed 7)");
    expect(positions?.rows).toEqual([["1", "0.50", "-0.25", "-", "1.50"]]);
    expect(time?.rows).toEqual([
      ["annotate", "1.3"],
      ["evaluate", "0.0"],
      ["total", "1.3"],
    ]);
    expect(demoTables(summary()).map((table) => table.header[0])).not.toContain("position");
  });

  it("writes results.json (the whole input), report.md, the plot and index.html", async () => {
    const out = join(folder, "demo");
    const input = demoInput();
    const files = await writeDemoReport(out, input, { png: false });
    expect(files.plotPng).toBeNull();
    expect(files.pngSkipped).toBeNull();
    expect(existsSync(join(out, "accuracy-vs-n.png"))).toBe(false);
    // NaN (an undefined metric) is written as null, as JSON.stringify does.
    expect(JSON.parse(await readFile(files.results, "utf8"))).toEqual(JSON.parse(JSON.stringify(input)));
    const markdown = await readFile(files.markdown, "utf8");
    expect(markdown).toContain(input.verdict);
    expect(markdown).toContain("command: `pqm demo --seeds 3`");
    expect(markdown).toContain("![accuracy against n](accuracy-vs-n.svg)");
    expect(markdown).toContain("| BCE | 40.0% [35.0, 45.0] | 47.4% [42.4, 52.4] |");
    expect(await readFile(files.plotSvg, "utf8")).toMatch(/^<svg/);
    // The search plot: written because the summary has searches, linked from report.md, in the page.
    expect(files.searchPng).toBeNull();
    const searchSvg = await readFile(files.searchSvg!, "utf8");
    expect(searchSvg).toMatch(/^<svg/);
    expect(searchSvg).toContain("tokens generated per question");
    expect(markdown).toContain("(search-vs-tokens.svg)");
    const html = await readFile(files.html, "utf8");
    expect(html).toContain("Beam search against best-of-N at equal generated tokens");
    expect(html).toContain('<a href="report-pqm/index.html">PQM &lt;model&gt;</a>');
    expect(html).toContain("<td>47.4% [42.4, 52.4]</td>");
    expect(existsSync(`${files.html}.tmp`)).toBe(false);

    // A run without searches writes no search plot.
    const { search: _search, ...withoutSearch } = input.summary;
    const bare = await writeDemoReport(
      join(folder, "demo-no-search"),
      { ...input, summary: withoutSearch },
      {
        png: false,
      },
    );
    expect(bare.searchSvg).toBeNull();
    expect(existsSync(join(folder, "demo-no-search", "search-vs-tokens.svg"))).toBe(false);
    expect(await readFile(bare.markdown, "utf8")).not.toContain("search-vs-tokens");
  });
});

const experimentInput = (): ExperimentReportInput => ({
  experiment: "annotation",
  command: "pqm experiment annotation",
  seed: 0,
  seconds: 12.4,
  machine: { cpu: "test cpu", cores: 2 },
  config: { ns: [1, 4], trainSteps: 10 },
  rows: [
    {
      variant: "pqm, MC N=1",
      x: "N=1",
      loss: "pqm",
      labelSource: "MC N=1",
      bestOfN: [
        { n: 1, mean: 0.387, low: 0.3, high: 0.45 },
        { n: 4, mean: 0.402, low: 0.33, high: 0.47 },
      ],
      stepAuroc: 0.684,
      spearman: 0.234,
      orderingShare: 0.081,
    },
    {
      variant: "bce, MC N=1",
      x: "N=1",
      loss: "bce",
      labelSource: "MC N=1",
      bestOfN: [{ n: 1, mean: 0.387, low: 0.3, high: 0.45 }],
      stepAuroc: 0.635,
      spearman: Number.NaN,
      orderingShare: null,
    },
  ],
});

describe("the experiment report", () => {
  it("builds one row per model: best-of-n at each n of the config, then the step metrics", () => {
    const table = experimentTable(experimentInput());
    expect(table.header).toEqual([
      "model",
      "labels",
      "BoN@1",
      "BoN@4",
      "step AUROC",
      "Spearman Q",
      "Thm 3.5 share",
    ]);
    expect(table.rows).toEqual([
      ["pqm, MC N=1", "MC N=1", "38.7%", "40.2%", "0.684", "0.234", "8.1%"],
      ["bce, MC N=1", "MC N=1", "38.7%", "-", "0.635", "-", "-"],
    ]);
  });

  it("writes results.json, report.md, the plot (one line per loss) and index.html", async () => {
    const out = join(folder, "experiment");
    const input = experimentInput();
    const files = await writeExperimentReport(out, input, { series: "loss", png: false });
    expect(files.html).toBe(join(out, "index.html"));
    expect(files.plotSvg).toBe(join(out, "annotation.svg"));
    expect(files.plotPng).toBeNull();
    expect(JSON.parse(await readFile(files.results, "utf8"))).toEqual(JSON.parse(JSON.stringify(input)));
    const markdown = await readFile(files.markdown, "utf8");
    expect(markdown).toContain("Seed 0; 10 training steps per model; 12 s on test cpu (2 cores)");
    expect(markdown).toContain("![annotation](annotation.svg)");
    expect(markdown).toContain("| pqm, MC N=1 | MC N=1 | 38.7% | 40.2% | 0.684 | 0.234 | 8.1% |");
    // One line per loss: both series are named in the plot's legend.
    const svg = await readFile(files.plotSvg, "utf8");
    expect(svg).toContain(">pqm<");
    expect(svg).toContain(">bce<");
    expect(await readFile(files.html, "utf8")).toContain("<h1>pqm experiment annotation</h1>");
  });
});
