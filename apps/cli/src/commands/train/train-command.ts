import type { Command } from "commander";
import { CliError } from "../../shared/cli-error.js";
import { parseNumber } from "../../shared/option-parsers.js";
import { printJson } from "../../shared/terminal-output.js";

/** Each flag of `pqm train` that sets a config field: flag, its value name, the dotted field, help. */
const fieldFlags = [
  [
    "--train",
    "<file>",
    "data.train",
    "labeled training file (Math-Shepherd, soft labels, PRM800K, trajectories)",
  ],
  [
    "--validation",
    "<file>",
    "data.validation",
    "labeled validation file (default: hold out training questions)",
  ],
  [
    "--max-skipped-share",
    "<share>",
    "data.maxSkippedShare",
    "largest share of a data file's rows that may be skipped (counted) before training refuses it (default 0.01)",
  ],
  [
    "--backbone",
    "<source>",
    "model.backbone",
    "model folder, hf://owner/name[@rev], or preset:tiny|small|medium|large",
  ],
  [
    "--template",
    "<name>",
    "encoding.template",
    "prompt template (default plain from a preset, else pqm-alpaca)",
  ],
  ["--max-length", "<tokens>", "encoding.maxLength", "longest row in tokens"],
  ["--loss", "<name>", "training.loss", "pqm, pqm-paper, pqm-theory, pqm-ablation, bce, mse or orm"],
  ["--zeta", "<margin>", "training.zeta", "PQM margin zeta"],
  ["--labels", "<kind>", "training.labels", "hard or soft (soft: bce/mse only)"],
  ["--lr", "<rate>", "training.learningRate", "peak learning rate"],
  ["--steps", "<count>", "training.maxSteps", "optimizer steps of the whole run (wins over --epochs)"],
  ["--epochs", "<count>", "training.epochs", "passes over the training rows"],
  ["--batch-size", "<rows>", "training.batchSize", "rows per batch (default: length buckets 64/24/8)"],
  ["--seed", "<number>", "training.seed", "seed of shuffling, dropout and the validation split"],
  ["--eval-every", "<steps>", "training.evalEvery", "validate every N steps (and at the end)"],
  ["--out", "<folder>", "output.dir", "output folder (default pqm-runs/train-<time>)"],
  [
    "--checkpoint-every",
    "<steps>",
    "output.checkpointEvery",
    "save a checkpoint every N steps (and at the end)",
  ],
  ["--time-budget", "<seconds>", "run.timeBudgetSeconds", "stop (and checkpoint) after this many seconds"],
  ["--backend", "<name>", "run.backend", "TF.js backend: wasm, cpu (default: the fastest installed)"],
] as const;

/** Fields whose flag value is a number (commander parses them; the schema checks their range). */
const numericFields = new Set<string>([
  "data.maxSkippedShare",
  "encoding.maxLength",
  "training.zeta",
  "training.learningRate",
  "training.maxSteps",
  "training.epochs",
  "training.batchSize",
  "training.seed",
  "training.evalEvery",
  "output.checkpointEvery",
  "run.timeBudgetSeconds",
]);

/** Commander's option key of a flag: `--batch-size` -> `batchSize`. */
function optionKey(flag: string): string {
  return flag.slice(2).replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** A word for the shell: as is when plain, else single-quoted. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that continues an interrupted run (`argv`: the words after `pqm train`): the one typed,
 * without `--resume` (the rerun finds the latest checkpoint in the output folder itself) or `--overwrite`,
 * with `--out` when it was not given.
 */
export function resumeCommand(argv: readonly string[], outputDir: string): string {
  const kept: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index] as string;
    if (word === "--resume") {
      index++;
      continue;
    }
    if (word.startsWith("--resume=") || word === "--overwrite") continue;
    kept.push(word);
  }
  if (!kept.some((word) => word === "--out" || word.startsWith("--out="))) kept.push("--out", outputDir);
  return ["pqm", "train", ...kept].map(shellWord).join(" ");
}

/**
 * Ctrl-C (SIGINT) and SIGTERM while `pqm train` runs. Before training starts there is nothing to keep:
 * the process ends at once. During training the first one aborts `signal` (the step in flight finishes
 * and is checkpointed); a second one ends the process at once, keeping the checkpoints already written.
 */
class TrainInterrupts {
  readonly controller = new AbortController();
  received: NodeJS.Signals | undefined;
  training = false;
  private readonly handler = (signal: NodeJS.Signals) => this.onSignal(signal);

  constructor() {
    process.on("SIGINT", this.handler);
    process.on("SIGTERM", this.handler);
  }

  static exitCode(signal: NodeJS.Signals): number {
    return signal === "SIGTERM" ? 143 : 130;
  }

  close(): void {
    process.off("SIGINT", this.handler);
    process.off("SIGTERM", this.handler);
  }

  private onSignal(signal: NodeJS.Signals): void {
    if (!this.training) {
      process.stderr.write(`pqm: ${signal} before training started: nothing to keep\n`);
      process.exit(TrainInterrupts.exitCode(signal));
    }
    if (this.received !== undefined) {
      process.stderr.write(
        `pqm: ${signal} again: stopping at once; the step in flight is lost, earlier checkpoints are kept\n`,
      );
      process.exit(TrainInterrupts.exitCode(signal));
    }
    this.received = signal;
    process.stderr.write(
      `\npqm: ${signal}: finishing the step in flight and saving a checkpoint (send it again to stop at once)\n`,
    );
    this.controller.abort();
  }
}

/** Registers `pqm train`; its work (TF.js, @pqm/model) is imported only when it runs. */
export function registerTrain(program: Command): void {
  const command = program
    .command("train")
    .description("train a process reward model (PQM or a baseline loss) and write checkpoints")
    .option("--config <file>", "YAML or JSON config file (defaults < file < flags)");
  for (const [flag, value, field, help] of fieldFlags) {
    const description = `${help} [${field}]`;
    if (numericFields.has(field)) command.option(`${flag} ${value}`, description, parseNumber);
    else command.option(`${flag} ${value}`, description);
  }
  command
    .option(
      "--strict",
      "turn every row the data reader would skip into an error naming its line [data.strict]",
    )
    .option(
      "--resume <checkpoint>",
      "continue from this checkpoint's model and training state (without it, a rerun into an --out folder that holds a run continues from its latest checkpoint)",
    )
    .option(
      "--overwrite",
      "start over in an --out folder that holds a run (deletes its checkpoints and metrics)",
    )
    .option("--no-progress", "no progress lines on stderr")
    .option("--json", "print the summary as JSON")
    .action(async (options: Record<string, unknown>) => {
      const flags: Record<string, Record<string, unknown>> = {};
      const flagNames: Record<string, string> = {};
      for (const [flag, , field] of fieldFlags) {
        const value = options[optionKey(flag)];
        if (value === undefined) continue;
        const [section = "", name = ""] = field.split(".");
        flags[section] = { ...flags[section], [name]: value };
        flagNames[field] = flag;
      }
      if (options.strict === true) {
        flags.data = { ...flags.data, strict: true };
        flagNames["data.strict"] = "--strict";
      }
      const json = options.json === true;
      const { runTrain } = await import("./train.js");
      const interrupts = new TrainInterrupts();
      let result: Awaited<ReturnType<typeof runTrain>>;
      try {
        result = await runTrain({
          ...(typeof options.config === "string" ? { configFile: options.config } : {}),
          flags,
          flagNames,
          ...(typeof options.resume === "string" ? { resume: options.resume } : {}),
          overwrite: options.overwrite === true,
          progress: options.progress !== false && !json,
          signal: interrupts.controller.signal,
          onTrainingStart: () => {
            interrupts.training = true;
          },
        });
      } finally {
        interrupts.close();
      }
      if (result.stoppedBy === "interrupted") {
        if (json) printJson(result);
        const signal = interrupts.received ?? "SIGINT";
        const kept =
          result.checkpoints.length > 0
            ? `kept ${result.checkpoint} (weights, optimizer state, data position) and ${result.metrics} (steps 1-${result.steps})`
            : result.resumedFromStep === null
              ? "no step was done: nothing to keep"
              : `no step was done: ${result.outputDir} is as it was, with step ${result.resumedFromStep} its latest checkpoint`;
        const command = resumeCommand(process.argv.slice(3), result.outputDir);
        throw new CliError(
          `interrupted by ${signal} after step ${result.steps}: ${kept}; resume with: ${command}`,
          TrainInterrupts.exitCode(signal),
        );
      }
      if (json) return printJson(result);
      const resumed = result.resumedFromStep === null ? "" : ` (resumed at step ${result.resumedFromStep})`;
      console.log(
        `trained ${result.steps} step${result.steps === 1 ? "" : "s"}${resumed}, stopped by ${result.stoppedBy}, in ` +
          `${result.elapsedSeconds.toFixed(1)} s at ${Math.round(result.tokensPerSecond)} tokens/s on ${result.backend}`,
      );
      const validation = result.validation;
      console.log(
        validation === null
          ? "validation: none (no validation rows)"
          : `validation: loss ${validation.loss.toFixed(4)}, step AUROC ${Number.isNaN(validation.auroc) ? "n/a (one class)" : validation.auroc.toFixed(3)} over ${validation.steps} steps`,
      );
      const { describeSkipped } = await import("../../shared/skipped-rows.js");
      const skipped = [result.data.skipped.train, result.data.skipped.validation].filter(
        (counts) => counts !== null,
      );
      console.log(`data: ${skipped.map(describeSkipped).join("; validation: ")}`);
      console.log(`checkpoint: ${result.checkpoint ?? "none written"}`);
      console.log(`metrics: ${result.metrics}`);
    });
}
