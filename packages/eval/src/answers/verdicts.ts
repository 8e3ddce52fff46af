import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { AnswerChecker, AnswerDomain } from "@pqm/core/reference";
import { writeFileAtomic } from "@pqm/data";

/** The verdict on one candidate: its extracted answer, whether it is right, its answer group. */
export interface CandidateVerdict {
  /** The extracted final answer, `null` when the candidate states none. */
  answer: string | null;
  correct: boolean;
  /** Answer group id within its question (equivalent answers share it), `null` when no answer. */
  group: number | null;
}

/** How answers are grouped for voting. */
export type AnswerGrouping = "checker" | "string";

/** Verdicts of every candidate of every question, as saved in results.json. */
export interface VerdictTable {
  checker: string;
  grouping: AnswerGrouping;
  /** `[question][candidate]`. */
  questions: CandidateVerdict[][];
  /** Indices of questions without a gold answer (the checker decides; @pqm/data's accepts "cannot be answered"). */
  noGoldAnswer: number[];
}

/** One question to check: the gold answer (`null`: none) and the domain. */
export interface GoldAnswer {
  answer: string | null;
  domain: AnswerDomain;
}

/** Options of {@link checkCandidateAnswers}. */
export interface VerdictOptions {
  /** `checker` (default): answers the checker finds equivalent share a group; `string`: equal normalized strings. */
  grouping?: AnswerGrouping;
  /**
   * A JSON cache of the verdicts, keyed by `cacheKey`: read when present and keyed alike, written
   * otherwise, so each candidate is checked once.
   */
  cacheFile?: string;
  /** What the cached verdicts depend on (e.g. the candidate file's hash and the test set); required with cacheFile. */
  cacheKey?: string;
}

/**
 * The normalized string used by `grouping: "string"`: whitespace removed, `\left`/`\right` and `$`
 * dropped, a trailing full stop removed.
 */
export function normalizeAnswerString(answer: string): string {
  return answer
    .replace(/\\left|\\right|\$/g, "")
    .replace(/\s+/g, "")
    .replace(/\.$/, "");
}

/**
 * Extracts and checks every candidate's final answer once, and groups equivalent answers.
 * Grouping: distinct answer strings in order of first appearance; with `checker`, a string joins the
 * first earlier group whose first string the checker finds equivalent (`isEquivalent(answer, first)`),
 * else starts a new group; with `string`, equal normalized strings share a group. Group ids count up
 * from 0 in order of first appearance. Correctness is `checker.isEquivalent(answer, gold, domain)` for
every candidate, also with a `null` answer or gold (the checker decides what those mean), computed once
per distinct answer string of a question.
 * Throws a RangeError when the gold list and the responses differ in length.
 */
export async function checkCandidateAnswers(
  golds: readonly GoldAnswer[],
  responses: readonly (readonly string[])[],
  checker: AnswerChecker,
  options: VerdictOptions = {},
): Promise<VerdictTable> {
  const grouping = options.grouping ?? "checker";
  if (golds.length !== responses.length) {
    throw new RangeError(`verdicts: ${golds.length} questions but candidates for ${responses.length}`);
  }
  const key = options.cacheFile ? `${options.cacheKey ?? ""}|${checker.name}|${grouping}` : "";
  if (options.cacheFile && existsSync(options.cacheFile)) {
    const cached = JSON.parse(await readFile(options.cacheFile, "utf8")) as {
      key?: string;
      verdicts?: VerdictTable;
    };
    if (cached.key === key && cached.verdicts && cached.verdicts.questions.length === golds.length) {
      return cached.verdicts;
    }
  }
  const questions: CandidateVerdict[][] = [];
  const noGoldAnswer: number[] = [];
  golds.forEach((gold, q) => {
    if (gold.answer === null) noGoldAnswer.push(q);
    const texts = responses[q]!;
    const answers = texts.map((text) => checker.extractAnswer(text, gold.domain));
    const groupOf = new Map<string, number>();
    const groupFirsts: string[] = [];
    const correctOf = new Map<string, boolean>();
    const verdicts = answers.map((answer): CandidateVerdict => {
      const cacheKey = answer ?? "\u0000none";
      let correct = correctOf.get(cacheKey);
      if (correct === undefined) {
        correct = checker.isEquivalent(answer, gold.answer, gold.domain);
        correctOf.set(cacheKey, correct);
      }
      if (answer === null) return { answer, correct, group: null };
      const groupKey = grouping === "string" ? normalizeAnswerString(answer) : answer;
      let group = groupOf.get(groupKey);
      if (group === undefined) {
        if (grouping === "checker") {
          group = groupFirsts.findIndex((first) => checker.isEquivalent(answer, first, gold.domain));
          if (group === -1) group = undefined;
        }
        if (group === undefined) {
          group = groupFirsts.length;
          groupFirsts.push(answer);
        }
        groupOf.set(groupKey, group);
      }
      return { answer, correct, group };
    });
    questions.push(verdicts);
  });
  const table: VerdictTable = { checker: checker.name, grouping, questions, noGoldAnswer };
  if (options.cacheFile) {
    await writeFileAtomic(options.cacheFile, JSON.stringify({ key, verdicts: table }));
  }
  return table;
}
