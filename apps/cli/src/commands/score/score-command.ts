import type { Command } from "commander";
import { resumeCommand, typedArguments, withInterrupts } from "../../shared/interrupts.js";
import { BACKEND_OPTION_HELP, parseBackendOption } from "../../shared/option-parsers.js";
import {
  addPrmUrlOptions,
  checkPrmChoice,
  type PrmFlags,
  refusePrmApiKey,
  remotePrmOptions,
} from "../../shared/remote-scorer.js";
import { printJson } from "../../shared/terminal-output.js";

const scoreInterruptWording = {
  finishing: "finishing the question in flight; scored questions stay in the cache",
  lost: "scored questions stay in the cache",
};

/** Registers `pqm score`; its work (TF.js, @pqm/model) is imported only when it runs. */
export function registerScore(program: Command): void {
  const command = program
    .command("score")
    .description(
      "score every step of a candidate file with a model folder, or a PRM served by vLLM, into a pqm-scores/1 file",
    )
    .option(
      "--model <folder>",
      "a checkpoint folder of pqm train, or a published PRM's Hugging Face folder (see --convention)",
    )
    .requiredOption("--candidates <file>", "candidate file: [{question, responses: [{text, model_name}]}]")
    .requiredOption("--out <scores.jsonl>", "the scores file to write")
    .option("--cache-dir <folder>", "where scoring resumes from", ".pqm-cache")
    .option("--backend <name>", BACKEND_OPTION_HELP)
    .option(
      "--convention <name>",
      "scoring convention of the model (qwen2.5-math-prm, math-shepherd, ...); with --model, default: " +
        "detected from the folder; required with --prm-url",
    )
    .option("--backbone <folder>", "with --model and PQM's released state dict: the base model's folder");
  addPrmUrlOptions(command)
    .option("--no-progress", "no progress lines on stderr")
    .option("--json", "print what was written as JSON")
    .option("--overwrite", "replace an --out file that holds other scores (default: refuse)")
    .action(
      async (
        options: PrmFlags & {
          model?: string;
          convention?: string;
          backbone?: string;
          candidates: string;
          out: string;
          cacheDir: string;
          backend?: string;
          progress: boolean;
          json?: boolean;
          overwrite?: boolean;
        },
      ) => {
        refusePrmApiKey(options.prmApiKey);
        checkPrmChoice(
          { flag: "--model <folder>", given: options.model !== undefined },
          options.prmUrl,
          options.convention,
        );
        const backend = parseBackendOption(options.backend);
        const { runScore } = await import("./score.js");
        // SIGINT/SIGTERM: the question in flight is scored and kept in the cache, then it stops.
        const result = await withInterrupts(scoreInterruptWording, (interrupts) =>
          runScore({
            ...(options.prmUrl === undefined
              ? {
                  model: options.model!,
                  ...(options.convention === undefined ? {} : { convention: options.convention }),
                  ...(options.backbone === undefined ? {} : { backbone: options.backbone }),
                }
              : { prm: remotePrmOptions(options, options.convention!) }),
            candidates: options.candidates,
            out: options.out,
            cacheDir: options.cacheDir,
            ...(backend === undefined ? {} : { backend }),
            progress: options.progress && !options.json,
            signal: interrupts.signal,
            ...(options.overwrite === true ? { overwrite: true } : {}),
          }).catch(async (error: unknown) => {
            if (interrupts.received === undefined) throw error;
            const { isInterruptedError } = await import("@pqm/data");
            throw interrupts.error(
              isInterruptedError(error) ? error.kept : "nothing was scored yet",
              resumeCommand(["score"], typedArguments(1), { drop: ["--overwrite"] }),
            );
          }),
        );
        if (options.json) return printJson(result);
        console.log(
          `wrote ${result.steps} step scores of ${result.candidates} candidates (${result.questions} questions) ` +
            `by ${result.scorer} to ${result.out}${result.cached ? " (from the cache)" : ""}`,
        );
      },
    );
}
