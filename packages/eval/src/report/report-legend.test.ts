import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Question } from "@pqm/core/reference";
import { afterAll, describe, expect, it } from "vitest";
import { type BestOfNResult, bestOfNMethodLabels } from "../best-of-n/best-of-n.js";
import { evaluateCandidates } from "../best-of-n/evaluate-candidates.js";
import { readCandidateFile } from "../candidates/candidate-file.js";
import { readScoresFile, writeScoresFile } from "../scores/scores-file.js";
import { type DemoSummary, demoAccuracySpec } from "./demo-report.js";
import { accuracyCurveSpec, methodColor, renderSpecToSvg } from "./plots.js";
import { buildQuestionDetails } from "./question-details.js";
import { toyChecker, writeFixtureReport } from "./report-fixture.test-helper.js";
import { buildReportTables } from "./tables.js";

/** The legend entries of a rendered plot: label, swatch colour and swatch opacity. */
function legendEntries(svg: string): Array<{ label: string; stroke: string; opacity: string }> {
  const pattern =
    /role-legend-symbol"[^>]*><path[^>]*stroke="([^"]+)"[^>]*opacity="([^"]+)"[^>]*\/><\/g><g class="mark-text role-legend-label"[^>]*><text[^>]*>([^<]*)<\/text>/g;
  return [...svg.matchAll(pattern)].map((match) => ({
    stroke: match[1]!,
    opacity: match[2]!,
    label: match[3]!,
  }));
}

const point = (n: number, mean: number) => ({ n, mean, low: mean - 0.05, high: mean + 0.05, excluded: 0 });
const curve = (mean: number) => [1, 4].map((n) => point(n, mean));
const value = (mean: number) => ({
  mean,
  low: mean - 0.05,
  high: mean + 0.05,
  interval: "bootstrap" as const,
});

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("plots: legend and colours", () => {
  it("the best-of-n and demo plots draw line-coloured swatches, whole labels, one colour per method", async () => {
    const bestOfN = {
      protocol: "subsets",
      aggregation: "min",
      scoreLevel: "step",
      ns: [1, 4],
      methods: {
        bon: curve(0.5),
        "orm-last": curve(0.45),
        "weighted-vote": curve(0.48),
        majority: curve(0.44),
        random: curve(0.38),
        pass: curve(0.7),
      },
      sweep: {},
    } as unknown as BestOfNResult;
    const summary = {
      ns: [1, 4],
      bestOfN: {
        pqm: [value(0.5), value(0.6)],
        bce: [value(0.5), value(0.55)],
        majority: [value(0.4), value(0.45)],
        random: [value(0.38), value(0.38)],
        pass: [value(0.38), value(0.8)],
      },
    } as unknown as DemoSummary;
    const bonLegend = legendEntries(await renderSpecToSvg(accuracyCurveSpec(bestOfN)));
    const demoLegend = legendEntries(await renderSpecToSvg(demoAccuracySpec(summary)));
    expect(bonLegend.map((entry) => entry.label)).toEqual(Object.values(bestOfNMethodLabels));
    expect(demoLegend.map((entry) => entry.label)).toContain("PQM (ranking loss, zeta 4)");
    for (const entry of [...bonLegend, ...demoLegend]) {
      expect(entry.opacity).toBe("1");
      expect(entry.stroke).toBe(methodColor(entry.label));
    }
    // The methods both pages show keep their colour.
    const colorOf = (legend: typeof bonLegend, label: string) =>
      legend.find((entry) => entry.label === label)?.stroke;
    for (const label of ["Majority vote", "Random choice", "pass@n (oracle)"]) {
      expect(colorOf(demoLegend, label)).toBe(colorOf(bonLegend, label));
    }
    expect(new Set(bonLegend.map((entry) => entry.stroke)).size).toBe(bonLegend.length);
  });
});

describe("report: n = 1 and per-step truth", () => {
  it("the best-of-n table says why best-of-1, random choice and pass@1 differ", async () => {
    const { dir, results } = await writeFixtureReport();
    dirs.push(dir);
    const note = buildReportTables(results).find((table) => table.id === "best-of-n")!.note!;
    expect(note).toContain("At n = 1 every method has one candidate to pick");
    expect(note).toContain("average 20 random one-candidate subsets per question");
  });

  it("the per-question view carries exact step labels, Q-values and the first mistake when the file has them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pqm-step-truth-"));
    dirs.push(dir);
    const questions: Question[] = [{ id: "q0", text: "What is 1 + 2?", answer: "3", domain: "math" }];
    const responses = [
      {
        text: "Step 1: 1 + 2 = 3.\nStep 2: The answer: 3",
        steps: ["1 + 2 = 3.", "The answer: 3"],
        labels: [1, 1],
      },
      {
        text: "Step 1: 1 + 2 = 4.\nStep 2: The answer: 4",
        steps: ["1 + 2 = 4.", "The answer: 4"],
        labels: [0, 0],
      },
    ];
    const path = join(dir, "candidates.json");
    await writeFile(
      path,
      JSON.stringify([
        {
          question: questions[0]!.text,
          responses: responses.map((r) => ({
            text: r.text,
            model_name: "toy",
            steps: r.steps,
            process_labels: r.labels,
            q_values: r.labels.map((label) => label * 0.9),
          })),
        },
      ]),
    );
    const candidates = await readCandidateFile(path);
    const scoresPath = join(dir, "scores.jsonl");
    await writeScoresFile(scoresPath, { candidatesSha256: candidates.sha256, scorer: "toy" }, [
      [
        [1, 1],
        [-1, -1],
      ],
    ]);
    const scores = await readScoresFile(scoresPath, { candidates });
    const evaluation = await evaluateCandidates(
      { questions, candidates, scores, checker: toyChecker },
      { ns: [1, 2], protocol: "reference", bootstrapResamples: 10 },
    );
    const [detail] = buildQuestionDetails(evaluation, questions, candidates, scores);
    expect(detail!.candidates[0]).toMatchObject({
      stepLabels: [1, 1],
      stepQValues: [0.9, 0.9],
      firstMistake: null,
    });
    expect(detail!.candidates[1]).toMatchObject({ stepLabels: [0, 0], stepQValues: [0, 0], firstMistake: 0 });
  });

  it("without truths in the file the view has none", async () => {
    const { dir, details } = await writeFixtureReport();
    dirs.push(dir);
    for (const candidate of details[0]!.candidates) {
      expect(candidate.stepLabels).toBeUndefined();
      expect(candidate.firstMistake).toBeUndefined();
    }
  });
});
