import type { Command } from "commander";
import { parseChoice, parseIntegerList, parseNumber, parsePositiveInteger } from "../../options.js";
import { formatTable, printJson } from "../../output.js";
import { type DemoConfigFlags, demoConfigFromFlags } from "./demo-config.js";

interface DemoFlags extends DemoConfigFlags {
  out?: string;
  json?: boolean;
  backend?: string;
}

/** Registers `pqm demo`, the toolkit's main job; its work is imported only when it runs. */
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
    .option("--backend <name>", "TF.js backend: wasm or cpu (default: the fastest installed)")
    .option("--train-steps <number>", "optimiser steps of each model", parsePositiveInteger)
    .option("--train-questions <number>", "arith training questions", parsePositiveInteger)
    .option("--test-questions <number>", "held-out test questions", parsePositiveInteger)
    .option("--candidates <number>", "candidates sampled per test question", parsePositiveInteger)
    .option("--n <list>", "best-of-n sizes, comma-separated", parseIntegerList)
    .option("--zeta <number>", "the PQM margin", parseNumber)
    .option("--json", "print the results object (as results.json) instead of the tables")
    .action(async (flags: DemoFlags) => {
      const { runDemo } = await import("./run-demo-command.js");
      const { demoTables } = await import("./demo-report.js");
      const config = demoConfigFromFlags(flags);
      const backend = flags.backend
        ? parseChoice("--backend", flags.backend, ["wasm", "cpu"] as const)
        : undefined;
      const out = flags.out ?? `pqm-results/demo-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      const started = performance.now();
      const { results, files } = await runDemo({
        config,
        out,
        ...(backend ? { backend } : {}),
        command: `pqm ${process.argv.slice(2).join(" ")}`,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      if (flags.json) return printJson(results);
      for (const table of demoTables(results.summary, results.runs[0])) {
        console.log(`\n${table.title}`);
        console.log(formatTable(table.header, table.rows));
      }
      console.log(`\n${results.verdict}`);
      console.log(`Took ${((performance.now() - started) / 1000).toFixed(0)} s. Report: ${files.html}`);
    });
}
