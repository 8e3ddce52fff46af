import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { formatScoringProgress, readCandidateFile, scoreCandidatesCached, scoresCachePath } from "@pqm/eval";
import type { BackendChoice } from "@pqm/model";
import { CliError } from "../../shared/cli-error.js";
import { loadModelScorer } from "../../shared/model-scorer.js";
import { connectRemoteScorer, type RemotePrmOptions, type RemoteScorer } from "../../shared/remote-scorer.js";

/** Options of `pqm score`. */
export interface ScoreCommandOptions {
  /** Checkpoint folder of the process reward model (exactly one of `model` and `prm`). */
  model?: string;
  /** The published PRM convention of `model` (`--convention`); default: detected (see `loadModelScorer`). */
  convention?: string;
  /** The base model's folder for PQM's released state dict (`--backbone`). */
  backbone?: string;
  /** A model served by vLLM's pooling API (`--prm-url`), instead of `model`. */
  prm?: RemotePrmOptions;
  /** Candidate file to score. */
  candidates: string;
  /** The pqm-scores/1 file to write. */
  out: string;
  /** Folder where scoring resumes from (the scorer's cache). */
  cacheDir: string;
  /** TF.js backend; default the fastest installed. */
  backend?: BackendChoice;
  progress: boolean;
  /** Stops scoring after the question in flight (its scores are kept in the cache; see @pqm/eval). */
  signal?: AbortSignal;
  /** Replace an `out` file that holds other scores (another scorer or candidate file); default: refuse. */
  overwrite?: boolean;
}

/** What `pqm score` wrote. */
export interface ScoreCommandResult {
  out: string;
  /** The scorer's name (in the file's header): the checkpoint's hash and folder name. */
  scorer: string;
  candidatesSha256: string;
  questions: number;
  /** Candidates and steps scored. */
  candidates: number;
  steps: number;
  /** The cache file the scores came from (reused when it already existed). */
  cacheFile: string;
  cached: boolean;
}

/**
 * Scores every step of every candidate with a checkpoint and writes a pqm-scores/1 file (raw logits,
 * the header carrying the candidate file's SHA-256 and the scorer's name). Scoring goes through @pqm/eval's
 * cache keyed by the checkpoint's hash and the candidate file's hash: an interrupted run resumes, a rerun
 * copies the cached file without loading the model. With `prm` the scorer is a model served by vLLM's
 * pooling API (`shared/remote-scorer.ts`), its cache key the convention and the served model's name;
 * it starts the next questions' requests ahead, so that `prm.requests` stay in flight.
 * @throws CliError for a missing checkpoint folder, a bad `--prm-url` setting or servers that cannot be
 *   asked; @pqm/eval's errors naming the file and field for a bad candidate file; @pqm/model's load
 *   errors for a folder that is not a checkpoint, and its HTTP and response errors for a remote PRM.
 */
export async function runScore(options: ScoreCommandOptions): Promise<ScoreCommandResult> {
  const log = (line: string) => {
    if (options.progress) process.stderr.write(`${line}\n`);
  };
  const remote: RemoteScorer | undefined =
    options.prm === undefined ? undefined : await connectRemoteScorer(options.prm, { log });
  const scorer =
    remote ??
    (await loadModelScorer(options.model!, {
      ...(options.backend === undefined ? {} : { backend: options.backend }),
      ...(options.convention === undefined ? {} : { convention: options.convention }),
      ...(options.backbone === undefined ? {} : { backbone: options.backbone }),
      log,
    }));
  try {
    const candidates = await readCandidateFile(options.candidates);
    // A remote PRM starts the next questions' requests while the cache asks for one at a time.
    remote?.plan(
      candidates.questions.map((set) => ({
        question: set.question,
        steps: set.responses.map((response) => response.steps),
      })),
    );
    if (options.overwrite !== true) await refuseOtherScores(options.out, scorer.name, candidates.sha256);
    const cacheFile = scoresCachePath(options.cacheDir, scorer.name, candidates.sha256);
    const cached = existsSync(cacheFile);
    log(cached ? `scores found in the cache: ${cacheFile}` : `scoring with ${options.model ?? scorer.name}`);
    const scores = await scoreCandidatesCached(scorer, candidates, options.cacheDir, {
      ...(options.progress
        ? { onProgress: (event) => process.stderr.write(`${formatScoringProgress(event)}\n`) }
        : {}),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    await mkdir(dirname(options.out), { recursive: true });
    await copyFile(scores.file, options.out);
    const perCandidate = scores.scores.flat();
    return {
      out: options.out,
      scorer: scorer.name,
      candidatesSha256: candidates.sha256,
      questions: scores.scores.length,
      candidates: perCandidate.length,
      steps: perCandidate.reduce((total, steps) => total + steps.length, 0),
      cacheFile,
      cached,
    };
  } finally {
    scorer.dispose();
  }
}

/**
 * A rerun writes the same file again; an `out` that holds anything else (scores by another scorer or of
 * other candidates, or not a scores file) is never replaced silently.
 * @throws CliError naming the file, what it holds and the flag that replaces it.
 */
async function refuseOtherScores(out: string, scorer: string, candidatesSha256: string): Promise<void> {
  if (!existsSync(out)) return;
  const firstLine = (await readFile(out, "utf8")).split("\n", 1)[0] ?? "";
  interface ScoresHeader {
    format?: unknown;
    scorer?: unknown;
    candidates_sha256?: unknown;
  }
  let header: ScoresHeader | null;
  try {
    const parsed: unknown = JSON.parse(firstLine);
    header = typeof parsed === "object" && parsed !== null ? (parsed as ScoresHeader) : null;
  } catch {
    header = null;
  }
  if (
    header?.format === "pqm-scores/1" &&
    header.scorer === scorer &&
    header.candidates_sha256 === candidatesSha256
  )
    return;
  const holds =
    header?.format === "pqm-scores/1"
      ? `scores by ${String(header.scorer)} of candidates ${String(header.candidates_sha256).slice(0, 12)}`
      : "something that is not a pqm-scores/1 file";
  throw new CliError(
    `${out}: holds ${holds}, not this run's (${scorer}, candidates ${candidatesSha256.slice(0, 12)}); ` +
      "pass --overwrite to replace it, or choose another --out",
  );
}
