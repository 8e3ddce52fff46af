import type { Command } from "commander";
import {
  BACKEND_OPTION_HELP,
  parseChoice,
  parseIntegerList,
  parseNumber,
  parsePositiveInteger,
} from "../../shared/option-parsers.js";
import type { ExperimentFlags } from "./run-experiment-command.js";

// The names of @pqm/pipeline's experiments, repeated here so that `pqm --help` loads no pipeline code.
const names = ["zeta", "annotation", "sample-efficiency", "loss-variants"] as const;

/** Registers `pqm experiment <name>`; its work (@pqm/pipeline) is imported only when it runs. */
export function registerExperiment(program: Command): void {
  program
    .command("experiment")
    .description(
      "the paper's ablations in miniature on the arith environment: zeta (margin sweep), annotation (label noise: N rollouts vs exact), sample-efficiency, loss-variants",
    )
    .argument("<name>", names.join(" | "))
    .option("--out <folder>", "results folder (default pqm-results/experiment-<name>-<time>)")
    .option("--quick", "a scaled-down run (seconds; the numbers mean little)")
    .option(
      "--overwrite",
      "start over in an --out folder that holds a run (a rerun without it resumes the same settings, refuses others)",
    )
    .option("--seed <number>", "seed", parseNumber)
    .option("--backend <name>", BACKEND_OPTION_HELP)
    .option("--train-steps <number>", "optimizer steps of each model", parsePositiveInteger)
    .option("--train-questions <number>", "arith training questions", parsePositiveInteger)
    .option("--test-questions <number>", "held-out test questions", parsePositiveInteger)
    .option("--candidates <number>", "candidates per test question", parsePositiveInteger)
    .option("--n <list>", "best-of-n sizes, comma-separated", parseIntegerList)
    .option("--json", "print the results object instead of the table")
    .action(async (name: string, flags: ExperimentFlags) => {
      const experiment = parseChoice("experiment", name, names);
      const { runExperimentCommand } = await import("./run-experiment-command.js");
      await runExperimentCommand(experiment, flags);
    });
}
