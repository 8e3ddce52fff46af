import { deriveSeed, SeededRandom } from "@pqm/core/reference";
import type { ArithOperandRef, ArithOperator, ArithProblem, ArithStepSpec } from "./arith-problem.js";
import { applyOperator } from "./arith-problem.js";

/** Knobs of the arith policy's mistakes. All rates are probabilities per written step. */
export interface ArithPolicyOptions {
  /** Base chance that a step goes wrong (default 0.1); scaled per step by its operator and size. */
  errorRate?: number;
  /** Share of mistakes that are arithmetic slips: right operands, wrong result (default 0.5). */
  slipShare?: number;
  /** Share of mistakes that copy a wrong number as the first operand (default 0.3). */
  wrongOperandShare?: number;
  /** Share of mistakes that skip a step, so later steps use a stale value (default 0.2). */
  skipShare?: number;
  /** Chance that a step taken from a wrong state recomputes from the right values (default 0.02). */
  recoveryRate?: number;
  /** Chance that a wrong final step states the gold answer anyway (default 0.01). */
  coincidenceRate?: number;
  /** Offsets a slip may add to the right result (default [-2, -1, 1, 2, 10, -10]). */
  slipDeltas?: number[];
  /** How many of `slipDeltas` are possible at one step (default 2; fewer keeps enumeration small). */
  slipChoices?: number;
  /** How many wrong numbers a wrong-operand mistake may copy at one step (default 1). */
  wrongOperandChoices?: number;
}

/** The policy's knobs with defaults filled in. */
export type ResolvedArithPolicyOptions = Required<ArithPolicyOptions>;

const DEFAULT_POLICY_OPTIONS: ResolvedArithPolicyOptions = {
  errorRate: 0.1,
  slipShare: 0.5,
  wrongOperandShare: 0.3,
  skipShare: 0.2,
  recoveryRate: 0.02,
  coincidenceRate: 0.01,
  slipDeltas: [-2, -1, 1, 2, 10, -10],
  slipChoices: 2,
  wrongOperandChoices: 1,
};

// Harder operations and bigger numbers go wrong more often, which spreads V(x) across problems.
const OPERATOR_DIFFICULTY: Record<ArithOperator, number> = { "+": 0.7, "-": 0.9, "*": 1.5, "/": 1.3 };

/** Resolves and validates policy options; throws a RangeError naming the bad knob. */
export function resolveArithPolicyOptions(options: ArithPolicyOptions = {}): ResolvedArithPolicyOptions {
  const resolved: ResolvedArithPolicyOptions = { ...DEFAULT_POLICY_OPTIONS };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (resolved as unknown as Record<string, unknown>)[key] = value;
  }
  for (const key of ["errorRate", "recoveryRate", "coincidenceRate"] as const) {
    const value = resolved[key];
    if (!(value >= 0 && value <= 1))
      throw new RangeError(`arith policy: ${key} must be in [0, 1], got ${value}`);
  }
  for (const key of ["slipShare", "wrongOperandShare", "skipShare"] as const) {
    if (!(resolved[key] >= 0)) throw new RangeError(`arith policy: ${key} must be >= 0`);
  }
  if (resolved.slipShare + resolved.wrongOperandShare + resolved.skipShare <= 0) {
    throw new RangeError("arith policy: the mistake shares must not all be 0");
  }
  if (resolved.slipDeltas.length === 0 || resolved.slipDeltas.some((d) => !Number.isInteger(d) || d === 0)) {
    throw new RangeError("arith policy: slipDeltas must be non-zero integers");
  }
  if (!Number.isInteger(resolved.slipChoices) || resolved.slipChoices < 1) {
    throw new RangeError("arith policy: slipChoices must be an integer >= 1");
  }
  if (!Number.isInteger(resolved.wrongOperandChoices) || resolved.wrongOperandChoices < 0) {
    throw new RangeError("arith policy: wrongOperandChoices must be an integer >= 0");
  }
  return resolved;
}

/** One step as written: which reference step it computes, its operands, result and stated answer. */
export interface ArithWrittenStep {
  /** 0-based index of the reference step it computes (`ArithProblem.steps`). */
  stepIndex: number;
  left: number;
  right: number;
  result: number;
  /** The final answer the step states, or null (only the last reference step states one). */
  answer: number | null;
}

/**
 * What the policy knows after a prefix: the next reference step to compute and the value it holds
 * for every earlier reference step (its own, possibly wrong, results; a skipped step keeps the
 * value its first operand had).
 */
export interface ArithPolicyState {
  next: number;
  values: number[];
}

/** The kinds of things the policy can do at one step. */
export type ArithOutcomeKind = "correct" | "slip" | "wrong-operand" | "skip" | "recover" | "coincidence";

/** One possible action at a state, with its probability. */
export interface ArithOutcome {
  kind: ArithOutcomeKind;
  probability: number;
  /** The step written, or null for a skip. */
  written: ArithWrittenStep | null;
  /** The value the policy holds for this reference step afterwards. */
  value: number;
}

/** The text of one step (without the `Step k:` tag): `lead left op right = result unit.` */
export function renderArithStep(problem: ArithProblem, written: ArithWrittenStep): string {
  const spec = specAt(problem, written.stepIndex);
  const answer = written.answer === null ? "" : ` The answer is: ${written.answer}`;
  return `${spec.lead} ${written.left} ${spec.operator} ${written.right} = ${written.result} ${spec.unit}.${answer}`;
}

function specAt(problem: ArithProblem, index: number): ArithStepSpec {
  const spec = problem.steps[index];
  if (spec === undefined) throw new RangeError(`arith: ${problem.id} has no step ${index}`);
  return spec;
}

const NUMBER = String.raw`(-?\d+(?:\.\d+)?)`;
const STEP_PATTERN = new RegExp(
  String.raw`^(?:Step \d+:\s*)?(.+?) ${NUMBER} ([-+*/]) ${NUMBER} = ${NUMBER} (\S+)\.(?: The answer is: ${NUMBER})?\s*$`,
);

/**
 * Parses written steps back into their structure, in order. A step names the reference step it
 * computes by its lead words, so skipped steps show up as gaps. Throws an Error naming the question
 * and the 1-based step when a step is not in the environment's format or out of order.
 */
export function parseArithSteps(problem: ArithProblem, steps: readonly string[]): ArithWrittenStep[] {
  const parsed: ArithWrittenStep[] = [];
  let expected = 0;
  steps.forEach((raw, position) => {
    const fail: (reason: string) => never = (reason) => {
      throw new Error(`arith: ${problem.id}, step ${position + 1}: ${reason}: ${JSON.stringify(raw)}`);
    };
    const match = STEP_PATTERN.exec(raw.trim());
    if (match === null) fail("not in the form 'lead a op b = c unit.'");
    const [, lead, left, operator, right, result, unit, answer] = match;
    let stepIndex = -1;
    for (let i = expected; i < problem.steps.length; i++) {
      if (problem.steps[i]?.lead === lead) {
        stepIndex = i;
        break;
      }
    }
    if (stepIndex < 0) fail("no remaining step of the problem starts with these words");
    const spec = specAt(problem, stepIndex);
    if (spec.operator !== operator || spec.unit !== unit)
      fail(`expected operator ${spec.operator} and ${spec.unit}`);
    const isLast = stepIndex === problem.steps.length - 1;
    if (isLast !== (answer !== undefined))
      fail(isLast ? "the last step must state the answer" : "early answer");
    parsed.push({
      stepIndex,
      left: Number(left),
      right: Number(right),
      result: Number(result),
      answer: answer === undefined ? null : Number(answer),
    });
    expected = stepIndex + 1;
  });
  return parsed;
}

/** The correct written form of every reference step. */
export function referenceArithSteps(problem: ArithProblem): ArithWrittenStep[] {
  return problem.steps.map((spec, stepIndex) => ({
    stepIndex,
    left: trueOperand(problem, spec.left),
    right: trueOperand(problem, spec.right),
    result: spec.value,
    answer: stepIndex === problem.steps.length - 1 ? spec.value : null,
  }));
}

function trueOperand(problem: ArithProblem, ref: ArithOperandRef): number {
  const value = ref.kind === "given" ? problem.givens[ref.index] : problem.steps[ref.index]?.value;
  if (value === undefined)
    throw new Error(`arith: ${problem.id}: dangling ${ref.kind} reference ${ref.index}`);
  return value;
}

function ownOperand(problem: ArithProblem, state: ArithPolicyState, ref: ArithOperandRef): number {
  const value = ref.kind === "given" ? problem.givens[ref.index] : state.values[ref.index];
  if (value === undefined)
    throw new Error(`arith: ${problem.id}: operand ${ref.kind} ${ref.index} not known yet`);
  return value;
}

/** The state before any step. */
export function initialArithState(): ArithPolicyState {
  return { next: 0, values: [] };
}

/** The state after parsed written steps: skipped reference steps keep their first operand's value. */
export function arithStateAfter(
  problem: ArithProblem,
  written: readonly ArithWrittenStep[],
): ArithPolicyState {
  const state = initialArithState();
  for (const step of written) {
    while (state.next < step.stepIndex) {
      state.values.push(ownOperand(problem, state, specAt(problem, state.next).left));
      state.next++;
    }
    state.values.push(step.result);
    state.next++;
  }
  return state;
}

/** True when the state has computed the last reference step (the solution has ended). */
export function isTerminalArithState(problem: ArithProblem, state: ArithPolicyState): boolean {
  return state.next >= problem.steps.length;
}

/**
 * The policy's exact behaviour: the distribution over what it does at reference step `state.next`
 * (probabilities sum to 1). Both the sampler and the exact enumeration use this one function, so
 * sampled rollouts and exact Q-values describe the same policy.
 */
export class ArithPolicyModel {
  readonly options: ResolvedArithPolicyOptions;
  // Exact Q of a state, per problem; states of one problem share subtrees, so the memo pays.
  readonly #memo = new Map<string, Map<string, number>>();

  /** Builds the model; throws a RangeError on bad options. */
  constructor(options: ArithPolicyOptions = {}) {
    this.options = resolveArithPolicyOptions(options);
  }

  /** The chance that reference step `index` goes wrong when its inputs are right. */
  stepErrorRate(problem: ArithProblem, index: number): number {
    const spec = specAt(problem, index);
    const size = spec.value >= 1000 ? 1.5 : spec.value >= 100 ? 1.25 : 1;
    return Math.min(0.9, this.options.errorRate * OPERATOR_DIFFICULTY[spec.operator] * size);
  }

  /** The outcomes at a non-terminal state with their probabilities. Throws at a terminal state. */
  outcomes(problem: ArithProblem, state: ArithPolicyState): ArithOutcome[] {
    const index = state.next;
    const spec = specAt(problem, index);
    const isLast = index === problem.steps.length - 1;
    const left = ownOperand(problem, state, spec.left);
    const right = ownOperand(problem, state, spec.right);
    const trueLeft = trueOperand(problem, spec.left);
    const trueRight = trueOperand(problem, spec.right);
    const write = (l: number, r: number, result: number): ArithWrittenStep => ({
      stepIndex: index,
      left: l,
      right: r,
      result,
      answer: isLast ? result : null,
    });
    const outcomes: ArithOutcome[] = [];
    let mass = 1;
    const { recoveryRate, coincidenceRate } = this.options;
    if ((left !== trueLeft || right !== trueRight) && recoveryRate > 0) {
      outcomes.push({
        kind: "recover",
        probability: recoveryRate,
        written: write(trueLeft, trueRight, spec.value),
        value: spec.value,
      });
      mass *= 1 - recoveryRate;
    }
    const result = applyOperator(spec.operator, left, right);
    if (isLast && result !== problem.answer && coincidenceRate > 0) {
      outcomes.push({
        kind: "coincidence",
        probability: mass * coincidenceRate,
        written: write(left, right, problem.answer),
        value: problem.answer,
      });
      mass *= 1 - coincidenceRate;
    }
    const errorRate = this.stepErrorRate(problem, index);
    outcomes.push({
      kind: "correct",
      probability: mass * (1 - errorRate),
      written: write(left, right, result),
      value: result,
    });

    const slips = this.#slipResults(problem, index, result);
    const wrongOperands = this.#wrongOperands(problem, state, left);
    const shares = {
      slip: this.options.slipShare,
      wrong: wrongOperands.length > 0 ? this.options.wrongOperandShare : 0,
      skip: isLast ? 0 : this.options.skipShare,
    };
    if (shares.slip + shares.wrong + shares.skip === 0) shares.slip = 1;
    const total = shares.slip + shares.wrong + shares.skip;
    const errorMass = mass * errorRate;
    for (const slip of slips) {
      outcomes.push({
        kind: "slip",
        probability: (errorMass * shares.slip) / total / slips.length,
        written: write(left, right, slip),
        value: slip,
      });
    }
    for (const wrong of wrongOperands) {
      const wrongResult = applyOperator(spec.operator, wrong, right);
      outcomes.push({
        kind: "wrong-operand",
        probability: (errorMass * shares.wrong) / total / wrongOperands.length,
        written: write(wrong, right, wrongResult),
        value: wrongResult,
      });
    }
    if (shares.skip > 0) {
      outcomes.push({
        kind: "skip",
        probability: (errorMass * shares.skip) / total,
        written: null,
        value: left,
      });
    }
    return outcomes.filter((outcome) => outcome.probability > 0);
  }

  // The slip values are a fixed function of the step and the result it should have, so the
  // enumeration sees exactly the choices the sampler makes.
  #slipResults(problem: ArithProblem, index: number, result: number): number[] {
    const rng = new SeededRandom(deriveSeed(problem.seed, "slip", index, result));
    const deltas = [...this.options.slipDeltas];
    for (let i = deltas.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [deltas[i], deltas[j]] = [deltas[j] as number, deltas[i] as number];
    }
    const values: number[] = [];
    for (const delta of deltas) {
      const value = Math.round((result + delta) * 100) / 100;
      if ((value >= 0 || result < 0) && !values.includes(value)) values.push(value);
      if (values.length === this.options.slipChoices) break;
    }
    return values.length > 0 ? values : [result + 1];
  }

  // A wrong operand is a number copied from elsewhere: the latest earlier results first, then the
  // question's numbers from last to first; never the value the step should use.
  #wrongOperands(problem: ArithProblem, state: ArithPolicyState, left: number): number[] {
    const pool = [...state.values].reverse().concat([...problem.givens].reverse());
    const chosen: number[] = [];
    for (const value of pool) {
      if (chosen.length >= this.options.wrongOperandChoices) break;
      if (value !== left && !chosen.includes(value)) chosen.push(value);
    }
    return chosen;
  }

  /** Applies an outcome to a state (returns a new state). */
  advance(state: ArithPolicyState, outcome: ArithOutcome): ArithPolicyState {
    return { next: state.next + 1, values: [...state.values, outcome.value] };
  }

  /**
   * The exact probability that continuing with this policy from `state` ends in the gold answer,
   * by enumerating the policy's finite choice tree with memoisation (no sampling).
   */
  exactQ(problem: ArithProblem, state: ArithPolicyState): number {
    const key = `${problem.id}:${problem.seed}`;
    let memo = this.#memo.get(key);
    if (memo === undefined) {
      // A cap keeps a long-running process from growing without bound.
      if (this.#memo.size >= 256) this.#memo.clear();
      memo = new Map();
      this.#memo.set(key, memo);
    }
    return this.#q(problem, state, memo);
  }

  #q(problem: ArithProblem, state: ArithPolicyState, memo: Map<string, number>): number {
    if (isTerminalArithState(problem, state)) {
      return state.values[problem.steps.length - 1] === problem.answer ? 1 : 0;
    }
    const key = `${state.next}|${state.values.join(",")}`;
    const cached = memo.get(key);
    if (cached !== undefined) return cached;
    let q = 0;
    for (const outcome of this.outcomes(problem, state)) {
      q += outcome.probability * this.#q(problem, this.advance(state, outcome), memo);
    }
    memo.set(key, q);
    return q;
  }

  /** Samples written steps from `state` to the end of the solution. */
  sample(problem: ArithProblem, state: ArithPolicyState, rng: SeededRandom): ArithWrittenStep[] {
    const written: ArithWrittenStep[] = [];
    while (!isTerminalArithState(problem, state)) {
      const outcomes = this.outcomes(problem, state);
      let u = rng.next();
      let chosen = outcomes[outcomes.length - 1] as ArithOutcome;
      for (const outcome of outcomes) {
        u -= outcome.probability;
        if (u < 0) {
          chosen = outcome;
          break;
        }
      }
      if (chosen.written !== null) written.push(chosen.written);
      state = this.advance(state, chosen);
    }
    return written;
  }
}

/**
 * The exact process label of every step (strict form, see docs/method.md, section 6): 1 while every step so
 * far is the reference step at its position with the right operands, result and answer; 0 from the
 * first mistake on, even where a later step recovers. Throws like `parseArithSteps`.
 */
export function arithProcessLabels(problem: ArithProblem, steps: readonly string[]): Array<0 | 1> {
  const written = parseArithSteps(problem, steps);
  const reference = referenceArithSteps(problem);
  const labels: Array<0 | 1> = [];
  let right = true;
  written.forEach((step, position) => {
    const expected = reference[position];
    right =
      right &&
      expected !== undefined &&
      step.stepIndex === expected.stepIndex &&
      step.left === expected.left &&
      step.right === expected.right &&
      step.result === expected.result &&
      step.answer === expected.answer;
    labels.push(right ? 1 : 0);
  });
  return labels;
}

/**
 * The exact Q-value after every step prefix (`result[t]` is Q after steps 0..t): the probability,
 * under `model`, of ending in the gold answer when continuing from there. Throws like `parseArithSteps`.
 */
export function arithQValues(
  model: ArithPolicyModel,
  problem: ArithProblem,
  steps: readonly string[],
): number[] {
  const written = parseArithSteps(problem, steps);
  return written.map((_, t) => model.exactQ(problem, arithStateAfter(problem, written.slice(0, t + 1))));
}
