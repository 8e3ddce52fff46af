import { Command, CommanderError } from "commander";
import { registerAnnotate } from "./commands/annotate/annotate-command.js";
import { registerData } from "./commands/data/data-command.js";
import { registerDemo } from "./commands/demo/demo-command.js";
import { registerEval } from "./commands/eval/eval-command.js";
import { registerExample } from "./commands/example/example-command.js";
import { registerExperiment } from "./commands/experiment/experiment-command.js";
import { registerExport } from "./commands/export/export-command.js";
import { registerScore } from "./commands/score/score-command.js";
import { registerSearch } from "./commands/search/search-command.js";
import { registerTrain } from "./commands/train/train-command.js";
import { CliError, describeCliFileSystemError, exitCodes } from "./shared/cli-error.js";

// The bin only parses, dispatches and turns errors into exit codes. Each command registers itself
// from its own file and imports its work when it runs, so `pqm --help` loads no TF.js and no data code.

// `pnpm pqm ...` (or `npm run pqm -- ...`) in a clone runs the repository's root script, whose
// working directory is the repository root; INIT_CWD is the folder the command was typed in, so
// going back there makes relative paths mean what the user meant.
const initCwd = process.env.INIT_CWD;
if (process.env.npm_lifecycle_event === "pqm" && process.env.npm_package_name === "pqm-monorepo" && initCwd) {
  process.chdir(initCwd);
}

const program = new Command();
program
  .name("pqm")
  .description("Process Q-value Models: annotate, train, score and evaluate process reward models")
  .version("0.1.0")
  .showHelpAfterError("(run pqm --help for usage)")
  .exitOverride();

// The commands that run TF.js keep its console banner and advice off the screen (their worker
// threads call quietTfjs themselves). Imported only for them, so other commands load no TF.js.
const tfjsCommands = new Set(["demo", "eval", "example", "experiment", "export", "score", "train"]);
program.hook("preAction", async (_program, actionCommand) => {
  let command = actionCommand;
  while (command.parent !== null && command.parent !== program) command = command.parent;
  if (tfjsCommands.has(command.name())) (await import("./shared/quiet-tfjs.js")).quietTfjs();
});

registerDemo(program);
registerExample(program);
registerExperiment(program);
registerExport(program);
registerData(program);
registerAnnotate(program);
registerEval(program);
registerScore(program);
registerSearch(program);
registerTrain(program);

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
    // File-system errors (ENOENT, EACCES, EROFS, ENOSPC...) all read the same way in every command.
    const message =
      (await describeCliFileSystemError(error)) ?? (error instanceof Error ? error.message : String(error));
    process.stderr.write(`pqm: ${message}\n`);
    if (process.env.PQM_DEBUG && error instanceof Error && error.stack)
      process.stderr.write(`${error.stack}\n`);
    return exitCodes.failure;
  }
}

process.exitCode = await main(process.argv);
