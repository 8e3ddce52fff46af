import type { Command } from "commander";
import { parseNumber } from "../../shared/option-parsers.js";
import { formatTable, printJson } from "../../shared/terminal-output.js";

/** Registers `pqm example`; its work is imported only when it runs. */
export function registerExample(program: Command): void {
  program
    .command("example")
    .description(
      "run the core's worked example (the loss test vectors): every loss as a TF.js op and as a plain reference",
    )
    .option("--zeta <number>", "PQM margin", parseNumber, 4)
    .option("--backend <name>", "TF.js backend (cpu, wasm or webgpu)", "cpu")
    .option("--json", "print the result object as JSON")
    .action(async (options: { zeta: number; backend: string; json?: boolean }) => {
      const { runExample } = await import("./example.js");
      const result = await runExample(options);
      if (options.json) return printJson(result);
      const format = (value: number) => value.toFixed(6);
      console.log(`Worked example on ${result.backend}, zeta = ${result.zeta}`);
      console.log(`scores ${JSON.stringify(result.scores)}  labels ${JSON.stringify(result.labels)}\n`);
      console.log(
        formatTable(
          ["loss", "tensor op", "reference", "|difference|"],
          result.losses.map((row) => [
            row.loss,
            format(row.tensor),
            format(row.reference),
            Math.abs(row.tensor - row.reference).toExponential(1),
          ]),
        ),
      );
      console.log();
      console.log(
        formatTable(
          ["aggregation", ...result.scores.map((_, b) => `solution ${b}`)],
          result.aggregations.map((row) => [row.name, ...row.solutionScores.map(format)]),
        ),
      );
      console.log();
      for (const row of result.ordering) {
        console.log(
          `trajectory ${row.trajectory}: Theorem 3.5 ordering ${row.holds ? "holds" : `breaks (${row.violations} violations)`}`,
        );
      }
    });
}
