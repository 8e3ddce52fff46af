import type { Command } from "commander";
import { CliError } from "../../shared/cli-error.js";
import {
  BACKEND_OPTION_HELP,
  backendOptionToEnvironment,
  parseChoice,
  parseIntegerList,
  parsePositiveInteger,
} from "../../shared/option-parsers.js";
import { formatTable, printJson } from "../../shared/terminal-output.js";

/** A results folder name with the time, safe on every file system: `pqm-results/bon-2026-11-26T10-12-00`. */
export function defaultResultsFolder(kind: string, now = new Date()): string {
  return `pqm-results/${kind}-${now.toISOString().slice(0, 19).replace(/:/g, "-")}`;
}

function parseNonNegativeInteger(value: string): number {
  return value === "0" ? 0 : parsePositiveInteger(value);
}

/** Registers `pqm eval bon | processbench`; their work is imported only when they run. */
export function registerEval(program: Command): void {
  const evalCommand = program
    .command("eval")
    .description("evaluate a process reward model: best-of-n over candidates, ProcessBench");

  evalCommand
    .command("bon")
    .description("best-of-n accuracy of PRM scores on a candidate file, with baselines and a report")
    .requiredOption("--test <name|file>", "math500, gsm-plus, gsm8k, or a JSONL/JSON/Parquet test file")
    .requiredOption("--candidates <file>", "candidate file: [{question, responses: [{text, model_name}]}]")
    .option("--scores <file>", "pqm-scores/1 file for the candidate file")
    .option("--model <checkpoint>", "score the candidates with a checkpoint folder (pqm train writes them)")
    .option("--backend <name>", `with --model: ${BACKEND_OPTION_HELP}`)
    .hook("preAction", backendOptionToEnvironment)
    .option(
      "--n <list>",
      "subset sizes, e.g. 1,8,16 (default 1,8,16,32,64,128 up to the candidates)",
      parseIntegerList,
    )
    .option(
      "--aggregation <name>",
      "solution score from step scores: min (default), max, last, mean, prod-sigmoid, sum-log-sigmoid",
    )
    .option(
      "--protocol <name>",
      "reference (first n, one run) or subsets (mean over random subsets; default)",
    )
    .option(
      "--compat <name>",
      "reference: reproduce the reference code (protocol reference, min, Step N: split)",
    )
    .option(
      "--subsets <count>",
      "random subsets per question and n (subsets protocol)",
      parsePositiveInteger,
      100,
    )
    .option("--seed <number>", "seed of the subsets and the bootstrap", parseNonNegativeInteger, 0)
    .option("--bootstrap <count>", "bootstrap resamples for the intervals", parsePositiveInteger, 1000)
    .option("--domain <name>", "answer checker of a test file's questions: math or gsm", "math")
    .option(
      "--too-few-candidates <what>",
      "when an n exceeds a question's candidates: error (default) or exclude (leave it out of that n)",
      "error",
    )
    .option("--out <folder>", "results folder (default pqm-results/bon-<time>)")
    .option("--cache-dir <folder>", "cache of answer verdicts and model scores", ".pqm-cache")
    .option("--data-dir <folder>", "local data folder for known test sets (default PQM_DATA_DIR)")
    .option("--no-progress", "no progress lines on stderr")
    .option("--json", "print the results object (results.json) as JSON")
    .action(
      async (options: {
        test: string;
        candidates: string;
        scores?: string;
        model?: string;
        n?: number[];
        aggregation?: string;
        protocol?: string;
        compat?: string;
        subsets: number;
        seed: number;
        bootstrap: number;
        domain: string;
        tooFewCandidates: string;
        out?: string;
        cacheDir: string;
        dataDir?: string;
        progress: boolean;
        json?: boolean;
      }) => {
        const compat =
          options.compat === undefined ? undefined : parseChoice("--compat", options.compat, ["reference"]);
        // @pqm/core loads TF.js, so the list of aggregations is imported only when the command runs.
        const { aggregationNames } = await import("@pqm/core");
        const aggregation = parseChoice("--aggregation", options.aggregation ?? "min", aggregationNames);
        const protocol = parseChoice("--protocol", options.protocol ?? (compat ? "reference" : "subsets"), [
          "reference",
          "subsets",
        ] as const);
        if (compat === "reference" && (protocol !== "reference" || aggregation !== "min")) {
          throw new CliError(
            "--compat reference means --protocol reference --aggregation min; drop the others",
            2,
          );
        }
        const { runBestOfN } = await import("./best-of-n.js");
        const out = options.out ?? defaultResultsFolder("bon");
        const { results } = await runBestOfN({
          test: options.test,
          candidates: options.candidates,
          ...(options.scores !== undefined ? { scores: options.scores } : {}),
          ...(options.model !== undefined ? { model: options.model } : {}),
          ...(options.n !== undefined ? { ns: options.n } : {}),
          aggregation,
          protocol,
          subsets: options.subsets,
          seed: options.seed,
          bootstrapResamples: options.bootstrap,
          domain: parseChoice("--domain", options.domain, ["math", "gsm"] as const),
          out,
          cacheDir: options.cacheDir,
          ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
          stepSplit: compat === "reference" ? "reference" : "auto",
          progress: options.progress && !options.json,
          tooFewCandidates: parseChoice("--too-few-candidates", options.tooFewCandidates, [
            "error",
            "exclude",
          ] as const),
        });
        if (options.json) return printJson(results);
        const { bestOfNMethodLabel, bestOfNMethods } = await import("@pqm/eval");
        const { formatPercent } = await import("@pqm/eval/report");
        const bon = results.bestOfN!;
        const scoresWhat =
          bon.scoreLevel === "outcome"
            ? "outcome-level scores (step-level methods n/a)"
            : `aggregation ${bon.aggregation}`;
        console.log(
          `Best-of-n accuracy (%) on ${bon.questionCount} questions, ${bon.protocol} protocol, ${scoresWhat}`,
        );
        console.log(
          formatTable(
            ["method", ...bon.ns.map((n) => `n=${n}`)],
            bestOfNMethods.map((method) => [
              method,
              // null: not applicable to these scores (orm-last on outcome-level scores).
              ...(bon.methods[method]?.map((point) => formatPercent(point.mean)) ?? bon.ns.map(() => "n/a")),
            ]),
          ),
        );
        console.log(
          `\n${bestOfNMethods.map((method) => `${method}: ${bestOfNMethodLabel(method, bon.scoreLevel)}`).join("; ")}`,
        );
        console.log(`report: ${out}`);
      },
    );

  evalCommand
    .command("processbench")
    .description("ProcessBench: find each solution's first wrong step from PRM scores; F1 per subset")
    .option("--scores <file>", "pqm-scores/1 file over the ProcessBench items (see --export)")
    .option(
      "--model <folder>",
      "score the items with a checkpoint folder of pqm train, or a published PRM's Hugging Face folder",
    )
    .option("--backend <name>", `with --model: ${BACKEND_OPTION_HELP}`)
    .hook("preAction", backendOptionToEnvironment)
    .option("--convention <name>", "with --model: the published PRM's convention (default: detected)")
    .option("--backbone <folder>", "with --model and PQM's released state dict: the base model's folder")
    .option("--subsets <list>", "subsets, in the scores file's order", "gsm8k,math,olympiadbench,omnimath")
    .option(
      "--threshold <p|tune-on-subset>",
      "a step is wrong when sigmoid(score) < p (default 0.5), or tune-on-gsm8k: the threshold maximizing F1 on gsm8k, applied to all",
    )
    .option("--threshold-subset <name>", "same as --threshold tune-on-<name>")
    .option(
      "--data-dir <folder>",
      "local data folder holding processbench/<subset>.json (default PQM_DATA_DIR)",
    )
    .option("--export <file>", "only write the items as a candidate file to score, print its SHA-256")
    .option("--out <folder>", "results folder (default pqm-results/processbench-<time>)")
    .option("--cache-dir <folder>", "where the items' candidate file and model scores go", ".pqm-cache")
    .option("--no-progress", "no progress lines on stderr")
    .option("--json", "print the results object (results.json) as JSON")
    .action(
      async (options: {
        scores?: string;
        model?: string;
        convention?: string;
        backbone?: string;
        subsets: string;
        threshold?: string;
        thresholdSubset?: string;
        dataDir?: string;
        export?: string;
        out?: string;
        cacheDir: string;
        progress: boolean;
        json?: boolean;
      }) => {
        const subsets = options.subsets
          .split(",")
          .map((subset) => subset.trim())
          .filter((subset) => subset !== "");
        const { exportProcessBenchCandidates, parseProcessBenchThreshold, runProcessBench } = await import(
          "./processbench.js"
        );
        const common = {
          subsets,
          threshold: parseProcessBenchThreshold(options.threshold, options.thresholdSubset),
          ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
          progress: options.progress && !options.json,
        };
        if (options.export !== undefined) {
          const exported = await exportProcessBenchCandidates(options.export, common);
          if (options.json) return printJson(exported);
          console.log(`${exported.candidatesFile}`);
          console.log(`sha256 ${exported.candidatesSha256}`);
          console.log(
            `items ${Object.entries(exported.items)
              .map(([subset, count]) => `${subset} ${count}`)
              .join(", ")}`,
          );
          return;
        }
        const out = options.out ?? defaultResultsFolder("processbench");
        const result = await runProcessBench({
          ...common,
          ...(options.scores !== undefined ? { scores: options.scores } : {}),
          ...(options.model !== undefined ? { model: options.model } : {}),
          ...(options.convention !== undefined ? { convention: options.convention } : {}),
          ...(options.backbone !== undefined ? { backbone: options.backbone } : {}),
          cacheDir: options.cacheDir,
          out,
        });
        if (options.json) return printJson(result.results);
        const { formatNumber, formatPercent } = await import("@pqm/eval/report");
        const evaluation = result.results.processBench!;
        const protocol = evaluation.thresholdProtocol;
        console.log(
          protocol.kind === "fixed"
            ? `ProcessBench, fixed threshold: a step is wrong when sigmoid(score) < ${protocol.probability} (score < ${formatNumber(evaluation.threshold, 4)})`
            : `ProcessBench, threshold ${formatNumber(evaluation.threshold, 4)} chosen on ${evaluation.thresholdSubset}`,
        );
        console.log(
          formatTable(
            ["subset", "items", "error acc %", "correct acc %", "F1 %"],
            subsets.map((subset) => {
              const metrics = evaluation.subsets[subset]!;
              return [
                subset,
                String(metrics.errorCount + metrics.correctCount),
                formatPercent(metrics.errorAccuracy),
                formatPercent(metrics.correctAccuracy),
                formatPercent(metrics.f1),
              ];
            }),
          ),
        );
        console.log(`mean F1 % over the subsets: ${formatPercent(evaluation.meanF1)}`);
        if (protocol.kind === "tune") {
          console.log(
            `held-out mean F1 % (without ${protocol.subset}): ${formatPercent(evaluation.heldOutMeanF1)}`,
          );
        }
        console.log(`report: ${out}`);
      },
    );
}
