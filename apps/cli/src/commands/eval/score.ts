import { copyFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { readCandidateFile, scoreCandidatesCached } from "@pqm/eval";
import { loadModelScorer } from "./model-scorer.js";

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
  progress: boolean;
}

/** What `pqm score` wrote. */
export interface ScoreCommandResult {
  out: string;
  scorer: string;
  candidatesSha256: string;
  questions: number;
}

/**
 * Scores every step of every candidate with a checkpoint and writes a pqm-scores/1 file; scoring
 * goes through @pqm/eval's cache, so an interrupted run resumes. The checkpoint loader is not
 * available yet (see `loadModelScorer`), so today this throws that CliError before reading
 * anything else.
 */
export async function runScore(options: ScoreCommandOptions): Promise<ScoreCommandResult> {
  const scorer = await loadModelScorer(options.model);
  const candidates = await readCandidateFile(options.candidates);
  const scores = await scoreCandidatesCached(scorer, candidates, options.cacheDir, {
    progress: options.progress,
  });
  await mkdir(dirname(options.out), { recursive: true });
  await copyFile(scores.file, options.out);
  return {
    out: options.out,
    scorer: scorer.name,
    candidatesSha256: candidates.sha256,
    questions: scores.scores.length,
  };
}
