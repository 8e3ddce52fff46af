import type { Command } from "commander";
import { printJson } from "../../output.js";

/** Registers `pqm score`; its work is imported only when it runs. */
export function registerScore(program: Command): void {
  program
    .command("score")
    .description(
      "score every step of a candidate file with a checkpoint into a pqm-scores/1 file (not available yet)",
    )
    .requiredOption("--model <checkpoint>", "checkpoint folder of a process reward model")
    .requiredOption("--candidates <file>", "candidate file: [{question, responses: [{text, model_name}]}]")
    .requiredOption("--out <scores.jsonl>", "the scores file to write")
    .option("--cache-dir <folder>", "where scoring resumes from", ".pqm-cache")
    .option("--no-progress", "no progress lines on stderr")
    .option("--json", "print what was written as JSON")
    .action(
      async (options: {
        model: string;
        candidates: string;
        out: string;
        cacheDir: string;
        progress: boolean;
        json?: boolean;
      }) => {
        const { runScore } = await import("./score.js");
        const result = await runScore({ ...options, progress: options.progress && !options.json });
        if (options.json) return printJson(result);
        console.log(`wrote scores of ${result.questions} questions by ${result.scorer} to ${result.out}`);
      },
    );
}
