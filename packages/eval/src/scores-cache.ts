import { existsSync } from "node:fs";
import { appendFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Question, Scorer } from "@pqm/core";
import { candidateTrajectories } from "@pqm/data";
import type { CandidateFile } from "./candidate-file.js";
import { formatScoresLine, readScoresFile, SCORES_FORMAT, type ScoresFile } from "./scores-file.js";

/** Options of {@link scoreCandidatesCached}. */
export interface ScoreCacheOptions {
  /** The test set's questions (same order as the candidate file), handed to the scorer; placeholders otherwise. */
  questions?: readonly Question[];
  /** How NaN scores are read back (see `readScoresFile`). Default `error`. */
  nan?: "error" | "exclude";
  /** Progress lines on stderr (default true). */
  progress?: boolean;
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
 * `.partial` file and printing progress on stderr; an interrupted run resumes where it stopped.
 * Throws when the scorer returns the wrong number of scores (naming question and candidate), or when an
 * existing cache file does not match the candidates or names another scorer.
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
  const showProgress = options.progress ?? true;
  const started = Date.now();
  for (let q = done; q < total; q++) {
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
    if (showProgress) {
      const seconds = (Date.now() - started) / 1000;
      process.stderr.write(
        `scoring with ${scorer.name}: ${q + 1}/${total} questions (${seconds.toFixed(1)} s)\n`,
      );
    }
  }
  await rename(partial, path);
  return readScoresFile(path, readOptions);
}
