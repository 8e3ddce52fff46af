import { demoTables } from "@pqm/eval";
import { runDemo } from "@pqm/pipeline";
import { withPipelineInterrupts } from "../../shared/interrupts.js";
import { parseBackendOption } from "../../shared/option-parsers.js";
import { PipelineProgressView } from "../../shared/pipeline-progress.js";
import { workerSetupModules } from "../../shared/pipeline-workers.js";
import { quietTfjs } from "../../shared/quiet-tfjs.js";
import { type DemoRecipeFlags, demoRecipeFromFlags } from "../../shared/recipe-flags.js";
import { formatTable, printJson } from "../../shared/terminal-output.js";

/** The flags of `pqm demo`. */
export interface DemoFlags extends DemoRecipeFlags {
  out?: string;
  json?: boolean;
  backend?: string;
  overwrite?: boolean;
}

/**
 * `pqm demo`: runs @pqm/pipeline's demo with the flags' recipe, its progress on stderr, and prints the
 * tables and the verdict (or, with `--json`, the results object that results.json also holds).
 */
export async function runDemoCommand(flags: DemoFlags): Promise<void> {
  const recipe = demoRecipeFromFlags(flags);
  const backend = parseBackendOption(flags.backend);
  const out = flags.out ?? `pqm-results/demo-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  quietTfjs();
  const started = performance.now();
  const progress = new PipelineProgressView({ command: "demo" });
  const { results, files } = await withPipelineInterrupts(["demo"], out, (signal) =>
    runDemo({
      recipe,
      out,
      ...(backend ? { backend } : {}),
      command: `pqm ${process.argv.slice(2).join(" ")}`,
      workerSetup: workerSetupModules(),
      onProgress: progress.onProgress,
      signal,
      overwrite: flags.overwrite === true,
    }).finally(() => progress.close()),
  );
  if (flags.json) return printJson(results);
  for (const table of demoTables(results.summary, results.runs[0])) {
    console.log(`\n${table.title}`);
    console.log(formatTable(table.header, table.rows));
  }
  console.log(`\n${results.verdict}`);
  console.log(`Took ${((performance.now() - started) / 1000).toFixed(0)} s. Report: ${files?.html}`);
}
