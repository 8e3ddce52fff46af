import type { Command } from "commander";
import { CliError, withFileRole } from "../../shared/cli-error.js";
import { resumeCommand, typedArguments, withInterrupts } from "../../shared/interrupts.js";
import { parsePositiveInteger } from "../../shared/option-parsers.js";
import { formatTable, printJson } from "../../shared/terminal-output.js";

/** Registers `pqm data inspect | convert | download`; their work is imported only when they run. */
export function registerData(program: Command): void {
  const data = program.command("data").description("read, inspect, convert and download data sets");

  data
    .command("inspect")
    .description(
      "summarize a step-labeled file: rows, steps per solution, label balance, tag problems, skips",
    )
    .argument("<file>", "Math-Shepherd, soft-label, PRM800K or ProcessBench file (JSONL, JSON or Parquet)")
    .option("--format <name>", "the input format (default: detected)")
    .option("--strict", "turn every row the reader would skip (and count) into an error naming its line")
    .option("--json", "print the report as JSON")
    .action(async (file: string, options: { format?: string; strict?: boolean; json?: boolean }) => {
      const { inspectLabeledFile } = await import("./inspect.js");
      const report = await withFileRole({ path: file, role: "the step-labeled file" }, () =>
        inspectLabeledFile(file, {
          ...(options.format ? { format: parseLabeledFormat(options.format) } : {}),
          strict: options.strict ?? false,
        }),
      );
      if (options.json) return printJson(report);
      const share = (value: number | null) => (value === null ? "-" : `${(100 * value).toFixed(1)}%`);
      const spread = report.stepsPerSolution;
      console.log(`${report.file} (${report.format})`);
      console.log(
        formatTable(
          ["what", "value"],
          [
            ["trajectories", String(report.trajectories)],
            ["steps", String(report.steps)],
            [
              "steps per solution",
              spread
                ? `min ${spread.min}, median ${spread.median}, mean ${spread.mean.toFixed(2)}, max ${spread.max}`
                : "-",
            ],
            ["steps labeled correct", share(report.correctStepShare)],
            ["solutions all correct", share(report.allCorrectShare)],
            ["labels not monotone", String(report.nonMonotone)],
            ["with soft labels", String(report.withSoftLabels)],
            ["empty steps", String(report.tagProblems.emptySteps)],
            ["steps containing the tag", String(report.tagProblems.stepsContainingTag)],
            ["steps containing 'Step N:'", String(report.tagProblems.stepsContainingHeader)],
            ["rows skipped", String(report.read.skipped)],
            ...Object.entries(report.read.skippedByReason).map(([reason, count]) => [
              `  skipped: ${reason}`,
              String(count),
            ]),
          ],
        ),
      );
    });

  data
    .command("convert")
    .description(
      "convert a step-labeled file (any format pqm reads, Parquet too) to Math-Shepherd or trajectory JSONL",
    )
    .argument("<input>", "input file")
    .argument("<output>", "output .jsonl file")
    .option("--from <format>", "the input format (default: detected)")
    .option("--to <format>", "math-shepherd or trajectories", "math-shepherd")
    .option("--strict", "turn every row the reader would skip (and count) into an error naming its line")
    .option("--json", "print the report as JSON")
    .action(
      async (
        input: string,
        output: string,
        options: { from?: string; to: string; strict?: boolean; json?: boolean },
      ) => {
        const { convertLabeledFile } = await import("./convert.js");
        const report = await withFileRole(
          [
            { path: input, role: "the input file" },
            { path: output, role: "the output file" },
          ],
          () =>
            convertLabeledFile(input, output, {
              ...(options.from ? { from: parseLabeledFormat(options.from) } : {}),
              to: options.to as "math-shepherd",
              strict: options.strict ?? false,
            }),
        );
        if (options.json) return printJson(report);
        const skipped = Object.entries(report.read.skippedByReason)
          .map(([reason, count]) => `${reason} ${count}`)
          .join(", ");
        console.log(
          `wrote ${report.written} trajectories (${report.from} -> ${report.to}) to ${report.output}` +
            (report.read.skipped ? `; skipped ${report.read.skipped} rows (${skipped})` : "") +
            (report.unwritable.count
              ? `; left out ${report.unwritable.count} trajectories the target cannot hold, e.g. ${report.unwritable.examples[0]}`
              : ""),
        );
      },
    );

  data
    .command("make-arith")
    .description(
      "write a best-of-n candidate file and its test file from the built-in arith environment (the docs' examples)",
    )
    .option("--candidates <file>", "candidate file to write (JSON list)", "arith-candidates.json")
    .option("--test <file>", "test file to write (JSONL; evaluate with --domain gsm)", "arith-test.jsonl")
    .option("--questions <count>", "test questions", parsePositiveInteger, 50)
    .option("--n <count>", "candidate solutions per question", parsePositiveInteger, 8)
    .option("--seed <number>", "seed of the environment", parseNonNegativeInteger, 0)
    .option("--json", "print what was written as JSON")
    .action(
      async (options: {
        candidates: string;
        test: string;
        questions: number;
        n: number;
        seed: number;
        json?: boolean;
      }) => {
        const { makeArithFiles } = await import("./make-arith.js");
        const report = await withFileRole(
          [
            { path: options.candidates, role: "the candidate file" },
            { path: options.test, role: "the test file" },
          ],
          () => makeArithFiles(options),
        );
        if (options.json) return printJson(report);
        console.log(
          `wrote ${report.questions} questions x ${report.n} candidates to ${report.candidates} ` +
            `and the test file ${report.test} (seed ${report.seed}; evaluate with --domain gsm)`,
        );
      },
    );

  data
    .command("download")
    .description(
      "download a known data set (math500, gsm8k, gsm-plus, math-shepherd, pqm-bon/...) or an hf:// file",
    )
    .argument("<name>", "a short name or hf://[datasets/]owner/name/path")
    .option("--cache-dir <folder>", "cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub)")
    .option("--no-progress", "no progress bar or lines, and no warnings, on stderr")
    .option("--json", "print the result as JSON")
    .action(async (name: string, options: { cacheDir?: string; progress: boolean; json?: boolean }) => {
      const { downloadData } = await import("./download.js");
      // SIGINT/SIGTERM: the partial file stays in the cache (`.incomplete`) and a rerun resumes it.
      const report = await withInterrupts(
        {
          finishing: "stopping the download; the bytes received stay in the cache",
          lost: "the bytes received stay in the cache",
        },
        (interrupts) =>
          downloadData(name, {
            progress: options.progress && !options.json,
            ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
            signal: interrupts.signal,
          }).catch(async (error: unknown) => {
            if (interrupts.received === undefined) throw error;
            const { isInterruptedError } = await import("@pqm/data");
            throw interrupts.error(
              isInterruptedError(error) ? error.kept : "no bytes were received yet",
              resumeCommand(["data", "download"], typedArguments(2)),
            );
          }),
      );
      if (options.json) return printJson(report);
      console.log(report.path);
    });
}

const labeledFormatNames = [
  "math-shepherd",
  "soft-labels",
  "prm800k",
  "processbench",
  "trajectories",
] as const;

function parseLabeledFormat(value: string): (typeof labeledFormatNames)[number] {
  const found = labeledFormatNames.find((name) => name === value);
  if (!found) throw new CliError(`unknown format '${value}' (known: ${labeledFormatNames.join(", ")})`, 2);
  return found;
}

function parseNonNegativeInteger(value: string): number {
  return value === "0" ? 0 : parsePositiveInteger(value);
}
