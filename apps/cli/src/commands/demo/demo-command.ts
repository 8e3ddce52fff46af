import type { Command } from "commander";
import {
  BACKEND_OPTION_HELP,
  parseIntegerList,
  parseNumber,
  parsePositiveInteger,
} from "../../shared/option-parsers.js";
import type { DemoFlags } from "./run-demo-command.js";

/** Registers `pqm demo`, the toolkit's main job; its work (@pqm/pipeline) is imported only when it runs. */
export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(
      "the main job, offline: annotate arith problems by Monte-Carlo rollouts, train PQM and BCE models from scratch, best-of-n on held-out questions, report",
    )
    .option(
      "--seeds <k>",
      "repeat the whole pipeline with k seeds and report means with 95% intervals",
      parsePositiveInteger,
    )
    .option("--seed <number>", "seed of the first run", parseNumber)
    .option("--out <folder>", "results folder (default pqm-results/demo-<time>)")
    .option("--quick", "a scaled-down run (seconds; the numbers mean little)")
    .option(
      "--overwrite",
      "start over in an --out folder that holds a run (a rerun without it resumes the same settings, refuses others)",
    )
    .option("--backend <name>", BACKEND_OPTION_HELP)
    .option("--train-steps <number>", "optimizer steps of each model", parsePositiveInteger)
    .option("--train-questions <number>", "arith training questions", parsePositiveInteger)
    .option("--test-questions <number>", "held-out test questions", parsePositiveInteger)
    .option("--candidates <number>", "candidates sampled per test question", parsePositiveInteger)
    .option("--n <list>", "best-of-n sizes, comma-separated", parseIntegerList)
    .option("--zeta <number>", "the PQM margin", parseNumber)
    .option(
      "--search-n <list>",
      "search budgets N, comma-separated: beam search (width 4) against best-of-N at each, guided by each model and the exact-Q oracle",
      parseIntegerList,
    )
    .option("--no-search", "run no searches (best-of-n only)")
    .option("--json", "print the results object (as results.json) instead of the tables")
    .action(async (flags: DemoFlags) => {
      const { runDemoCommand } = await import("./run-demo-command.js");
      await runDemoCommand(flags);
    });
}
