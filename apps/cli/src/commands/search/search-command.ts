import { type Command, Option } from "commander";
import { CliError } from "../../shared/cli-error.js";
import { Interrupts, resumeCommand, typedArguments } from "../../shared/interrupts.js";
import {
  BACKEND_OPTION_HELP,
  backendOptionToEnvironment,
  parseChoice,
  parseNumber,
  parsePositiveInteger,
} from "../../shared/option-parsers.js";
import {
  addPrmUrlOptions,
  checkPrmChoice,
  type PrmFlags,
  refusePrmApiKey,
  remotePrmOptions,
} from "../../shared/remote-scorer.js";
import { formatTable, printJson } from "../../shared/terminal-output.js";

const methods = ["bon", "weighted-bon", "beam", "dvts", "mcts"] as const;
const aggregations = ["last", "min", "prod"] as const;

function parseNonNegativeInteger(value: string): number {
  return value === "0" ? 0 : parsePositiveInteger(value);
}

function parseUrls(value: string): string[] {
  return value
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url !== "");
}

/** Refuses a key typed on the command line without echoing it. */
function refuseApiKey(apiKey: unknown): void {
  if (apiKey !== undefined) {
    throw new CliError(
      "--api-key is refused: a key on the command line leaks into shell history and process lists; " +
        "put it in an environment variable (--api-key-env NAME) or a file (--api-key-file PATH)",
      2,
    );
  }
}

/**
 * Runs `work` with SIGINT/SIGTERM handled (shared/interrupts.ts): the questions in flight are
 * abandoned, finished ones stay in the results file, and the command ends with exit 130/143 naming
 * what was kept and the command that resumes (`command`: `search` or `search-eval`).
 */
async function withInterrupt<T>(
  command: string,
  work: (signal: AbortSignal) => Promise<T>,
  describe: (kept: string) => string = (kept) => kept,
): Promise<T> {
  const interrupts = new Interrupts({
    finishing: "stopping the questions in flight; finished questions stay in the results",
    lost: "finished questions stay in the results",
  });
  try {
    return await work(interrupts.signal);
  } catch (error) {
    if (interrupts.received === undefined) throw error;
    const { isInterruptedError } = await import("@pqm/data");
    throw interrupts.error(
      describe(isInterruptedError(error) ? error.kept : "nothing was finished"),
      resumeCommand([command], typedArguments(1), { drop: ["--overwrite"] }),
    );
  } finally {
    interrupts.close();
  }
}

/** Registers `pqm search` and `pqm search-eval`; their work is imported only when they run. */
export function registerSearch(program: Command): void {
  const search = program
    .command("search")
    .description("PRM-guided search at test time: best-of-n, weighted best-of-n, beam search, DVTS, MCTS")
    .option("--policy <name>", "arith: the built-in environment's policy")
    .option(
      "--policy-url <urls>",
      "OpenAI-compatible /v1 base URLs (vLLM, SGLang, llama.cpp), comma-separated",
      parseUrls,
    )
    .option("--model <name>", "model name the --policy-url servers serve")
    .option("--prm <name>", "oracle (arith's exact Q-values) or a checkpoint folder (pqm train writes them)")
    .option("--backend <name>", `with a checkpoint --prm: ${BACKEND_OPTION_HELP}`)
    .hook("preAction", backendOptionToEnvironment)
    .option(
      "--convention <name>",
      "with --prm-url: the served model's scoring convention (qwen2.5-math-prm, math-shepherd, ...)",
    );
  addPrmUrlOptions(search)
    .requiredOption("--method <name>", `search method: ${methods.join(", ")}`)
    .requiredOption(
      "--n <count>",
      "budget: solutions (bon), paths per step (beam, dvts) or simulations (mcts)",
      parsePositiveInteger,
    )
    .option(
      "--beam-width <m>",
      "beam: children per kept path; dvts: children per subtree step; mcts: samples per expansion",
      parsePositiveInteger,
      4,
    )
    .option(
      "--lookahead <k>",
      "beam: rank each step by a greedy rollout of k more steps",
      parseNonNegativeInteger,
      0,
    )
    .option("--aggregation <name>", "path score from step scores: last, min or prod", "last")
    .option("--select <name>", "answer: best (highest path score) or weighted (vote by path score)")
    .option("--c-puct <number>", "mcts: exploration constant", parseNumber, 1)
    .option("--max-steps <count>", "longest solution in steps", parsePositiveInteger, 32)
    .option(
      "--questions <count>",
      "arith test questions (the environment pqm demo trains on)",
      parsePositiveInteger,
    )
    .option("--test <name|file>", "instead: math500, gsm-plus, gsm8k or a JSONL/JSON/Parquet test file")
    .option("--domain <name>", "answer checker of a test file's questions: math or gsm", "math")
    .option("--data-dir <folder>", "local data folder for known test sets (default PQM_DATA_DIR)")
    .option(
      "--seed <number>",
      "seed of the questions (arith) and of every sample",
      parseNonNegativeInteger,
      0,
    )
    .requiredOption("--out <folder>", "results folder; a rerun with the same settings resumes")
    .option("--overwrite", "start over: delete the results of an earlier run in --out first")
    .option(
      "--tree <index>",
      "the question (0-based) whose search tree.html draws (default: the first answered wrong)",
      parseNonNegativeInteger,
    )
    .option("--concurrency <count>", "questions searched at once", parsePositiveInteger, 8)
    .option(
      "--requests <count>",
      "HTTP requests in flight over all --policy-url servers",
      parsePositiveInteger,
      64,
    )
    .option(
      "--temperature <number>",
      "sampling temperature of --policy-url servers (default 0.7)",
      parseNumber,
    )
    .option(
      "--max-choices-per-request <count>",
      "largest n of one request (1 for servers without n)",
      parsePositiveInteger,
    )
    .option(
      "--include-stop-str",
      "ask vLLM to keep the step delimiter in its output (include_stop_str_in_output)",
    )
    .option(
      "--api-key-env <NAME>",
      "environment variable holding the servers' API key (default OPENAI_API_KEY when set)",
    )
    .option("--api-key-file <PATH>", "file holding the servers' API key")
    .addOption(new Option("--api-key [key]").hideHelp())
    .option("--no-progress", "no progress lines on stderr")
    .option("--json", "print the run's summary as JSON")
    .action(
      async (
        options: PrmFlags & {
          policy?: string;
          policyUrl?: string[];
          model?: string;
          prm?: string;
          convention?: string;
          method: string;
          n: number;
          beamWidth: number;
          lookahead: number;
          aggregation: string;
          select?: string;
          cPuct: number;
          maxSteps: number;
          questions?: number;
          test?: string;
          domain: string;
          dataDir?: string;
          seed: number;
          out: string;
          overwrite?: boolean;
          tree?: number;
          concurrency: number;
          requests: number;
          temperature?: number;
          maxChoicesPerRequest?: number;
          includeStopStr?: boolean;
          apiKeyEnv?: string;
          apiKeyFile?: string;
          apiKey?: string | boolean;
          progress: boolean;
          json?: boolean;
        },
      ) => {
        refuseApiKey(options.apiKey);
        refusePrmApiKey(options.prmApiKey);
        checkPrmChoice(
          { flag: "--prm oracle|<checkpoint>", given: options.prm !== undefined },
          options.prmUrl,
          options.convention,
        );
        if ((options.policy === undefined) === (options.policyUrl === undefined)) {
          throw new CliError("give exactly one of --policy arith and --policy-url <url>[,<url>...]", 2);
        }
        if (options.policy !== undefined && options.policy !== "arith") {
          throw new CliError(
            `--policy '${options.policy}' is not known (arith; servers go in --policy-url)`,
            2,
          );
        }
        if (options.policyUrl !== undefined && options.model === undefined) {
          throw new CliError("--policy-url needs --model <name> (the model the servers serve)", 2);
        }
        const method = parseChoice("--method", options.method, methods);
        const aggregation = parseChoice("--aggregation", options.aggregation, aggregations);
        const select =
          options.select === undefined
            ? undefined
            : parseChoice("--select", options.select, ["best", "weighted"] as const);
        const spec = {
          method,
          n: options.n,
          beamWidth: options.beamWidth,
          lookahead: options.lookahead,
          aggregation,
          cPuct: options.cPuct,
          maxSteps: options.maxSteps,
          seed: options.seed,
          ...(select === undefined ? {} : { select }),
        };
        const { validateSearchSpec } = await import("@pqm/search");
        try {
          validateSearchSpec(spec);
        } catch (error) {
          throw new CliError(`${(error as Error).message}`, 2);
        }
        const { runSearchCommand } = await import("./search.js");
        const result = await withInterrupt("search", (signal) =>
          runSearchCommand({
            policy:
              options.policyUrl !== undefined
                ? { kind: "openai", urls: options.policyUrl, model: options.model! }
                : { kind: "arith" },
            ...(options.prmUrl === undefined
              ? { prm: options.prm! }
              : { prmUrl: remotePrmOptions(options, options.convention!) }),
            spec,
            ...(options.questions === undefined ? {} : { questions: options.questions }),
            ...(options.test === undefined ? {} : { test: options.test }),
            domain: parseChoice("--domain", options.domain, ["math", "gsm"] as const),
            ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
            out: options.out,
            ...(options.tree === undefined ? {} : { tree: options.tree }),
            concurrency: options.concurrency,
            requests: options.requests,
            ...(options.apiKeyEnv === undefined ? {} : { apiKeyEnv: options.apiKeyEnv }),
            ...(options.apiKeyFile === undefined ? {} : { apiKeyFile: options.apiKeyFile }),
            ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
            ...(options.maxChoicesPerRequest === undefined
              ? {}
              : { maxChoicesPerRequest: options.maxChoicesPerRequest }),
            ...(options.includeStopStr ? { includeStopStr: true } : {}),
            progress: options.progress && !options.json,
            signal,
            overwrite: options.overwrite === true,
          }),
        );
        if (options.json) return printJson(result);
        const c = result.compute;
        console.log(
          formatTable(
            ["", "value"],
            [
              [
                "method",
                `${result.method} N=${result.n} m=${result.beamWidth} lookahead=${result.lookahead}`,
              ],
              ["policy / prm", `${result.policy} / ${result.prm}`],
              ["accuracy", `${(100 * result.accuracy).toFixed(1)}% (${result.correct}/${result.questions})`],
              [
                "generated tokens",
                `${result.generatedTokens} (${result.meanGeneratedTokens.toFixed(1)} per question)`,
              ],
              ["policy calls / PRM calls", `${c.policyCalls} / ${c.prmCalls}`],
              ["scored trajectories / tokens", `${c.scoredTrajectories} / ${c.scoredTokens}`],
              ["nodes", String(c.nodes)],
              ["resumed questions", String(result.resumed)],
            ],
          ),
        );
        console.log(
          `\nresults: ${result.files.results}\nsearch tree of question ${result.treeQuestion}: ${result.files.treeHtml}`,
        );
        console.log(`re-rank the finished paths: ${result.evalBon}`);
      },
    );

  program
    .command("search-eval")
    .description(
      "exact evaluation of PRM-guided search on arith: accuracy against generated tokens, per method and PRM, over seeds",
    )
    .option("--questions <count>", "arith test questions per seed", parsePositiveInteger, 100)
    .option("--seeds <count>", "runs with consecutive seeds", parsePositiveInteger, 3)
    .option("--seed <number>", "the first seed", parseNonNegativeInteger, 0)
    .option(
      "--prm <list>",
      "scorers: oracle and checkpoints, as name=<checkpoint>, comma-separated",
      "oracle",
    )
    .option("--backend <name>", `with checkpoint scorers: ${BACKEND_OPTION_HELP}`)
    .hook("preAction", backendOptionToEnvironment)
    .option(
      "--searches <list>",
      "method/N[/m[/lookahead]] entries separated by spaces or commas (default: a sweep of every method)",
    )
    .option("--aggregation <name>", "path score from step scores: last, min or prod", "last")
    .option("--concurrency <count>", "questions searched at once", parsePositiveInteger, 4)
    .requiredOption("--out <folder>", "results folder; a rerun resumes the runs already there")
    .option("--no-progress", "no progress lines on stderr")
    .option("--json", "print results.json")
    .action(
      async (options: {
        questions: number;
        seeds: number;
        seed: number;
        prm: string;
        searches?: string;
        aggregation: string;
        concurrency: number;
        out: string;
        progress: boolean;
        json?: boolean;
      }) => {
        const aggregation = parseChoice("--aggregation", options.aggregation, aggregations);
        const { defaultEvalSearches, parsePrmList, parseSearchList, runSearchEval } = await import(
          "./search-eval.js"
        );
        const searches = parseSearchList(options.searches ?? defaultEvalSearches, aggregation);
        const { validateSearchSpec } = await import("@pqm/search");
        for (const spec of searches) {
          try {
            validateSearchSpec(spec);
          } catch (error) {
            throw new CliError(`--searches: ${(error as Error).message}`, 2);
          }
        }
        const results = await withInterrupt(
          "search-eval",
          (signal) =>
            runSearchEval({
              questions: options.questions,
              seeds: Array.from({ length: options.seeds }, (_, i) => options.seed + i),
              prm: parsePrmList(options.prm),
              searches,
              concurrency: options.concurrency,
              out: options.out,
              progress: options.progress && !options.json,
              signal,
            }),
          (kept) => `finished runs stay in ${options.out}/runs; of the runs in flight, ${kept}`,
        );
        if (options.json) return printJson(results);
        const cell = (
          value: { mean: number; low: number; high: number; count: number },
          scale: number,
          digits: number,
        ) =>
          value.count > 1
            ? `${(scale * value.mean).toFixed(digits)} [${(scale * value.low).toFixed(digits)}, ${(scale * value.high).toFixed(digits)}]`
            : (scale * value.mean).toFixed(digits);
        console.log(
          formatTable(
            ["prm", "search", "accuracy %", "tokens / question"],
            results.points.map((point) => [
              point.scorer,
              point.label,
              cell(point.accuracy, 100, 1),
              cell(point.meanGeneratedTokens, 1, 0),
            ]),
          ),
        );
        if (results.target !== null) {
          const t = results.target;
          console.log(
            `\ntarget (oracle): ${t.beam} - ${t.bon} = ${t.differencePoints.mean.toFixed(1)} points ` +
              `[${t.differencePoints.low.toFixed(1)}, ${t.differencePoints.high.toFixed(1)}], tokens x${t.tokenRatio.toFixed(3)}: ${t.met ? "met" : "not met"}`,
          );
        }
        console.log(`report: ${options.out}`);
      },
    );
}
