import type { CurvePoint, DemoSearchSummary, DemoSummary, SummaryValue } from "@pqm/eval";
import type { DemoSeedResult } from "./demo-evaluation.js";

const share: [number, number] = [0, 1];
// Times and token counts cannot be negative.
const seconds: [number, number] = [0, Number.POSITIVE_INFINITY];

// Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom; 1.96 beyond.
const tQuantiles = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/**
 * Mean and 95% t-interval of per-seed values; with one value, its own interval when given. The
 * interval is clipped to `bounds` (accuracies and shares cannot leave [0, 1], times cannot be negative).
 * Non-finite values are left out.
 */
export function overSeeds(
  values: readonly number[],
  single?: { low: number; high: number },
  bounds: [number, number] = [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY],
): SummaryValue {
  const finite = values.filter(Number.isFinite);
  const count = finite.length;
  if (count === 0) return { mean: Number.NaN, low: Number.NaN, high: Number.NaN, interval: "none" };
  const mean = finite.reduce((sum, value) => sum + value, 0) / count;
  if (count === 1) {
    return single
      ? { mean, low: single.low, high: single.high, interval: "bootstrap over questions" }
      : { mean, low: mean, high: mean, interval: "none" };
  }
  const variance = finite.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (count - 1);
  const half = (tQuantiles[count - 2] ?? 1.96) * Math.sqrt(variance / count);
  return {
    mean,
    low: Math.max(bounds[0], mean - half),
    high: Math.min(bounds[1], mean + half),
    interval: "t over seeds",
  };
}

function curve(runs: readonly CurvePoint[][], ns: readonly number[]): SummaryValue[] {
  return ns.map((n) => {
    const points = runs.map((points) => points.find((point) => point.n === n));
    const values = points.map((point) => point?.mean ?? Number.NaN);
    const only = points.length === 1 ? points[0] : undefined;
    return overSeeds(values, only ? { low: only.low, high: only.high } : undefined, share);
  });
}

/** Combines the seeds' results into means and intervals. */
export function summarizeDemo(runs: readonly DemoSeedResult[], ns: readonly number[]): DemoSummary {
  const pqmCurves = runs.map((run) => run.models.pqm.bestOfN);
  const bceCurves = runs.map((run) => run.models.bce.bestOfN);
  // AUROC, shares and Spearman's rho all live in [-1, 1] at most; AUROC and shares in [0, 1].
  const pair = (pick: (model: DemoSeedResult["models"]["pqm"]) => number | null, bounds = share) => ({
    pqm: overSeeds(
      runs.map((run) => pick(run.models.pqm) ?? Number.NaN),
      undefined,
      bounds,
    ),
    bce: overSeeds(
      runs.map((run) => pick(run.models.bce) ?? Number.NaN),
      undefined,
      bounds,
    ),
  });
  const stageNames = [...new Set(runs.flatMap((run) => run.stages.map((stage) => stage.stage)))];
  return {
    seeds: runs.length,
    ns: [...ns],
    bestOfN: {
      pqm: curve(pqmCurves, ns),
      bce: curve(bceCurves, ns),
      pqmWeighted: curve(
        runs.map((run) => run.models.pqm.weightedVote),
        ns,
      ),
      bceWeighted: curve(
        runs.map((run) => run.models.bce.weightedVote),
        ns,
      ),
      majority: curve(
        runs.map((run) => run.baselines.majority),
        ns,
      ),
      random: curve(
        runs.map((run) => run.baselines.random),
        ns,
      ),
      pass: curve(
        runs.map((run) => run.baselines.pass),
        ns,
      ),
    },
    pqmMinusBce: ns.map((n) =>
      overSeeds(
        runs.map((run) => {
          const pqm = run.models.pqm.bestOfN.find((point) => point.n === n)?.mean ?? Number.NaN;
          const bce = run.models.bce.bestOfN.find((point) => point.n === n)?.mean ?? Number.NaN;
          return pqm - bce;
        }),
      ),
    ),
    step: {
      stepAuroc: pair((model) => model.stepLabels.auroc),
      spearman: pair((model) => model.qValues.spearmanPooled, [-1, 1]),
      orderingShare: pair((model) => model.qValues.orderingShare),
      validationAuroc: pair((model) => model.validationAuroc),
    },
    labelQuality: {
      hardLabelAccuracy: overSeeds(
        runs.map((run) => run.corpus.hardLabelAccuracy),
        undefined,
        share,
      ),
      softLabelMae: overSeeds(
        runs.map((run) => run.corpus.softLabelMae),
        undefined,
        share,
      ),
    },
    policyAccuracy: overSeeds(
      runs.map((run) => run.test.policyAccuracy),
      undefined,
      share,
    ),
    stageSeconds: Object.fromEntries(
      stageNames.map((name) => [
        name,
        overSeeds(
          runs.map((run) => run.stages.find((stage) => stage.stage === name)?.seconds ?? Number.NaN),
          undefined,
          seconds,
        ),
      ]),
    ),
    totalSeconds: overSeeds(
      runs.map((run) => run.stages.reduce((sum, stage) => sum + stage.seconds, 0)),
      undefined,
      seconds,
    ),
    ...searchSummary(runs),
  };
}

/** Search against best-of-N over the seeds that searched; nothing when none did. */
function searchSummary(runs: readonly DemoSeedResult[]): { search?: DemoSearchSummary } {
  const searched = runs.flatMap((run) => (run.search ? [run.search] : []));
  const first = searched[0];
  if (first === undefined) return {};
  const ns = [...new Set(first.points.map((point) => point.n))].sort((a, b) => a - b);
  const scorers = [...new Set(first.points.map((point) => point.scorer))];
  const methods = [...new Set(first.points.map((point) => point.method))];
  const value = (scorer: string, method: string, n: number, pick: (point: DemoSearchPointLike) => number) =>
    searched.map((search) => {
      const point = search.points.find((p) => p.scorer === scorer && p.method === method && p.n === n);
      return point === undefined ? Number.NaN : pick(point);
    });
  return {
    search: {
      questions: first.questions,
      beamWidth: first.beamWidth,
      ns,
      rows: scorers.flatMap((scorer) =>
        methods.map((method) => ({
          scorer,
          method,
          accuracy: ns.map((n) =>
            overSeeds(
              value(scorer, method, n, (p) => p.accuracy),
              undefined,
              share,
            ),
          ),
          generatedTokens: ns.map((n) =>
            overSeeds(
              value(scorer, method, n, (p) => p.meanGeneratedTokens),
              undefined,
              seconds,
            ),
          ),
        })),
      ),
      beamMinusBon: scorers.map((scorer) => ({
        scorer,
        difference: ns.map((n) => {
          const beam = value(scorer, "beam", n, (p) => p.accuracy);
          const bon = value(scorer, "bon", n, (p) => p.accuracy);
          return overSeeds(beam.map((b, index) => b - (bon[index] ?? Number.NaN)));
        }),
      })),
    },
  };
}

type DemoSearchPointLike = { accuracy: number; meanGeneratedTokens: number };

/** One sentence: did PQM beat BCE at the largest n, by how much, with what interval. */
export function demoVerdict(summary: DemoSummary): string {
  const last = summary.ns.length - 1;
  const n = summary.ns[last];
  const difference = summary.pqmMinusBce[last];
  if (difference === undefined || !Number.isFinite(difference.mean)) return "No comparison could be made.";
  const points = (value: number) => `${(100 * value).toFixed(1)} points`;
  const interval =
    difference.interval === "none"
      ? " (one seed: run with --seeds 3 or more for an interval)"
      : ` (95% interval ${(100 * difference.low).toFixed(1)} to ${(100 * difference.high).toFixed(1)} over ${summary.seeds} seeds)`;
  if (difference.mean > 0) return `PQM beat BCE at best-of-${n} by ${points(difference.mean)}${interval}.`;
  if (difference.mean < 0)
    return `PQM did not beat BCE at best-of-${n}: it was ${points(-difference.mean)} lower${interval}.`;
  return `PQM and BCE tied at best-of-${n}${interval}.`;
}
