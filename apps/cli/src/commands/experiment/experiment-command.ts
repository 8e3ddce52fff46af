import type { Command } from "commander";
import { parseChoice, parseIntegerList, parseNumber, parsePositiveInteger } from "../../options.js";
import { formatTable, printJson } from "../../output.js";
import { type DemoConfigFlags, demoConfigFromFlags } from "../demo/demo-config.js";

const names = ["zeta", "annotation", "sample-efficiency", "loss-variants"] as const;

interface ExperimentFlags extends DemoConfigFlags {
  out?: string;
  json?: boolean;
  backend?: string;
}

/** Registers `pqm experiment <name>`; its work is imported only when it runs. */
export function registerExperiment(program: Command): void {
  program
    .command("experiment")
    .description(
      "the paper's ablations in miniature on the arith environment: zeta (margin sweep), annotation (label noise: N rollouts vs exact), sample-efficiency, loss-variants",
    )
    .argument("<name>", names.join(" | "))
    .option("--out <folder>", "results folder (default pqm-results/experiment-<name>-<time>)")
    .option("--quick", "a scaled-down run (seconds; the numbers mean little)")
    .option("--seed <number>", "seed", parseNumber)
    .option("--backend <name>", "TF.js backend: wasm or cpu")
    .option("--train-steps <number>", "optimiser steps of each model", parsePositiveInteger)
    .option("--train-questions <number>", "arith training questions", parsePositiveInteger)
    .option("--test-questions <number>", "held-out test questions", parsePositiveInteger)
    .option("--candidates <number>", "candidates per test question", parsePositiveInteger)
    .option("--n <list>", "best-of-n sizes, comma-separated", parseIntegerList)
    .option("--json", "print the results object instead of the table")
    .action(async (name: string, flags: ExperimentFlags) => {
      const experiment = parseChoice("experiment", name, names);
      const { runExperiment, writeExperimentReport, experimentTable } = await import("./run-experiment.js");
      const config = demoConfigFromFlags(flags);
      const backend = flags.backend
        ? parseChoice("--backend", flags.backend, ["wasm", "cpu"] as const)
        : undefined;
      const out =
        flags.out ?? `pqm-results/experiment-${experiment}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      const results = await runExperiment({
        experiment,
        config,
        out,
        quick: flags.quick ?? false,
        command: `pqm ${process.argv.slice(2).join(" ")}`,
        ...(backend ? { backend } : {}),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const page = await writeExperimentReport(out, results);
      if (flags.json) return printJson(results);
      const table = experimentTable(results);
      console.log(formatTable(table.header, table.rows));
      console.log(`\nTook ${results.seconds.toFixed(0)} s. Report: ${page}`);
    });
}
