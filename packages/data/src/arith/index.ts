// The built-in "arith" environment: seeded word problems, a stochastic policy, exact labels and Q-values.

export type {
  ArithCandidateEntry,
  ArithCandidateResponse,
  ArithEnvironmentOptions,
  ArithSolution,
} from "./arith-environment.js";
export { ArithEnvironment, arithQuestion } from "./arith-environment.js";
export { ArithPolicy, countWords } from "./arith-policy.js";
export type {
  ArithOutcome,
  ArithOutcomeKind,
  ArithPolicyOptions,
  ArithPolicyState,
  ArithWrittenStep,
  ResolvedArithPolicyOptions,
} from "./arith-policy-model.js";
export {
  ArithPolicyModel,
  arithProcessLabels,
  arithQValues,
  arithStateAfter,
  initialArithState,
  isTerminalArithState,
  parseArithSteps,
  referenceArithSteps,
  renderArithStep,
} from "./arith-policy-model.js";
export type {
  ArithOperandRef,
  ArithOperator,
  ArithProblem,
  ArithProblemOptions,
  ArithStepSpec,
  ResolvedArithProblemOptions,
} from "./arith-problem.js";
export {
  arithProblemFromJson,
  generateArithProblem,
} from "./arith-problem.js";
