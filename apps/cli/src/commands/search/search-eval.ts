import { mkdir, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { renderSpecToSvg, svgToPng } from "@pqm/eval/report";
import type {
  ArithEvaluation,
  ArithEvaluationPoint,
  ArithEvaluationRun,
  EvaluationScorer,
  MeanInterval,
  SearchSpec,
} from "@pqm/search";
import {
  accuracyDifference,
  CachingScorer,
  evaluateArithSearch,
  oracleScorer,
  searchMethods,
} from "@pqm/search";
import { CliError } from "../../shared/cli-error.js";
import { loadModelScorer, type ModelScorer } from "../../shared/model-scorer.js";

/** The searches `pqm search-eval` runs by default (method/N[/m[/lookahead]]). */
export const defaultEvalSearches =
  "bon/1 bon/2 bon/4 bon/8 bon/16 bon/64 weighted-bon/4 weighted-bon/16 weighted-bon/64 " +
  "beam/4/4 beam/8/4 beam/16/4 beam/64/4 beam/4/4/1 beam/16/4/1 dvts/8/4 dvts/16/4 dvts/64/4 mcts/4/4 mcts/8/4 mcts/32/4";

/**
 * Reads a list of searches, `method/N[/m[/lookahead]]` separated by spaces or commas
 * (`beam/16/4`, `bon/64`, `beam/16/4/1`). Throws a usage CliError naming the bad entry.
 */
export function parseSearchList(text: string, aggregation: SearchSpec["aggregation"]): SearchSpec[] {
  const entries = text.split(/[\s,;]+/).filter((entry) => entry !== "");
  if (entries.length === 0) throw new CliError("--searches is empty", 2);
  return entries.map((entry) => {
    const [method, n, m, lookahead, ...rest] = entry.split("/");
    const number = (value: string | undefined, name: string, fallback: number) => {
      if (value === undefined) return fallback;
      const parsed = Number(value);
      if (!Number.isInteger(parsed) || parsed < 0)
        throw new CliError(`--searches '${entry}': ${name} '${value}' is not a whole number`, 2);
      return parsed;
    };
    if (rest.length > 0 || !(searchMethods as readonly string[]).includes(method ?? "")) {
      throw new CliError(
        `--searches '${entry}': expected method/N[/m[/lookahead]] with method one of ${searchMethods.join(", ")}`,
        2,
      );
    }
    const spec: SearchSpec = {
      method: method as SearchSpec["method"],
      n: number(n, "N", Number.NaN),
      beamWidth: number(m, "m", 4),
      lookahead: number(lookahead, "lookahead", 0),
      ...(aggregation === undefined ? {} : { aggregation }),
    };
    return spec;
  });
}

/** Reads `--prm oracle,pqm=<checkpoint>,<checkpoint>` into named scorer specs. */
export function parsePrmList(text: string): Array<{ name: string; checkpoint: string | null }> {
  const entries = text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.length === 0) throw new CliError("--prm is empty", 2);
  const specs = entries.map((entry) => {
    if (entry === "oracle") return { name: "oracle", checkpoint: null };
    const at = entry.indexOf("=");
    if (at > 0) return { name: entry.slice(0, at), checkpoint: entry.slice(at + 1) };
    return { name: basename(resolve(entry)), checkpoint: entry };
  });
  const names = specs.map((spec) => spec.name);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined)
    throw new CliError(`--prm names '${repeated}' twice (name them: name=<checkpoint>)`, 2);
  return specs;
}

/** Options of {@link runSearchEval}. */
export interface SearchEvalOptions {
  questions: number;
  seeds: number[];
  prm: Array<{ name: string; checkpoint: string | null }>;
  searches: SearchSpec[];
  concurrency: number;
  out: string;
  progress: boolean;
  signal?: AbortSignal;
}

/** The target the issue sets: beam N=16 m=4 within 2 points of best-of-64 with the oracle, on fewer tokens. */
export interface SearchTarget {
  beam: string;
  bon: string;
  /** Accuracy difference beam - bon in points (paired over seeds), with its 95% interval. */
  differencePoints: MeanInterval;
  /** Generated tokens per question, beam / bon. */
  tokenRatio: number;
  /** Mean difference above -2 points and fewer tokens. */
  met: boolean;
}

/** `results.json` of `pqm search-eval`. */
export interface SearchEvalResults extends ArithEvaluation {
  scorers: Array<{ name: string; checkpoint: string | null }>;
  target: SearchTarget | null;
  seconds: number;
}

function findPoint(points: readonly ArithEvaluationPoint[], scorer: string, label: string) {
  return points.find((point) => point.scorer === scorer && point.label === label);
}

/** The target comparison, when both searches ran with the oracle. */
export function searchTarget(points: readonly ArithEvaluationPoint[]): SearchTarget | null {
  const beam = findPoint(points, "oracle", "beam N=16 m=4");
  const bon = findPoint(points, "oracle", "bon N=64");
  if (beam === undefined || bon === undefined) return null;
  const difference = accuracyDifference(beam, bon);
  const differencePoints = {
    mean: 100 * difference.mean,
    low: 100 * difference.low,
    high: 100 * difference.high,
    count: difference.count,
  };
  const tokenRatio = beam.meanGeneratedTokens.mean / bon.meanGeneratedTokens.mean;
  return {
    beam: beam.label,
    bon: bon.label,
    differencePoints,
    tokenRatio,
    met: differencePoints.mean >= -2 && tokenRatio < 1,
  };
}

const percent = (value: number) => (100 * value).toFixed(1);
const interval = (value: MeanInterval, scale = 100, digits = 1) =>
  value.count > 1
    ? `${(scale * value.mean).toFixed(digits)} [${(scale * value.low).toFixed(digits)}, ${(scale * value.high).toFixed(digits)}]`
    : (scale * value.mean).toFixed(digits);

/** The report's Markdown: one table per scorer, the target, and what each run cost. */
export function renderSearchEvalMarkdown(results: SearchEvalResults, plotFile: string): string {
  const lines = [
    "# PRM-guided search on arith: accuracy against generated tokens",
    "",
    `${results.questions} test questions per seed, seeds ${results.seeds.join(", ")}; means with 95% t-intervals over seeds. ` +
      "Tokens are generated words per question (the arith policy's token unit), every sample counted (pruned, lookahead).",
    "",
    `![accuracy against generated tokens](${plotFile})`,
    "",
  ];
  if (results.target !== null) {
    const t = results.target;
    lines.push(
      "## Target: beam N=16 m=4 against best-of-64, exact-Q oracle",
      "",
      `Accuracy difference (beam - bon, points): ${t.differencePoints.mean.toFixed(1)} [${t.differencePoints.low.toFixed(1)}, ${t.differencePoints.high.toFixed(1)}]; ` +
        `tokens beam / bon: ${t.tokenRatio.toFixed(3)}; target ${t.met ? "met" : "not met"}.`,
      "",
    );
  }
  for (const scorer of results.scorers) {
    lines.push(
      `## ${scorer.name}${scorer.checkpoint === null ? " (exact-Q oracle)" : ` (${scorer.checkpoint})`}`,
      "",
    );
    lines.push(
      "| search | accuracy % | tokens / question | policy calls / q | PRM calls / q | scored trajectories / q | chosen with a wrong step % |",
    );
    lines.push("|---|---|---|---|---|---|---|");
    for (const point of results.points.filter((p) => p.scorer === scorer.name)) {
      const mean = (pick: (run: ArithEvaluationRun) => number) =>
        (point.runs.reduce((sum, run) => sum + pick(run), 0) / point.runs.length).toFixed(1);
      lines.push(
        `| ${point.label} | ${interval(point.accuracy)} | ${interval(point.meanGeneratedTokens, 1, 0)} | ${mean((r) => r.compute.policyCalls)} | ` +
          `${mean((r) => r.compute.prmCalls)} | ${mean((r) => r.compute.scoredTrajectories)} | ${percent(
            point.runs.reduce((sum, run) => sum + run.chosenWithMistake, 0) / point.runs.length,
          )} |`,
      );
    }
    lines.push("");
  }
  lines.push(`${results.seconds.toFixed(0)} s in all.`, "");
  return lines.join("\n");
}

/** A Vega-Lite spec: accuracy against tokens per question (log axis), a line per method, a panel per scorer. */
export function budgetCurveSpec(points: readonly ArithEvaluationPoint[]): Record<string, unknown> {
  const rows = points.map((point) => ({
    scorer: point.scorer,
    series: `${point.method}${point.lookahead > 0 ? ` k=${point.lookahead}` : ""}${point.method === "bon" || point.method === "weighted-bon" ? "" : ` m=${point.beamWidth}`}`,
    label: point.label,
    tokens: point.meanGeneratedTokens.mean,
    accuracy: 100 * point.accuracy.mean,
    low: 100 * point.accuracy.low,
    high: 100 * point.accuracy.high,
  }));
  const x = {
    field: "tokens",
    type: "quantitative",
    title: "generated tokens per question",
    scale: { type: "log" },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    background: "white",
    data: { values: rows },
    facet: {
      field: "scorer",
      type: "nominal",
      title: "guided by",
      sort: [...new Set(points.map((point) => point.scorer))],
    },
    columns: 3,
    spec: {
      width: 300,
      height: 240,
      layer: [
        {
          mark: { type: "errorbar", opacity: 0.5 },
          encoding: {
            x,
            y: { field: "low", type: "quantitative", title: "accuracy (%)" },
            y2: { field: "high" },
            color: { field: "series", type: "nominal", title: "method" },
          },
        },
        {
          mark: { type: "line", point: true },
          encoding: {
            x,
            y: { field: "accuracy", type: "quantitative", title: "accuracy (%)", scale: { zero: false } },
            color: { field: "series", type: "nominal", title: "method" },
            order: { field: "tokens" },
            tooltip: [
              { field: "label" },
              { field: "accuracy", format: ".1f" },
              { field: "tokens", format: ".0f" },
            ],
          },
        },
      ],
    },
  };
}

/**
 * `pqm search-eval`: every search with every scorer on arith, over seeds; writes `results.json`,
 * `report.md` and the accuracy-against-budget plot (`accuracy-vs-tokens.svg/png`) to `out`, and
 * keeps each run's results file under `out/runs/` so an interrupted evaluation resumes.
 */
export async function runSearchEval(options: SearchEvalOptions): Promise<SearchEvalResults> {
  const log = (line: string) => {
    if (options.progress) process.stderr.write(`${line}\n`);
  };
  const started = performance.now();
  const loaded: ModelScorer[] = [];
  const scorers: EvaluationScorer[] = [];
  for (const prm of options.prm) {
    if (prm.checkpoint === null) {
      scorers.push(oracleScorer);
      continue;
    }
    const scorer = await loadModelScorer(prm.checkpoint, { log });
    loaded.push(scorer);
    // The model is deterministic: each distinct path is scored once over all searches and seeds
    // (the runs still count every path they asked for).
    const cached = new CachingScorer(scorer);
    scorers.push({ name: prm.name, make: () => cached });
  }
  await mkdir(join(options.out, "runs"), { recursive: true });
  try {
    const evaluation = await evaluateArithSearch({
      questions: options.questions,
      seeds: options.seeds,
      searches: options.searches,
      scorers,
      concurrency: options.concurrency,
      outDir: join(options.out, "runs"),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onRun: (run) =>
        log(
          `search-eval: ${run.scorer} ${run.label} seed ${run.seed}: accuracy ${percent(run.accuracy)}%, ` +
            `${run.meanGeneratedTokens.toFixed(0)} tokens/question, ${((performance.now() - started) / 1000).toFixed(0)} s`,
        ),
    });
    const results: SearchEvalResults = {
      ...evaluation,
      scorers: options.prm,
      target: searchTarget(evaluation.points),
      seconds: (performance.now() - started) / 1000,
    };
    await writeFile(join(options.out, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
    const svg = await renderSpecToSvg(
      budgetCurveSpec(evaluation.points) as unknown as Parameters<typeof renderSpecToSvg>[0],
    );
    await writeFile(join(options.out, "accuracy-vs-tokens.svg"), svg);
    await writeFile(join(options.out, "accuracy-vs-tokens.png"), svgToPng(svg));
    await writeFile(
      join(options.out, "report.md"),
      renderSearchEvalMarkdown(results, "accuracy-vs-tokens.png"),
    );
    return results;
  } finally {
    for (const scorer of loaded) scorer.dispose();
  }
}
