import type { LabeledTrajectory } from "@pqm/core";
import {
  createReadStats,
  detectLabeledFormat,
  formatJsonLine,
  type LabeledFormat,
  type ReadStats,
  readLabeledTrajectories,
  toMathShepherdRow,
  writeJsonl,
  writeMathShepherd,
} from "@pqm/data";
import { CliError } from "../../shared/cli-error.js";

/** Output formats of `pqm data convert`. */
export const convertTargets = ["math-shepherd", "trajectories"] as const;
export type ConvertTarget = (typeof convertTargets)[number];

/** Options of `pqm data convert`. */
export interface ConvertOptions {
  from?: LabeledFormat;
  to: ConvertTarget;
  strict?: boolean;
}

/** What `pqm data convert` did. */
export interface ConvertReport {
  input: string;
  output: string;
  from: LabeledFormat;
  to: ConvertTarget;
  written: number;
  /** Trajectories the target format cannot hold (a step containing the tag or a `Step N:` header), skipped. */
  unwritable: { count: number; examples: string[] };
  read: Pick<ReadStats, "seen" | "yielded" | "skipped" | "skippedByReason">;
}

/**
 * Converts any step-labeled file pqm reads (Math-Shepherd, soft labels, PRM800K, ProcessBench; JSONL,
 * JSON or Parquet) into Math-Shepherd JSONL (soft labels kept in `soft_label`) or pqm's trajectory JSONL
 * (one `LabeledTrajectory` object a line). The output is written to a temporary file and renamed, so a
 * failed conversion leaves no partial output.
 */
export async function convertLabeledFile(
  input: string,
  output: string,
  options: ConvertOptions,
): Promise<ConvertReport> {
  if (!(convertTargets as readonly string[]).includes(options.to)) {
    throw new CliError(
      `--to '${options.to}' is not an output format (known: ${convertTargets.join(", ")})`,
      2,
    );
  }
  const from = options.from ?? (await detectLabeledFormat(input));
  const stats = createReadStats();
  const trajectories: AsyncIterable<LabeledTrajectory> = readLabeledTrajectories(input, {
    format: from,
    stats,
    strict: options.strict ?? false,
  });
  const unwritable = { count: 0, examples: [] as string[] };
  const written =
    options.to === "math-shepherd"
      ? await writeMathShepherd(
          output,
          representable(trajectories, input, options.strict ?? false, unwritable),
        )
      : await writeJsonl(output, trajectories);
  return {
    input,
    output,
    from,
    to: options.to,
    written,
    unwritable,
    read: {
      seen: stats.seen,
      yielded: stats.yielded,
      skipped: stats.skipped,
      skippedByReason: stats.skippedByReason,
    },
  };
}

/**
 * Passes on the trajectories a Math-Shepherd row can hold and counts the others (a step that contains
 * the tag or a `Step N:` header would split differently when read back); with `strict` the first
 * such trajectory is an error naming its input position.
 */
async function* representable(
  trajectories: AsyncIterable<LabeledTrajectory>,
  input: string,
  strict: boolean,
  unwritable: { count: number; examples: string[] },
): AsyncGenerator<LabeledTrajectory> {
  let position = 0;
  for await (const trajectory of trajectories) {
    position += 1;
    try {
      toMathShepherdRow(trajectory, { file: input, line: position });
    } catch (error) {
      if (strict) throw error;
      unwritable.count += 1;
      if (unwritable.examples.length < 5) unwritable.examples.push((error as Error).message);
      continue;
    }
    yield trajectory;
  }
}

/** One trajectory as a line of pqm's trajectory JSONL (exported for symmetry with the writer). */
export function trajectoryLine(trajectory: LabeledTrajectory): string {
  return formatJsonLine(trajectory);
}
