import { Command, CommanderError, InvalidArgumentError } from "commander";
import { CliError, exitCodes } from "./cli-error.js";
import { formatTable, printJson } from "./output.js";

// The bin only parses, dispatches and turns errors into exit codes; each command lives in its own
// file under ./commands and is imported when it runs, so `pqm --help` loads no TF.js and no data code.

function parseNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new InvalidArgumentError(`'${value}' is not a number`);
  return parsed;
}

const program = new Command();
program
  .name("pqm")
  .description("Process Q-value Models: annotate, train, score and evaluate process reward models")
  .version("0.1.0")
  .showHelpAfterError("(run pqm --help for usage)")
  .exitOverride();

program
  .command("example")
  .description(
    "run the core's worked example (method.md 4.1): every loss as a TF.js op and as a plain reference",
  )
  .option("--zeta <number>", "PQM margin", parseNumber, 4)
  .option("--backend <name>", "TF.js backend (cpu or wasm)", "cpu")
  .option("--json", "print the result object as JSON")
  .action(async (options: { zeta: number; backend: string; json?: boolean }) => {
    const { runExample } = await import("./commands/example.js");
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

async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return exitCodes.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version output end in a CommanderError with exit code 0.
      return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    }
    if (error instanceof CliError) {
      process.stderr.write(`pqm: ${error.message}\n`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`pqm: ${message}\n`);
    if (process.env.PQM_DEBUG && error instanceof Error && error.stack)
      process.stderr.write(`${error.stack}\n`);
    return exitCodes.failure;
  }
}

process.exitCode = await main(process.argv);
