import {
  createReadStats,
  detectLabeledFormat,
  type LabeledFormat,
  MATH_SHEPHERD_STEP_TAG,
  type ReadStats,
  readLabeledTrajectories,
} from "@pqm/data";

/** Options of `pqm data inspect`. */
export interface InspectOptions {
  format?: LabeledFormat;
  strict?: boolean;
}

/** Summary statistics of one numeric distribution. */
export interface Distribution {
  min: number;
  mean: number;
  median: number;
  max: number;
}

/** What `pqm data inspect` reports about a step-labeled file. */
export interface InspectReport {
  file: string;
  format: LabeledFormat;
  trajectories: number;
  steps: number;
  stepsPerSolution: Distribution | null;
  /** Share of steps labeled correct (hard labels). */
  correctStepShare: number | null;
  /** Share of trajectories with every step correct. */
  allCorrectShare: number | null;
  /** Trajectories whose labels go from wrong back to correct (not monotone). */
  nonMonotone: number;
  /** Trajectories with soft labels. */
  withSoftLabels: number;
  /** Steps that would not survive a step-tagged encoding: empty, or containing a tag or a `Step N:` header. */
  tagProblems: { emptySteps: number; stepsContainingTag: number; stepsContainingHeader: number };
  read: Pick<ReadStats, "seen" | "yielded" | "skipped" | "skippedByReason" | "examples">;
}

function distribution(values: number[]): Distribution | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return {
    min: sorted[0]!,
    mean: values.reduce((sum, value) => sum + value, 0) / values.length,
    median,
    max: sorted[sorted.length - 1]!,
  };
}

const stepHeader = /Step \d+:/;

/** Reads a step-labeled file (any format pqm knows) and summarizes it; skipped rows are counted by reason. */
export async function inspectLabeledFile(file: string, options: InspectOptions = {}): Promise<InspectReport> {
  const format = options.format ?? (await detectLabeledFormat(file));
  const stats = createReadStats();
  const lengths: number[] = [];
  let correct = 0;
  let allCorrect = 0;
  let nonMonotone = 0;
  let withSoftLabels = 0;
  const tagProblems = { emptySteps: 0, stepsContainingTag: 0, stepsContainingHeader: 0 };
  for await (const trajectory of readLabeledTrajectories(file, {
    format,
    stats,
    strict: options.strict ?? false,
  })) {
    lengths.push(trajectory.steps.length);
    let seenWrong = false;
    let monotone = true;
    for (const label of trajectory.hardLabels) {
      if (label === 1) {
        correct += 1;
        if (seenWrong) monotone = false;
      } else seenWrong = true;
    }
    if (!seenWrong) allCorrect += 1;
    if (!monotone) nonMonotone += 1;
    if (trajectory.softLabels) withSoftLabels += 1;
    for (const step of trajectory.steps) {
      if (step.trim() === "") tagProblems.emptySteps += 1;
      if (step.includes(MATH_SHEPHERD_STEP_TAG)) tagProblems.stepsContainingTag += 1;
      if (stepHeader.test(step)) tagProblems.stepsContainingHeader += 1;
    }
  }
  const steps = lengths.reduce((sum, value) => sum + value, 0);
  return {
    file,
    format,
    trajectories: lengths.length,
    steps,
    stepsPerSolution: distribution(lengths),
    correctStepShare: steps ? correct / steps : null,
    allCorrectShare: lengths.length ? allCorrect / lengths.length : null,
    nonMonotone,
    withSoftLabels,
    tagProblems,
    read: {
      seen: stats.seen,
      yielded: stats.yielded,
      skipped: stats.skipped,
      skippedByReason: stats.skippedByReason,
      examples: stats.examples,
    },
  };
}
