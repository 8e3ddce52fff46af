import { type Command, Option } from "commander";
import { CliError } from "../../shared/cli-error.js";
import { Interrupts, resumeCommand, typedArguments } from "../../shared/interrupts.js";
import { parseChoice, parsePositiveInteger } from "../../shared/option-parsers.js";
import { describeSkipped } from "../../shared/skipped-rows.js";
import { formatTable, printJson } from "../../shared/terminal-output.js";

const inputFormats = [
  "math-shepherd",
  "soft-labels",
  "prm800k",
  "processbench",
  "trajectories",
  "candidates",
] as const;

/** Registers `pqm annotate`; its work is imported only when it runs. */
export function registerAnnotate(program: Command): void {
  program
    .command("annotate")
    .description(
      "Monte-Carlo process annotation (Math-Shepherd): label each step by rolling out completions from it",
    )
    .option("--input <file>", "step-labeled, trajectory or candidate file (format detected)")
    .option(
      "--arith <count>",
      "instead of --input: generate this many arith training questions",
      parsePositiveInteger,
    )
    .option("--samples <count>", "sampled solutions per --arith question", parsePositiveInteger, 4)
    .option("--arith-seed <number>", "seed of the arith environment", parsePositiveIntegerOrZero, 0)
    .option("--format <name>", `input format: ${inputFormats.join(", ")} (default: detected)`)
    .option(
      "--strict",
      "stop at the first malformed input row (naming line and field) instead of skipping it",
    )
    .option("--test <name|file>", "gold answers of a candidate file: math500, gsm-plus, gsm8k or a test file")
    .option("--domain <name>", "answer checker of a test file's questions: math or gsm", "math")
    .option("--data-dir <folder>", "local data folder for known test sets (default PQM_DATA_DIR)")
    .requiredOption("--output <labels.jsonl>", "labels JSONL, appended row by row; a rerun resumes")
    .option(
      "--overwrite",
      "start over: delete the output, its failures file and its run file first (a rerun with other settings is refused without it)",
    )
    .requiredOption(
      "--completer <spec>",
      "arith, or openai:<base-url>[,<base-url>...] (OpenAI-compatible servers)",
    )
    .option("--model <name>", "model name for an openai: completer")
    .option("--api <name>", "completions or chat (openai: completer)", "completions")
    .option("--n <count>", "rollouts per step prefix", parsePositiveInteger, 8)
    .option("--concurrency <count>", "completer calls in flight", parsePositiveInteger, 8)
    .option(
      "--early-stop",
      "stop a step's rollouts at the first success (hard labels exact, soft labels biased)",
    )
    .option(
      "--search <name>",
      "all (every step) or first-error (binary search for the first wrong step)",
      "all",
    )
    .option(
      "--api-key-env <NAME>",
      "environment variable holding the API key (default OPENAI_API_KEY when set)",
    )
    .option("--api-key-file <PATH>", "file holding the API key")
    .addOption(new Option("--api-key [key]").hideHelp())
    .option("--no-progress", "no progress bar or lines on stderr")
    .option("--json", "print the summary as JSON")
    .action(
      async (options: {
        input?: string;
        arith?: number;
        samples: number;
        arithSeed: number;
        format?: string;
        strict?: boolean;
        overwrite?: boolean;
        test?: string;
        domain: string;
        dataDir?: string;
        output: string;
        completer: string;
        model?: string;
        api: string;
        n: number;
        concurrency: number;
        earlyStop?: boolean;
        search: string;
        apiKeyEnv?: string;
        apiKeyFile?: string;
        apiKey?: string | boolean;
        progress: boolean;
        json?: boolean;
      }) => {
        if (options.apiKey !== undefined) {
          // Never echo the value: a key typed here is already in the shell history.
          throw new CliError(
            "--api-key is refused: a key on the command line leaks into shell history and process lists; " +
              "put it in an environment variable (--api-key-env NAME) or a file (--api-key-file PATH)",
            2,
          );
        }
        const { runAnnotate } = await import("./annotate.js");
        // SIGINT/SIGTERM: the rows in flight are abandoned (their completer calls aborted), finished
        // rows are already in the output, fsynced one by one.
        const interrupts = new Interrupts({
          finishing: "stopping the rows in flight; finished rows stay in the output",
          lost: "finished rows stay in the output",
        });
        let report: Awaited<ReturnType<typeof runAnnotate>>;
        try {
          report = await runAnnotate(
            {
              ...(options.input !== undefined ? { input: options.input } : {}),
              ...(options.arith !== undefined ? { arith: options.arith } : {}),
              samples: options.samples,
              arithSeed: options.arithSeed,
              ...(options.format !== undefined
                ? { format: parseChoice("--format", options.format, inputFormats) }
                : {}),
              ...(options.strict === true ? { strict: true } : {}),
              ...(options.overwrite === true ? { overwrite: true } : {}),
              ...(options.test !== undefined ? { test: options.test } : {}),
              domain: parseChoice("--domain", options.domain, ["math", "gsm"] as const),
              ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
              output: options.output,
              completer: options.completer,
              ...(options.model !== undefined ? { model: options.model } : {}),
              api: parseChoice("--api", options.api, ["completions", "chat"] as const),
              n: options.n,
              concurrency: options.concurrency,
              earlyStop: options.earlyStop ?? false,
              search: parseChoice("--search", options.search, ["all", "first-error"] as const),
              ...(options.apiKeyEnv !== undefined ? { apiKeyEnv: options.apiKeyEnv } : {}),
              ...(options.apiKeyFile !== undefined ? { apiKeyFile: options.apiKeyFile } : {}),
              progress: options.progress && !options.json,
            },
            interrupts.signal,
          );
        } finally {
          interrupts.close();
        }
        const summary = report.summary;
        if (options.json) printJson(report);
        else {
          console.log(`${report.input} -> ${report.output} (completer ${report.completer})`);
          const rows: string[][] = [
            ["rows", String(summary.totalRows)],
            ["resumed from the output", String(summary.resumedRows)],
            ["labeled now", String(summary.writtenRows)],
            ["failed", String(summary.failures.length)],
            ["left out (no gold answer)", String(report.skippedNoAnswer)],
            ...(report.skippedRows !== null
              ? [["skipped by the reader (malformed)", describeSkipped(report.skippedRows)]]
              : []),
            ["rollouts", String(summary.rollouts)],
            ["labeled steps", String(summary.labeledSteps)],
            ["rollouts per labeled step", summary.rolloutsPerLabeledStep.toFixed(2)],
            ["seconds", summary.seconds.toFixed(1)],
          ];
          if (report.exactAgreement) {
            const agreement = report.exactAgreement;
            rows.push([
              "agreement with exact labels",
              `${(100 * agreement.share).toFixed(1)}% of ${agreement.steps} steps (missed correct ${agreement.missedCorrect}, lucky wrong ${agreement.luckyWrong})`,
            ]);
          }
          console.log(formatTable(["what", "value"], rows));
        }
        if (summary.aborted) {
          const done = summary.resumedRows + summary.writtenRows;
          throw interrupts.error(
            `kept ${done} of ${summary.totalRows} rows in ${report.output} (${summary.writtenRows} labeled now)`,
            resumeCommand(["annotate"], typedArguments(1), { drop: ["--overwrite"] }),
          );
        }
        if (summary.failures.length > 0) {
          throw new CliError(
            `${summary.failures.length} rows failed (reasons in ${report.failuresFile}), e.g. ${summary.failures[0]!.reason}; rerun to retry them`,
          );
        }
      },
    );
}

function parsePositiveIntegerOrZero(value: string): number {
  return value === "0" ? 0 : parsePositiveInteger(value);
}
