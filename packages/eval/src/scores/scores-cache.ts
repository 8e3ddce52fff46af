import { existsSync } from "node:fs";
import { appendFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Question, Scorer } from "@pqm/core/reference";
import { candidateTrajectories, InterruptedError } from "@pqm/data";
import type { CandidateFile } from "../candidates/candidate-file.js";
import { formatScoresLine, readScoresFile, SCORES_FORMAT, type ScoresFile } from "./scores-file.js";

/** Options of {@link scoreCandidatesCached}. */
export interface ScoreCacheOptions {
  /** The test set's questions (same order as the candidate file), handed to the scorer; placeholders otherwise. */
  questions?: readonly Question[];
  /** How NaN scores are read back (see `readScoresFile`). Default `error`. */
  nan?: "error" | "exclude";
  /**
   * Called once before scoring starts (`scored` = questions resumed from an interrupted run) and after
   * each question scored. Not called when the cache file is complete (nothing is scored). This
   * function prints nothing itself; `formatScoringProgress` makes a one-line text of an event.
   */
  onProgress?: (event: ScoringProgress) => void;
  /**
   * Stops scoring between questions: the question in flight is finished and appended, and the call
   * rejects with @pqm/data's `InterruptedError` (name `AbortError`, cause the signal's reason) whose
   * `saved` is a {@link ScoringSaved}. A later call resumes from the `.partial` file.
   */
  signal?: AbortSignal;
}

/** What an interrupted {@link scoreCandidatesCached} kept (the `saved` of its `InterruptedError`). */
export interface ScoringSaved {
  /** The `.partial` cache file: the header and one line per scored question. */
  partial: string;
  /** Questions scored and kept in it (resumed ones included). */
  scored: number;
  total: number;
  /** Of `scored`, those already in the file when the call started. */
  resumed: number;
}

/** Progress of {@link scoreCandidatesCached}. */
export interface ScoringProgress {
  /** `start` before the first question is scored, then `question` after each. */
  type: "start" | "question";
  /** The scorer's name. */
  scorer: string;
  /** Questions scored so far, counting those resumed from an interrupted run. */
  scored: number;
  /** Questions in the candidate file. */
  total: number;
  /** Questions read back from the `.partial` file of an interrupted run. */
  resumed: number;
  /** Seconds since this call started scoring. */
  elapsedSeconds: number;
}

/** One line of text for a progress event, e.g. `scoring with m: 3/500 questions (1.2 s)`. */
export function formatScoringProgress(event: ScoringProgress): string {
  const resumed = event.resumed > 0 ? `, ${event.resumed} resumed` : "";
  return `scoring with ${event.scorer}: ${event.scored}/${event.total} questions (${event.elapsedSeconds.toFixed(1)} s${resumed})`;
}

/** The cache file of a scorer and a candidate file: `<cacheDir>/<scorer slug>-<first 16 hex of sha>.scores.jsonl`. */
export function scoresCachePath(cacheDir: string, scorerName: string, candidatesSha256: string): string {
  const slug = scorerName.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80) || "scorer";
  return join(cacheDir, `${slug}-${candidatesSha256.slice(0, 16)}.scores.jsonl`);
}

/**
 * Scores every candidate of a candidate file with `scorer`, once: the result is a scores file in
 * `cacheDir` keyed by the scorer's name and the candidate file's hash, read back on later calls so that
 * other aggregations or n never re-run the model. Scoring goes question by question, appending to a
 * `.partial` file (progress through `options.onProgress`); an interrupted run resumes where it stopped.
 * Throws when the scorer returns the wrong number of scores (naming question and candidate), or when an
 * existing cache file does not match the candidates or names another scorer; an `InterruptedError`
 * when `options.signal` stops it (see the option).
 */
export async function scoreCandidatesCached(
  scorer: Scorer,
  candidates: CandidateFile,
  cacheDir: string,
  options: ScoreCacheOptions = {},
): Promise<ScoresFile> {
  const path = scoresCachePath(cacheDir, scorer.name, candidates.sha256);
  const readOptions = { candidates, nan: options.nan ?? "error" } as const;
  if (existsSync(path)) {
    const cached = await readScoresFile(path, readOptions);
    if (cached.header.scorer !== scorer.name) {
      throw new Error(`${path}: cache holds scores of '${cached.header.scorer}', not of '${scorer.name}'`);
    }
    return cached;
  }
  await mkdir(cacheDir, { recursive: true });
  const partial = `${path}.partial`;
  const header = JSON.stringify({
    format: SCORES_FORMAT,
    candidates_sha256: candidates.sha256,
    scorer: scorer.name,
  });
  let done = 0;
  if (existsSync(partial)) {
    const lines = (await readFile(partial, "utf8")).split("\n");
    if (lines[0] === header) {
      // Keep only complete lines; a line cut by a crash is dropped and recomputed.
      const complete: string[] = [];
      for (const line of lines.slice(1)) {
        try {
          const record = JSON.parse(line) as { index?: unknown };
          if (record.index !== complete.length) break;
          complete.push(line);
        } catch {
          break;
        }
      }
      done = complete.length;
      await writeFile(partial, `${[header, ...complete].join("\n")}\n`);
    } else {
      await writeFile(partial, `${header}\n`);
    }
  } else {
    await writeFile(partial, `${header}\n`);
  }
  const total = candidates.questions.length;
  const started = Date.now();
  const report = (type: ScoringProgress["type"], scored: number) =>
    options.onProgress?.({
      type,
      scorer: scorer.name,
      scored,
      total,
      resumed: done,
      elapsedSeconds: (Date.now() - started) / 1000,
    });
  report("start", done);
  for (let q = done; q < total; q++) {
    if (options.signal?.aborted) {
      throw new InterruptedError<ScoringSaved>(
        options.signal.reason,
        `kept the scores of ${q} of ${total} questions in ${partial}`,
        { partial, scored: q, total, resumed: done },
      );
    }
    const candidateQuestion = candidates.questions[q]!;
    const question: Question = options.questions?.[q] ?? {
      id: String(q),
      text: candidateQuestion.question,
      answer: null,
      domain: "math",
    };
    const trajectories = candidateTrajectories(candidateQuestion, question);
    const scores = await scorer.scoreSteps(trajectories);
    if (scores.length !== trajectories.length) {
      throw new Error(
        `scorer '${scorer.name}': question ${q}: ${scores.length} score lists for ${trajectories.length} candidates`,
      );
    }
    scores.forEach((steps, c) => {
      if (steps.length !== trajectories[c]!.steps.length) {
        throw new Error(
          `scorer '${scorer.name}': question ${q}, candidate ${c}: ${steps.length} scores for ${trajectories[c]!.steps.length} steps`,
        );
      }
    });
    await appendFile(partial, `${formatScoresLine(q, scores)}\n`);
    report("question", q + 1);
  }
  await rename(partial, path);
  return readScoresFile(path, readOptions);
}
