import { existsSync } from "node:fs";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { formatScoringProgress, readCandidateFile, scoreCandidatesCached, scoresCachePath } from "@pqm/eval";
import type { BackendChoice } from "@pqm/model";
import { loadModelScorer } from "../../shared/model-scorer.js";

/** Options of `pqm score`. */
export interface ScoreCommandOptions {
  /** Checkpoint folder of the process reward model. */
  model: string;
  /** Candidate file to score. */
  candidates: string;
  /** The pqm-scores/1 file to write. */
  out: string;
  /** Folder where scoring resumes from (the scorer's cache). */
  cacheDir: string;
  /** TF.js backend; default the fastest installed. */
  backend?: BackendChoice;
  progress: boolean;
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
 * copies the cached file without loading the model.
 * @throws CliError for a missing checkpoint folder; @pqm/eval's errors naming the file and field for a bad
 *   candidate file; @pqm/model's load errors for a folder that is not a checkpoint.
 */
export async function runScore(options: ScoreCommandOptions): Promise<ScoreCommandResult> {
  const log = (line: string) => {
    if (options.progress) process.stderr.write(`${line}\n`);
  };
  const scorer = await loadModelScorer(options.model, {
    ...(options.backend === undefined ? {} : { backend: options.backend }),
    log,
  });
  try {
    const candidates = await readCandidateFile(options.candidates);
    const cacheFile = scoresCachePath(options.cacheDir, scorer.name, candidates.sha256);
    const cached = existsSync(cacheFile);
    log(cached ? `scores found in the cache: ${cacheFile}` : `scoring with ${options.model}`);
    const scores = await scoreCandidatesCached(
      scorer,
      candidates,
      options.cacheDir,
      options.progress
        ? { onProgress: (event) => process.stderr.write(`${formatScoringProgress(event)}\n`) }
        : {},
    );
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
