import { ArithEnvironment, writeFileAtomic } from "@pqm/data";

/** Options of `pqm data make-arith`. */
export interface MakeArithOptions {
  /** The candidate file to write (a JSON list in the PQM release format). */
  candidates: string;
  /** The test file to write (JSONL: `id`, `question`, `answer`; read with `--domain gsm`). */
  test: string;
  /** Test questions. */
  questions: number;
  /** Sampled candidate solutions per question. */
  n: number;
  /** Seed of the arith environment (its problems and its policy). */
  seed: number;
}

/** What `pqm data make-arith` wrote. */
export interface MakeArithReport {
  candidates: string;
  test: string;
  questions: number;
  n: number;
  seed: number;
}

/**
 * Writes a best-of-n candidate file and the matching test file from the built-in arith
 * environment: `questions` test questions (the environment's test split, from index 0) with `n`
 * sampled solutions each. Every response also carries its exact `steps`, `process_labels` and
 * `q_values`. The same options give the same files.
 */
export async function makeArithFiles(options: MakeArithOptions): Promise<MakeArithReport> {
  const environment = new ArithEnvironment({ seed: options.seed });
  const questions = environment.testQuestions(options.questions);
  await writeFileAtomic(
    options.test,
    questions.map(
      (question) =>
        `${JSON.stringify({ id: question.id, question: question.text, answer: question.answer })}\n`,
    ),
  );
  await environment.writeCandidateFile(options.candidates, { questions: options.questions, n: options.n });
  return {
    candidates: options.candidates,
    test: options.test,
    questions: options.questions,
    n: options.n,
    seed: options.seed,
  };
}
