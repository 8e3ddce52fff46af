import { deriveSeed, SeededRandom } from "@pqm/core/reference";
import { DataFormatError } from "../errors.js";

/** An arithmetic operator of the arith environment; `/` is always exact on the correct path. */
export type ArithOperator = "+" | "-" | "*" | "/";

/** Where an operand's value comes from: a number stated in the question, or an earlier step's result. */
export type ArithOperandRef = { kind: "given"; index: number } | { kind: "step"; index: number };

/** One step of an arith problem's reference solution: `lead left op right = value unit.` */
export interface ArithStepSpec {
  operator: ArithOperator;
  left: ArithOperandRef;
  right: ArithOperandRef;
  /** The words before the computation; unique within a problem, so a written step names its step. */
  lead: string;
  /** The object counted (`apples`). */
  unit: string;
  /** The correct result of the step. */
  value: number;
}

/** A generated word problem with its structured reference solution. JSON-serialisable. */
export interface ArithProblem {
  /** `arith-<split>-<index>`. */
  id: string;
  split: string;
  index: number;
  /** The seed the problem was generated from (derived from the environment seed, split and index). */
  seed: number;
  /** The question text. */
  text: string;
  /** The numbers the question states, in the order it states them. */
  givens: number[];
  /** The reference solution, one entry per step. */
  steps: ArithStepSpec[];
  /** The gold final answer (the last step's value). */
  answer: number;
}

/** Knobs of the problem generator. */
export interface ArithProblemOptions {
  /** Fewest steps of a reference solution (default 3, at least 1). */
  minSteps?: number;
  /** Most steps of a reference solution (default 6, at most 8). */
  maxSteps?: number;
  /** Smallest quantity stated in a question (default 2). */
  minNumber?: number;
  /** Largest quantity added, removed or started from (default 50). */
  maxNumber?: number;
  /** Largest intermediate result allowed on the correct path (default 9999). */
  maxResult?: number;
}

/** The generator's knobs with their defaults filled in. */
export type ResolvedArithProblemOptions = Required<ArithProblemOptions>;

const DEFAULT_PROBLEM_OPTIONS: ResolvedArithProblemOptions = {
  minSteps: 3,
  maxSteps: 6,
  minNumber: 2,
  maxNumber: 50,
  maxResult: 9999,
};

const PEOPLE: ReadonlyArray<readonly [string, "She" | "He"]> = [
  ["Mia", "She"],
  ["Tom", "He"],
  ["Ava", "She"],
  ["Leo", "He"],
  ["Zoe", "She"],
  ["Sam", "He"],
  ["Ivy", "She"],
  ["Max", "He"],
  ["Eva", "She"],
  ["Ben", "He"],
];
const OBJECTS = ["apples", "pencils", "stickers", "marbles", "cookies", "coins", "cards", "shells"];

/** Resolves and validates generator options; throws a RangeError naming the bad knob. */
export function resolveArithProblemOptions(options: ArithProblemOptions = {}): ResolvedArithProblemOptions {
  const resolved = { ...DEFAULT_PROBLEM_OPTIONS, ...definedOnly(options) };
  const { minSteps, maxSteps, minNumber, maxNumber, maxResult } = resolved;
  if (!Number.isInteger(minSteps) || minSteps < 1) throw new RangeError(`arith: minSteps must be >= 1`);
  if (!Number.isInteger(maxSteps) || maxSteps < minSteps || maxSteps > 8) {
    throw new RangeError(`arith: maxSteps must be an integer in [minSteps, 8], got ${maxSteps}`);
  }
  if (!Number.isInteger(minNumber) || minNumber < 1) throw new RangeError(`arith: minNumber must be >= 1`);
  if (!Number.isInteger(maxNumber) || maxNumber < minNumber + 8) {
    throw new RangeError(`arith: maxNumber must be at least minNumber + 8, got ${maxNumber}`);
  }
  if (!Number.isInteger(maxResult) || maxResult < maxNumber * 4) {
    throw new RangeError(`arith: maxResult must be at least 4 * maxNumber, got ${maxResult}`);
  }
  return resolved;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The result of `left op right` as the environment computes it. On the correct path every result
 * is an integer; on a wrong path a division may be inexact and then gives a decimal (rounded to two
 * places, like a model writing 9.2), so an earlier slip is not silently undone by rounding down.
 */
export function applyOperator(operator: ArithOperator, left: number, right: number): number {
  let value: number;
  switch (operator) {
    case "+":
      value = left + right;
      break;
    case "-":
      value = left - right;
      break;
    case "*":
      value = left * right;
      break;
    case "/":
      // Only a wrong path can divide by zero; a model would still write some number.
      value = right === 0 ? 0 : left / right;
      break;
  }
  return Math.round(value * 100) / 100;
}

interface Builder {
  rng: SeededRandom;
  options: ResolvedArithProblemOptions;
  person: string;
  pronoun: "She" | "He";
  friend: string;
  object: string;
  givens: number[];
  steps: ArithStepSpec[];
  sentences: string[];
  /** Reference to the running total (the person's current count). */
  total: ArithOperandRef;
  totalValue: number;
}

/** One kind of event in a story: its step count and a builder that returns false when it cannot apply. */
interface EventKind {
  name: string;
  steps: number;
  apply(builder: Builder): boolean;
}

function addGiven(builder: Builder, value: number): ArithOperandRef {
  builder.givens.push(value);
  return { kind: "given", index: builder.givens.length - 1 };
}

function addStep(
  builder: Builder,
  operator: ArithOperator,
  left: ArithOperandRef,
  right: ArithOperandRef,
  lead: string,
): ArithOperandRef {
  const value = applyOperator(operator, operandValue(builder, left), operandValue(builder, right));
  builder.steps.push({ operator, left, right, lead, unit: builder.object, value });
  return { kind: "step", index: builder.steps.length - 1 };
}

function operandValue(builder: { givens: number[]; steps: ArithStepSpec[] }, ref: ArithOperandRef): number {
  const value = ref.kind === "given" ? builder.givens[ref.index] : builder.steps[ref.index]?.value;
  if (value === undefined) throw new Error(`arith: dangling operand reference ${ref.kind} ${ref.index}`);
  return value;
}

function setTotal(builder: Builder, ref: ArithOperandRef): void {
  builder.total = ref;
  builder.totalValue = operandValue(builder, ref);
}

const EVENT_KINDS: readonly EventKind[] = [
  {
    name: "buy",
    steps: 1,
    apply(b) {
      const amount = b.rng.int(b.options.minNumber, b.options.maxNumber);
      if (b.totalValue + amount > b.options.maxResult) return false;
      b.sentences.push(`${b.pronoun} buys ${amount} more.`);
      setTotal(b, addStep(b, "+", b.total, addGiven(b, amount), `After buying more, ${b.person} has`));
      return true;
    },
  },
  {
    name: "give",
    steps: 1,
    apply(b) {
      const most = Math.min(b.options.maxNumber, b.totalValue - 2);
      if (most < b.options.minNumber) return false;
      const amount = b.rng.int(b.options.minNumber, most);
      b.sentences.push(`${b.pronoun} gives ${amount} to ${b.friend}.`);
      setTotal(
        b,
        addStep(b, "-", b.total, addGiven(b, amount), `After giving to ${b.friend}, ${b.person} has`),
      );
      return true;
    },
  },
  {
    name: "bags",
    steps: 2,
    apply(b) {
      const bags = b.rng.int(2, 9);
      const each = b.rng.int(2, 12);
      if (b.totalValue + bags * each > b.options.maxResult) return false;
      b.sentences.push(`${b.pronoun} buys ${bags} bags with ${each} ${b.object} each.`);
      const product = addStep(b, "*", addGiven(b, bags), addGiven(b, each), "The bags hold");
      setTotal(b, addStep(b, "+", b.total, product, `With the bags, ${b.person} has`));
      return true;
    },
  },
  {
    name: "share",
    steps: 1,
    apply(b) {
      const divisors = [2, 3, 4, 5, 6].filter((d) => b.totalValue % d === 0 && b.totalValue / d >= 2);
      if (divisors.length === 0) return false;
      const piles = b.rng.pick(divisors);
      b.sentences.push(`${b.pronoun} splits them into ${piles} equal piles and keeps one.`);
      setTotal(b, addStep(b, "/", b.total, addGiven(b, piles), `${b.person} keeps`));
      return true;
    },
  },
  {
    name: "grow",
    steps: 1,
    apply(b) {
      const factor = b.rng.int(2, 4);
      if (b.totalValue * factor > b.options.maxResult) return false;
      b.sentences.push(`Then ${b.person}'s ${b.object} grow ${factor} times.`);
      setTotal(b, addStep(b, "*", b.total, addGiven(b, factor), `After growing, ${b.person} has`));
      return true;
    },
  },
  {
    name: "use",
    steps: 2,
    apply(b) {
      const perDay = b.rng.int(2, 9);
      const days = b.rng.int(2, 7);
      if (perDay * days > b.totalValue - 2) return false;
      b.sentences.push(`${b.pronoun} uses ${perDay} a day for ${days} days.`);
      const used = addStep(b, "*", addGiven(b, perDay), addGiven(b, days), `In total ${b.person} uses`);
      setTotal(b, addStep(b, "-", b.total, used, `After that, ${b.person} has`));
      return true;
    },
  },
];

/**
 * Generates one problem, deterministically for `(seed, split, index)` and the options: a person
 * starts with some objects, a story of distinct events changes the count (each event one or two
 * steps), and the question asks for the final count.
 */
export function generateArithProblem(
  seed: number,
  split: string,
  index: number,
  options: ArithProblemOptions = {},
): ArithProblem {
  const resolved = resolveArithProblemOptions(options);
  for (let attempt = 0; attempt < 1000; attempt++) {
    const problemSeed = deriveSeed(seed, "arith-problem", split, index, attempt);
    const problem = tryGenerate(problemSeed, resolved);
    if (problem !== undefined) return { id: `arith-${split}-${index}`, split, index, ...problem };
  }
  throw new Error(`arith: could not generate problem ${split}/${index} with these options`);
}

function tryGenerate(
  seed: number,
  options: ResolvedArithProblemOptions,
): Omit<ArithProblem, "id" | "split" | "index"> | undefined {
  const rng = new SeededRandom(seed);
  const [person, pronoun] = rng.pick(PEOPLE);
  const friend = rng.pick(PEOPLE.filter(([name]) => name !== person))[0];
  const object = rng.pick(OBJECTS);
  const target = rng.int(options.minSteps, options.maxSteps);
  const start = rng.int(Math.max(options.minNumber, 10), Math.max(options.maxNumber, 10));
  const builder: Builder = {
    rng,
    options,
    person,
    pronoun,
    friend,
    object,
    givens: [],
    steps: [],
    sentences: [`${person} has ${start} ${object}.`],
    total: { kind: "given", index: 0 },
    totalValue: start,
  };
  builder.givens.push(start);
  const unused = [...EVENT_KINDS];
  while (builder.steps.length < target) {
    const remaining = target - builder.steps.length;
    const fitting = unused.filter((kind) => kind.steps <= remaining);
    if (fitting.length === 0) return undefined;
    const kind = rng.pick(fitting);
    unused.splice(unused.indexOf(kind), 1);
    // An event that cannot apply to the current count is dropped; the loop tries another.
    kind.apply(builder);
  }
  builder.sentences.push(`How many ${object} does ${person} have now?`);
  const last = builder.steps[builder.steps.length - 1];
  if (last === undefined) return undefined;
  return {
    seed,
    text: builder.sentences.join(" "),
    givens: builder.givens,
    steps: builder.steps,
    answer: last.value,
  };
}

/** Reads an `ArithProblem` back from JSON data (a question's `meta.arith`); throws DataFormatError. */
export function arithProblemFromJson(value: unknown, source = "question meta"): ArithProblem {
  const fail = (field: string, reason: string): never => {
    throw new DataFormatError({ file: source, field }, reason);
  };
  if (typeof value !== "object" || value === null) return fail("arith", "expected an object");
  const record = value as Record<string, unknown>;
  for (const field of ["id", "split", "text"]) {
    if (typeof record[field] !== "string") fail(`arith.${field}`, "expected a string");
  }
  for (const field of ["index", "seed", "answer"]) {
    if (typeof record[field] !== "number") fail(`arith.${field}`, "expected a number");
  }
  if (!Array.isArray(record.givens) || !record.givens.every((g) => typeof g === "number")) {
    fail("arith.givens", "expected an array of numbers");
  }
  if (!Array.isArray(record.steps) || record.steps.length === 0)
    fail("arith.steps", "expected a non-empty array");
  (record.steps as unknown[]).forEach((step, i) => {
    const s = step as Record<string, unknown>;
    if (typeof s !== "object" || s === null) fail(`arith.steps.${i}`, "expected an object");
    if (!["+", "-", "*", "/"].includes(s.operator as string))
      fail(`arith.steps.${i}.operator`, "bad operator");
    if (typeof s.lead !== "string" || typeof s.unit !== "string" || typeof s.value !== "number") {
      fail(`arith.steps.${i}`, "expected lead, unit (strings) and value (number)");
    }
  });
  return value as ArithProblem;
}
