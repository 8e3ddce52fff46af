import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { writeFileAtomic } from "../atomic-write.js";
import { DataFormatError } from "../errors.js";

/**
 * The settings an annotation output was written with, kept beside it as `<output>.run.json`, so that a
 * rerun with other settings (another `n`, search, seed or completer) never appends rows labelled another
 * way to the same file.
 */
export interface AnnotationRunSettings {
  completer: string;
  n: number;
  search: string;
  seed: number;
  earlyStop: boolean;
  batchSize: number;
  rolloutLastStep: boolean;
  allowPartial: boolean;
  sampling: Record<string, unknown>;
}

const FORMAT = "pqm-annotate-run/1";

/** The file that records an output's settings. */
export function annotationRunFile(output: string): string {
  return `${output}.run.json`;
}

/**
 * An annotation output holds rows of other settings than the run that would resume it.
 * `field` is the first setting that differs; `there` and `now` its two values.
 */
export class AnnotationRunMismatchError extends DataFormatError {
  readonly there: unknown;
  readonly now: unknown;

  constructor(file: string, field: string, there: unknown, now: unknown) {
    super(
      { file, field },
      `the output beside it was annotated with ${field} ${JSON.stringify(there)}, this run asks for ` +
        `${JSON.stringify(now)}; start over with overwrite (the CLI's --overwrite deletes the output, its ` +
        "failures file and this file), or choose another output",
    );
    this.name = "AnnotationRunMismatchError";
    this.there = there;
    this.now = now;
  }
}

/**
 * Checks `<output>.run.json` against `settings` before rows are resumed, and writes it when absent.
 * An output of an earlier version without the file is taken as written with these settings.
 * @throws AnnotationRunMismatchError naming the first setting that differs; DataFormatError for a
 *   run file that is not this format.
 */
export async function checkAnnotationRun(output: string, settings: AnnotationRunSettings): Promise<void> {
  const file = annotationRunFile(output);
  if (existsSync(file)) {
    let recorded: { format?: unknown; settings?: Record<string, unknown> };
    try {
      recorded = JSON.parse(await readFile(file, "utf8")) as typeof recorded;
    } catch (cause) {
      throw new DataFormatError({ file }, "not valid JSON", { cause });
    }
    if (recorded.format !== FORMAT || typeof recorded.settings !== "object" || recorded.settings === null)
      throw new DataFormatError({ file, field: "format" }, `expected ${FORMAT}`);
    for (const [field, now] of Object.entries(settings)) {
      const there = recorded.settings[field];
      if (JSON.stringify(there) !== JSON.stringify(now))
        throw new AnnotationRunMismatchError(file, field, there, now);
    }
    return;
  }
  await writeFileAtomic(file, `${JSON.stringify({ format: FORMAT, settings }, null, 2)}\n`);
}

/** Deletes an output, its failures file and its run file (a fresh start). */
export async function removeAnnotationRun(output: string, failuresOutput: string): Promise<void> {
  await Promise.all(
    [output, failuresOutput, annotationRunFile(output)].map((path) => rm(path, { force: true })),
  );
}
