import type { Command } from "commander";
import { parseChoice } from "../../shared/option-parsers.js";
import { printJson } from "../../shared/terminal-output.js";

/** Registers `pqm score`; its work (TF.js, @pqm/model) is imported only when it runs. */
export function registerScore(program: Command): void {
  program
    .command("score")
    .description("score every step of a candidate file with a checkpoint into a pqm-scores/1 file")
    .requiredOption(
      "--model <checkpoint>",
      "checkpoint folder of a process reward model (pqm train writes them)",
    )
    .requiredOption("--candidates <file>", "candidate file: [{question, responses: [{text, model_name}]}]")
    .requiredOption("--out <scores.jsonl>", "the scores file to write")
    .option("--cache-dir <folder>", "where scoring resumes from", ".pqm-cache")
    .option(
      "--backend <name>",
      "TF.js backend: wasm, cpu, tensorflow, tensorflow-gpu (default: the fastest installed)",
    )
    .option("--no-progress", "no progress lines on stderr")
    .option("--json", "print what was written as JSON")
    .action(
      async (options: {
        model: string;
        candidates: string;
        out: string;
        cacheDir: string;
        backend?: string;
        progress: boolean;
        json?: boolean;
      }) => {
        const backend =
          options.backend === undefined
            ? undefined
            : parseChoice("--backend", options.backend, [
                "wasm",
                "cpu",
                "tensorflow",
                "tensorflow-gpu",
              ] as const);
        const { runScore } = await import("./score.js");
        const result = await runScore({
          model: options.model,
          candidates: options.candidates,
          out: options.out,
          cacheDir: options.cacheDir,
          ...(backend === undefined ? {} : { backend }),
          progress: options.progress && !options.json,
        });
        if (options.json) return printJson(result);
        console.log(
          `wrote ${result.steps} step scores of ${result.candidates} candidates (${result.questions} questions) ` +
            `by ${result.scorer} to ${result.out}${result.cached ? " (from the cache)" : ""}`,
        );
      },
    );
}
