import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AnswerDomain, Question, Scorer } from "@pqm/core";
import { ArithEnvironment } from "@pqm/data";
import { sha256OfFile, writeScoresFile } from "@pqm/eval";
import type { SearchMethod, SearchRunSummary, SearchSpec, StepPolicy } from "@pqm/search";
import {
  ArithStepPolicy,
  arithSearchRecipe,
  arithTreeTruth,
  ExactQScorer,
  OpenAIStepPolicy,
  runSearch,
  SearchResultsMismatchError,
  searchCandidates,
  searchTreeView,
  writeSearchCandidates,
} from "@pqm/search";
import { CliError } from "../../shared/cli-error.js";
import { loadModelScorer, type ModelScorer } from "../../shared/model-scorer.js";
import { connectRemoteScorer, type RemotePrmOptions } from "../../shared/remote-scorer.js";
import { loadTestSet } from "../../shared/test-sets.js";
import { renderTreeHtml } from "./tree-html.js";

/** The arith environment `pqm search` runs on at a seed: @pqm/search's `arithSearchRecipe`, the one `pqm demo` trains on. */
export function searchArithEnvironment(seed: number): ArithEnvironment {
  return new ArithEnvironment({ ...arithSearchRecipe, seed });
}

/** Options of {@link runSearchCommand}. */
export interface SearchCommandOptions {
  /** `arith`, or OpenAI-compatible base URLs. */
  policy: { kind: "arith" } | { kind: "openai"; urls: string[]; model: string };
  /** `oracle` (the exact-Q oracle of arith) or a checkpoint folder (exactly one of `prm` and `prmUrl`). */
  prm?: string;
  /** A process reward model served by vLLM's pooling API (`--prm-url`). */
  prmUrl?: RemotePrmOptions;
  spec: SearchSpec;
  /** Arith test questions (with `--policy arith` or arith questions served over HTTP). */
  questions?: number;
  /** A test set (name or file) instead of arith questions. */
  test?: string;
  domain: AnswerDomain;
  dataDir?: string;
  out: string;
  /** Questions searched at once. */
  concurrency: number;
  /** HTTP requests in flight over all policy endpoints. */
  requests: number;
  apiKeyEnv?: string;
  apiKeyFile?: string;
  temperature?: number;
  maxChoicesPerRequest?: number;
  includeStopStr?: boolean;
  /** The question (0-based) whose tree the report draws (default: the first answered wrong, else the first). */
  tree?: number;
  progress: boolean;
  signal?: AbortSignal;
  /** Start over: delete the results file of an earlier run in `out` first (else a rerun resumes it, or refuses other settings). */
  overwrite?: boolean;
}

/** What `pqm search --json` prints. */
export interface SearchCommandResult {
  /** Share of questions answered right, in [0, 1]. */
  accuracy: number;
  /** Tokens the policy generated over the whole run. */
  generatedTokens: number;
  meanGeneratedTokens: number;
  questions: number;
  correct: number;
  method: SearchMethod;
  n: number;
  beamWidth: number;
  lookahead: number;
  aggregation: string;
  seed: number;
  policy: string;
  prm: string;
  /** The run's compute, summed over questions. */
  compute: SearchRunSummary["compute"];
  /** Questions found finished in the results file (a resumed run). */
  resumed: number;
  files: {
    results: string;
    candidates: string;
    scores: string;
    test: string;
    summary: string;
    /** One question's search tree (HTML, and the plain data it is drawn from). */
    treeHtml: string;
    treeJson: string;
  };
  /** The question whose tree the report draws. */
  treeQuestion: number;
  /** The `pqm eval bon` line that re-ranks the search's finished paths. */
  evalBon: string;
}

/**
 * `pqm search`: PRM-guided search over arith or test-set questions, resumable from the results
 * file in `out`. Writes `results.jsonl` (one row per question: answer, tree, compute),
 * `candidates.json` + `scores.jsonl` (the finished paths and the scores the search saw, which
 * `pqm eval bon` reads), `test.jsonl` and `summary.json`.
 * @throws CliError (usage) for option combinations that cannot work.
 */
export async function runSearchCommand(options: SearchCommandOptions): Promise<SearchCommandResult> {
  const log = (line: string) => {
    if (options.progress) process.stderr.write(`${line}\n`);
  };
  const seed = options.spec.seed ?? 0;
  if ((options.questions === undefined) === (options.test === undefined)) {
    throw new CliError("give exactly one of --questions <count> (arith) and --test <name|file>", 2);
  }
  let environment: ArithEnvironment | undefined;
  let questions: Question[];
  let domain: AnswerDomain = options.domain;
  if (options.questions !== undefined) {
    environment = searchArithEnvironment(seed);
    questions = environment.testQuestions(options.questions);
    domain = "gsm";
  } else {
    if (options.policy.kind === "arith") {
      throw new CliError("--policy arith searches arith questions: use --questions <count>, not --test", 2);
    }
    const testSet = await loadTestSet(options.test!, {
      domain: options.domain,
      progress: options.progress,
      ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    });
    questions = testSet.questions;
    log(`test set: ${testSet.file} (${questions.length} questions)`);
  }

  const policy: StepPolicy =
    options.policy.kind === "arith"
      ? new ArithStepPolicy(environment!)
      : new OpenAIStepPolicy({
          endpoints: options.policy.urls,
          model: options.policy.model,
          concurrency: options.requests,
          ...(options.apiKeyEnv === undefined ? {} : { apiKeyEnv: options.apiKeyEnv }),
          ...(options.apiKeyFile === undefined ? {} : { apiKeyFile: options.apiKeyFile }),
          ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
          ...(options.maxChoicesPerRequest === undefined
            ? {}
            : { maxChoicesPerRequest: options.maxChoicesPerRequest }),
          ...(options.includeStopStr ? { includeStopStrInOutput: true } : {}),
          log,
        });

  let scorer: Scorer;
  let modelScorer: ModelScorer | undefined;
  if (options.prmUrl !== undefined) {
    // Ctrl-C cancels the PRM requests in flight too: the questions in flight are abandoned anyway.
    scorer = await connectRemoteScorer(options.prmUrl, {
      log,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } else if (options.prm === "oracle") {
    if (environment === undefined) {
      throw new CliError(
        "--prm oracle knows the exact Q-values of arith questions only: use --questions <count>",
        2,
      );
    }
    scorer = new ExactQScorer(environment);
  } else {
    modelScorer = await loadModelScorer(options.prm!, { log });
    scorer = modelScorer;
  }

  await mkdir(options.out, { recursive: true });
  const files = {
    results: join(options.out, "results.jsonl"),
    candidates: join(options.out, "candidates.json"),
    scores: join(options.out, "scores.jsonl"),
    test: join(options.out, "test.jsonl"),
    summary: join(options.out, "summary.json"),
    treeHtml: join(options.out, "tree.html"),
    treeJson: join(options.out, "tree.json"),
  };
  if (options.overwrite && existsSync(files.results)) {
    log(`--overwrite: deleting the previous results ${files.results}`);
    await rm(files.results);
  }
  const started = Date.now();
  let lastLine = 0;
  try {
    const { results, summary } = await runSearch({
      questions,
      policy,
      scorer,
      spec: options.spec,
      output: files.results,
      concurrency: options.concurrency,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onProgress: (progress) => {
        if (Date.now() - lastLine < 2000 && progress.done < progress.total) return;
        lastLine = Date.now();
        log(
          `search: ${progress.done}/${progress.total} questions (${progress.resumed} resumed), ` +
            `${progress.correct} right, ${progress.generatedTokens} tokens generated, ${((Date.now() - started) / 1000).toFixed(1)} s`,
        );
      },
      ...(environment === undefined
        ? {}
        : {
            annotate: (question, outcome) => {
              const truth = arithTreeTruth(environment, question, outcome.nodes, outcome.chosen);
              return { exactQ: truth.exactQ, exactLabel: truth.exactLabel, firstMistake: truth.firstMistake };
            },
          }),
    }).catch((error: unknown) => {
      if (error instanceof SearchResultsMismatchError) {
        throw new CliError(
          `${error.message.replace(/\. Use another output.*$/, "")}; start over with --overwrite, or choose another --out`,
        );
      }
      throw error;
    });
    const candidates = searchCandidates(results, questions, policy.name);
    await writeSearchCandidates(files.candidates, candidates);
    await writeScoresFile(
      files.scores,
      { candidatesSha256: await sha256OfFile(files.candidates), scorer: scorer.name },
      candidates.scores,
    );
    await writeFile(
      files.test,
      `${questions.map((question) => JSON.stringify({ question: question.text, answer: question.answer })).join("\n")}\n`,
    );
    const treeQuestion =
      options.tree ??
      Math.max(
        0,
        results.findIndex((row) => row.correct === false),
      );
    if (treeQuestion >= results.length) {
      throw new CliError(
        `--tree ${treeQuestion}: the run has ${results.length} questions (0 to ${results.length - 1})`,
        2,
      );
    }
    const view = searchTreeView(results[treeQuestion]!, questions[treeQuestion]!);
    await writeFile(files.treeJson, `${JSON.stringify(view, null, 2)}\n`);
    await writeFile(
      files.treeHtml,
      renderTreeHtml(
        view,
        `${options.spec.method} N=${options.spec.n}, ${policy.name} guided by ${scorer.name}`,
      ),
    );
    const result: SearchCommandResult = {
      accuracy: summary.accuracy,
      generatedTokens: summary.generatedTokens,
      meanGeneratedTokens: summary.meanGeneratedTokens,
      questions: summary.questions,
      correct: summary.correct,
      method: options.spec.method,
      n: options.spec.n,
      beamWidth: options.spec.beamWidth ?? 4,
      lookahead: options.spec.lookahead ?? 0,
      aggregation: options.spec.aggregation ?? "last",
      seed,
      policy: policy.name,
      prm: scorer.name,
      compute: summary.compute,
      resumed: summary.resumed,
      files,
      treeQuestion,
      evalBon:
        `pqm eval bon --test ${files.test} --domain ${domain} --candidates ${files.candidates} ` +
        `--scores ${files.scores} --aggregation ${options.spec.aggregation === "prod" ? "prod-sigmoid" : (options.spec.aggregation ?? "last")}`,
    };
    await writeFile(files.summary, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    modelScorer?.dispose();
  }
}
