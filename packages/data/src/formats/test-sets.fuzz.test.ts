import type { FuzzJson } from "@pqm/testing/fuzz";
import {
  FuzzTally,
  fuzzParameters,
  fuzzRuns,
  mutatedFile,
  renderJsonl,
  renderMutatedFile,
} from "@pqm/testing/fuzz";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectDataError,
  expectWellFormedQuestion,
  fuzzFolder,
  fuzzText,
} from "./fuzz-checks.test-helper.js";
import { loadGsm8k, loadGsmPlus, loadMath500, loadQuestions } from "./test-sets.js";

// Valid test-set rows of each loader (MATH500, GSM8K, GSM-Plus, a generic question file), as JSONL
// or a JSON list, then mutated: answers retyped, '####' removed, levels as strings, ids as objects,
// fields deleted, bytes flipped or cut, odd numbers, a BOM, CRLF.

const number = fc.oneof(
  fc.integer({ min: -9999, max: 99999 }).map(String),
  fc.constantFrom("1,234", "0.5", "-3"),
);

const rows = {
  math500: fc.record({
    problem: fuzzText,
    solution: fuzzText,
    answer: fuzzText,
    subject: fc.constantFrom("Algebra", "Geometry", "Number Theory"),
    level: fc.integer({ min: 1, max: 5 }),
    unique_id: fc.nat(999).map((id) => `test/algebra/${id}.json`),
  }),
  gsm8k: fc
    .record({ question: fuzzText, work: fuzzText, gold: number })
    .map((value) => ({ question: value.question, answer: `${value.work}\n#### ${value.gold}` })),
  "gsm-plus": fc
    .record({
      question: fuzzText,
      answer: fc.oneof(number, fc.constant("None")),
      perturbation_type: fc.constantFrom(
        "numerical substitution",
        "critical thinking",
        "distraction insertion",
      ),
      seed: fc.option(number, { nil: undefined }),
    })
    .map(({ seed, ...rest }) => (seed === undefined ? rest : { ...rest, seed_answer: seed })),
  questions: fc
    .record({
      text: fuzzText,
      problem: fc.boolean(),
      answer: fc.oneof(fuzzText, fc.integer(), fc.constant(null), fc.constant("None")),
      id: fc.option(fc.oneof(fc.nat(), fc.stringMatching(/^[a-z0-9]{1,6}$/)), { nil: undefined }),
      source: fc.option(fuzzText, { nil: undefined }),
    })
    .map((value) => {
      const record: { [key: string]: FuzzJson } = { [value.problem ? "problem" : "question"]: value.text };
      record.answer = value.answer;
      if (value.id !== undefined) record.id = value.id;
      if (value.source !== undefined) record.source = value.source;
      return record;
    }),
} as const;

type Loader = keyof typeof rows;
const loaders: Record<Loader, (path: string) => Promise<unknown[]>> = {
  math500: (path) => loadMath500(path),
  gsm8k: (path) => loadGsm8k(path),
  "gsm-plus": (path) => loadGsmPlus(path),
  questions: (path) => loadQuestions(path, { domain: "gsm" }),
};

let folder: Awaited<ReturnType<typeof fuzzFolder>>;
beforeAll(async () => {
  folder = await fuzzFolder("test-sets");
});
afterAll(async () => {
  await folder.dispose();
});

describe("test-set loaders under fuzzing", () => {
  const names = Object.keys(rows) as Loader[];
  names.forEach((name, position) => {
    it(`${name}: every mutated file loads to well-formed questions or names file, line and field`, async () => {
      const tally = new FuzzTally(`test-set ${name}`);
      const files = mutatedFile(
        fc.array(rows[name] as fc.Arbitrary<FuzzJson>, { minLength: 1, maxLength: 4 }),
      );
      await fc.assert(
        fc.asyncProperty(files, fc.boolean(), async (input, jsonl) => {
          const bytes = renderMutatedFile(input, jsonl ? renderJsonl : (records) => JSON.stringify(records));
          const path = await folder.write(jsonl ? `${name}.jsonl` : `${name}.json`, bytes);
          try {
            const questions = await loaders[name](path);
            for (const question of questions) expectWellFormedQuestion(question as never);
            if (input.json.length === 0 && input.bytes.length === 0) {
              expect(questions).toHaveLength((input.records as FuzzJson[]).length);
            }
            tally.accept();
          } catch (error) {
            expectDataError(error, path, tally);
          }
        }),
        fuzzParameters(2110 + position, fuzzRuns(150, 3_000)),
      );
      tally.record();
      expect(tally.accepted).toBeGreaterThan(0);
    });
  });
});
