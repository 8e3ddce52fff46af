// `--prm-url`: a process reward model served by vLLM's pooling API, for `pqm score` and `pqm search`.
import { setMaxListeners } from "node:events";
import type { Scorer, Trajectory } from "@pqm/core";
import type { VllmPoolingScorer } from "@pqm/model";
import { type Command, Option } from "commander";
import { CliError } from "./cli-error.js";
import { parsePositiveInteger } from "./option-parsers.js";

/** What `--prm-url` and its companions say. */
export interface RemotePrmOptions {
  /** Server base URLs (`http://host:8000`; `/pooling` is served at the root). */
  urls: readonly string[];
  /** The scoring convention the served model follows (`--convention`). */
  convention: string;
  /** The served model name (`--prm-model`); default: asked of the servers' `/v1/models`. */
  model?: string;
  /** Trajectories per request (`--prm-batch-size`). */
  batchSize: number;
  /** Requests in flight over all servers (`--prm-requests`). */
  requests: number;
  /** The variable holding the API key (`--prm-api-key-env`; default PQM_PRM_API_KEY, optional). */
  apiKeyEnv?: string;
  /** A file holding the API key (`--prm-api-key-file`). */
  apiKeyFile?: string;
}

/** One question's candidates, as a candidate file lists them: what {@link RemoteScorer.plan} takes. */
export interface PlannedQuestion {
  question: string;
  steps: readonly (readonly string[])[];
}

/** A remote PRM as the commands use it: @pqm/core's `Scorer`, plus look-ahead and clean-up. */
export interface RemoteScorer extends Scorer {
  /** The underlying client (for its counters). */
  readonly client: VllmPoolingScorer;
  /**
   * The questions that will be asked for, in order (`pqm score`'s candidate file): each call then also
   * starts the next questions' requests, so that `requests` stay in flight although the score cache
   * asks for one question at a time. Results are matched by content, so calls in another order still work.
   */
  plan(questions: readonly PlannedQuestion[]): void;
  /** Cancels the requests started ahead that nobody asked for yet. */
  dispose(): void;
}

/** Parses a comma-separated URL list (`--prm-url a,b`). */
export function parseUrlList(value: string): string[] {
  return value
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url !== "");
}

/** The `--prm-*` flags as commander parses them. */
export interface PrmFlags {
  prmUrl?: string[];
  prmModel?: string;
  prmBatchSize: number;
  prmRequests: number;
  prmApiKeyEnv?: string;
  prmApiKeyFile?: string;
  prmApiKey?: string | boolean;
}

/**
 * Adds the flags of a remote PRM to `command`: `--prm-url`, `--prm-model`, `--prm-batch-size`,
 * `--prm-requests`, `--prm-api-key-env`, `--prm-api-key-file` (and a hidden `--prm-api-key`, refused).
 * `--convention` is the command's own.
 */
export function addPrmUrlOptions(command: Command): Command {
  return command
    .option(
      "--prm-url <urls>",
      "vLLM servers of a process reward model (pooling API), comma-separated base URLs; needs --convention",
      parseUrlList,
    )
    .option("--prm-model <name>", "with --prm-url: the served model name (default: asked of the servers)")
    .option("--prm-batch-size <count>", "with --prm-url: candidates per request", parsePositiveInteger, 8)
    .option(
      "--prm-requests <count>",
      "with --prm-url: requests in flight over all servers",
      parsePositiveInteger,
      64,
    )
    .option(
      "--prm-api-key-env <NAME>",
      "with --prm-url: variable holding the servers' API key (default PQM_PRM_API_KEY)",
    )
    .option("--prm-api-key-file <PATH>", "with --prm-url: file holding the servers' API key")
    .addOption(new Option("--prm-api-key [key]").hideHelp());
}

/** The {@link RemotePrmOptions} of parsed flags (call after {@link checkPrmChoice}). */
export function remotePrmOptions(flags: PrmFlags, convention: string): RemotePrmOptions {
  return {
    urls: flags.prmUrl ?? [],
    convention,
    ...(flags.prmModel === undefined ? {} : { model: flags.prmModel }),
    batchSize: flags.prmBatchSize,
    requests: flags.prmRequests,
    ...(flags.prmApiKeyEnv === undefined ? {} : { apiKeyEnv: flags.prmApiKeyEnv }),
    ...(flags.prmApiKeyFile === undefined ? {} : { apiKeyFile: flags.prmApiKeyFile }),
  };
}

/** Refuses an API key typed on the command line, without echoing it. */
export function refusePrmApiKey(apiKey: unknown): void {
  if (apiKey !== undefined) {
    throw new CliError(
      "--prm-api-key is refused: a key on the command line leaks into shell history and process lists; " +
        "put it in an environment variable (PQM_PRM_API_KEY, or --prm-api-key-env NAME) or a file (--prm-api-key-file PATH)",
      2,
    );
  }
}

/**
 * Checks the flags that choose the scorer: exactly one of `--model`-like `local` and `--prm-url`, and
 * `--convention` with `--prm-url`. Throws CliError (exit 2).
 */
export function checkPrmChoice(
  local: { flag: string; given: boolean },
  prmUrl: unknown,
  convention: unknown,
): void {
  if (local.given === (prmUrl !== undefined)) {
    throw new CliError(`give exactly one of ${local.flag} and --prm-url <url>[,<url>...]`, 2);
  }
  if (prmUrl !== undefined && convention === undefined) {
    throw new CliError(
      "--prm-url needs --convention <name>: how the served model reads steps (qwen2.5-math-prm, math-shepherd, ...)",
      2,
    );
  }
}

function key(question: string, steps: readonly (readonly string[])[]): string {
  return JSON.stringify([question, steps]);
}

/**
 * Connects to the `--prm-url` servers: resolves `--convention` (@pqm/model's `getScoringConvention`),
 * asks the servers which model they serve unless `--prm-model` names it (they must agree), and returns
 * the scorer. Its name, which keys the score cache, is `vllm-pooling-<convention>-<model>`. Retries
 * go to `log`. `signal` cancels every request (pqm search passes the interrupt signal; pqm score does
 * not, so the question in flight finishes).
 * @throws CliError (exit 2) for an unknown convention, one vLLM cannot serve, or a bad URL; (exit 1)
 *   when the servers cannot be asked or disagree.
 */
export async function connectRemoteScorer(
  options: RemotePrmOptions,
  hooks: { log?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<RemoteScorer> {
  const { getScoringConvention, ServedModelError, VllmPoolingScorer } = await import("@pqm/model");
  let convention: ReturnType<typeof getScoringConvention>;
  try {
    convention = getScoringConvention(options.convention);
  } catch (error) {
    throw new CliError(`--convention: ${(error as Error).message}`, 2);
  }
  if (convention.poolingReadout === null) {
    throw new CliError(
      `--convention ${convention.name}: vLLM's pooling runner cannot serve this family; score it locally with --model`,
      2,
    );
  }
  const log = hooks.log ?? (() => {});
  let client: VllmPoolingScorer;
  try {
    client = await VllmPoolingScorer.connect(
      {
        endpoints: options.urls,
        convention,
        ...(options.model === undefined ? {} : { model: options.model }),
        batchSize: options.batchSize,
        concurrency: options.requests,
        ...(options.apiKeyEnv === undefined ? {} : { apiKeyEnv: options.apiKeyEnv }),
        ...(options.apiKeyFile === undefined ? {} : { apiKeyFile: options.apiKeyFile }),
        ...(hooks.signal === undefined ? {} : { signal: hooks.signal }),
        onProgress: (event) => {
          if (event.type === "retry") log(`prm: ${event.message}`);
        },
      },
      hooks.signal,
    );
  } catch (error) {
    if (error instanceof RangeError) throw new CliError(`--prm-url: ${error.message}`, 2);
    if (error instanceof ServedModelError) {
      throw new CliError(`${error.message} (name the model with --prm-model to skip asking)`);
    }
    throw error;
  }
  log(
    `PRM servers: ${client.client.endpoints.join(", ")} (model ${client.model}, convention ${convention.name})`,
  );

  // Look-ahead for pqm score: questions started early, keyed by content.
  const ahead = new AbortController();
  setMaxListeners(0, ahead.signal);
  let planned: readonly PlannedQuestion[] = [];
  const index = new Map<string, number[]>();
  const started = new Map<number, Promise<number[][]>>();
  const consumed = new Set<number>();
  const window = options.requests * options.batchSize;
  let inFlight = 0;

  const start = (q: number): Promise<number[][]> => {
    let promise = started.get(q);
    if (promise === undefined) {
      const entry = planned[q]!;
      const trajectories: Trajectory[] = entry.steps.map((steps, candidate) => ({
        question: { id: String(q), text: entry.question, answer: null, domain: "math" },
        steps: [...steps],
        meta: { candidate },
      }));
      inFlight += trajectories.length;
      promise = client.scoreSteps(trajectories, { signal: ahead.signal }).finally(() => {
        inFlight -= trajectories.length;
      });
      // Failures surface when their question is asked for; none goes unhandled meanwhile.
      promise.catch(() => {});
      started.set(q, promise);
    }
    return promise;
  };

  return {
    name: client.name,
    client,
    plan(questions) {
      planned = questions;
      index.clear();
      consumed.clear();
      questions.forEach((entry, q) => {
        const k = key(entry.question, entry.steps);
        index.set(k, [...(index.get(k) ?? []), q]);
      });
    },
    async scoreSteps(trajectories: readonly Trajectory[]) {
      const first = trajectories[0];
      const candidates =
        first === undefined
          ? undefined
          : index.get(
              key(
                first.question.text,
                trajectories.map((trajectory) => trajectory.steps),
              ),
            );
      // Identical questions share a key: take the first one not answered yet.
      const q = candidates?.find((candidate) => !consumed.has(candidate));
      if (q === undefined) return client.scoreSteps(trajectories);
      const result = start(q);
      for (let next = q + 1; next < planned.length && inFlight < window; next++) {
        if (!consumed.has(next)) start(next);
      }
      try {
        return await result;
      } finally {
        consumed.add(q);
        started.delete(q);
      }
    },
    dispose() {
      ahead.abort(new Error("scoring ended"));
    },
  };
}
