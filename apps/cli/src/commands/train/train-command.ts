import type { Command } from "commander";
import { Interrupts, resumeCommand as sharedResumeCommand, typedArguments } from "../../shared/interrupts.js";
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
  [
    "--backend",
    "<name>",
    "run.backend",
    "TF.js backend: wasm, cpu, webgpu, tensorflow, tensorflow-gpu (default: the fastest installed)",
  ],
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

/**
 * The command that continues an interrupted run (`argv`: the words after `pqm train`): the one typed,
 * without `--resume` (the rerun finds the latest checkpoint in the output folder itself) or `--overwrite`,
 * with `--out` when it was not given.
 */
export function resumeCommand(argv: readonly string[], outputDir: string): string {
  return sharedResumeCommand(["train"], argv, {
    dropWithValue: ["--resume"],
    drop: ["--overwrite"],
    ensure: [["--out", outputDir]],
  });
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
      // Before training starts (reading data, building the model) there is nothing to keep: a signal
      // ends the process at once. During training the step in flight finishes and is checkpointed.
      const interrupts = new Interrupts({
        before: "before training started",
        finishing: "finishing the step in flight and saving a checkpoint",
        lost: "the step in flight is lost, earlier checkpoints are kept",
      });
      let result: Awaited<ReturnType<typeof runTrain>>;
      try {
        result = await runTrain({
          ...(typeof options.config === "string" ? { configFile: options.config } : {}),
          flags,
          flagNames,
          ...(typeof options.resume === "string" ? { resume: options.resume } : {}),
          overwrite: options.overwrite === true,
          progress: options.progress !== false && !json,
          signal: interrupts.signal,
          onTrainingStart: () => interrupts.start(),
        });
      } finally {
        interrupts.close();
      }
      if (result.stoppedBy === "interrupted") {
        if (json) printJson(result);
        const kept =
          result.checkpoints.length > 0
            ? `kept ${result.checkpoint} (weights, optimizer state, data position) and ${result.metrics} (steps 1-${result.steps})`
            : result.resumedFromStep === null
              ? "no step was done: nothing to keep"
              : `no step was done: ${result.outputDir} is as it was, with step ${result.resumedFromStep} its latest checkpoint`;
        throw interrupts.error(
          kept,
          resumeCommand(typedArguments(1), result.outputDir),
          ` after step ${result.steps}`,
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
