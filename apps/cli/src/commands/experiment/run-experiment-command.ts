import { experimentTable } from "@pqm/eval";
import { type ExperimentName, runExperiment } from "@pqm/pipeline";
import { withPipelineInterrupts } from "../../shared/interrupts.js";
import { parseBackendOption } from "../../shared/option-parsers.js";
import { PipelineProgressView } from "../../shared/pipeline-progress.js";
import { workerSetupModules } from "../../shared/pipeline-workers.js";
import { quietTfjs } from "../../shared/quiet-tfjs.js";
import { type DemoRecipeFlags, demoRecipeFromFlags } from "../../shared/recipe-flags.js";
import { formatTable, printJson } from "../../shared/terminal-output.js";

/** The flags of `pqm experiment`. */
export interface ExperimentFlags extends DemoRecipeFlags {
  out?: string;
  json?: boolean;
  backend?: string;
  overwrite?: boolean;
}

/**
 * `pqm experiment <name>`: runs @pqm/pipeline's experiment with the flags' recipe, its progress on
 * stderr, and prints its table (or, with `--json`, the results object that results.json also holds).
 */
export async function runExperimentCommand(
  experiment: ExperimentName,
  flags: ExperimentFlags,
): Promise<void> {
  const recipe = demoRecipeFromFlags(flags);
  const backend = parseBackendOption(flags.backend);
  const out =
    flags.out ?? `pqm-results/experiment-${experiment}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  quietTfjs();
  const progress = new PipelineProgressView({
    command: "experiment",
    experiment,
    trainSteps: recipe.trainSteps,
  });
  const { results, files } = await withPipelineInterrupts(["experiment"], out, (signal) =>
    runExperiment({
      experiment,
      recipe,
      out,
      quick: flags.quick ?? false,
      command: `pqm ${process.argv.slice(2).join(" ")}`,
      ...(backend ? { backend } : {}),
      workerSetup: workerSetupModules(),
      onProgress: progress.onProgress,
      signal,
      overwrite: flags.overwrite === true,
    }).finally(() => progress.close()),
  );
  if (flags.json) return printJson(results);
  const table = experimentTable(results);
  console.log(formatTable(table.header, table.rows));
  console.log(`\nTook ${results.seconds.toFixed(0)} s. Report: ${files?.html}`);
}
