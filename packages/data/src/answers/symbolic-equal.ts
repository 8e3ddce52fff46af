import { mulberry32 } from "@pqm/core/reference";
import { type EvalFunction, type MathNode, parse } from "mathjs";
import { GUARDED_BINOMIAL, LatexTranslationError, latexToMathjs } from "./latex-to-mathjs.js";

/** Limits that bound the work of one symbolic comparison. */
export interface SymbolicLimits {
  /** Longest normalised LaTeX (characters) that is compared symbolically. */
  maxLatexLength: number;
  /** Largest mathjs expression tree (nodes) that is evaluated. */
  maxNodes: number;
}

/** Defaults: far above any MATH answer (the longest MATH500 answer is 60 characters). */
export const DEFAULT_SYMBOLIC_LIMITS: SymbolicLimits = { maxLatexLength: 400, maxNodes: 250 };

// Sample points per comparison for expressions with variables, and how many must be defined.
const SAMPLE_POINTS = 8;
const MIN_DEFINED_POINTS = 3;
// Values for variables: positive and away from small integers, where poles and branch cuts sit.
const SAMPLE_LOW = 0.37;
const SAMPLE_HIGH = 2.71;
// Floating-point evaluation of two forms of one expression differs by rounding only.
const EVALUATION_TOLERANCE = 1e-8;

interface Compiled {
  evaluate: EvalFunction["evaluate"];
  variables: string[];
}

/**
 * Compares two normalised LaTeX expressions by value: constant expressions are evaluated once;
 * expressions with variables are evaluated at 8 seeded pseudo-random points (both sides at the
 * same points), and are equal when every point where both are defined agrees and at least 3 are
 * defined. `relativeTolerance` applies to constants; with variables it is at least 1e-8. Returns
 * false when either side cannot be translated, exceeds `limits`, or evaluates to a non-finite
 * value (so `10^{10^{10}}` never equals anything). Never throws.
 */
export function symbolicEqual(
  a: string,
  b: string,
  relativeTolerance: number,
  limits: SymbolicLimits = DEFAULT_SYMBOLIC_LIMITS,
): boolean {
  const left = compileLatex(a, limits);
  const right = compileLatex(b, limits);
  if (left === null || right === null) return false;
  const variables = [...new Set([...left.variables, ...right.variables])];
  try {
    if (variables.length === 0) {
      return valuesClose(left.evaluate(baseScope()), right.evaluate(baseScope()), relativeTolerance);
    }
    const random = mulberry32(variables.length * 7919 + 17);
    let defined = 0;
    for (let point = 0; point < SAMPLE_POINTS; point++) {
      const scope = baseScope();
      for (const variable of variables)
        scope.set(variable, SAMPLE_LOW + (SAMPLE_HIGH - SAMPLE_LOW) * random());
      const leftValue = toComplex(left.evaluate(scope));
      const rightValue = toComplex(right.evaluate(scope));
      if (leftValue === null || rightValue === null) continue;
      if (!complexClose(leftValue, rightValue, Math.max(relativeTolerance, EVALUATION_TOLERANCE)))
        return false;
      defined++;
    }
    return defined >= MIN_DEFINED_POINTS;
  } catch {
    return false;
  }
}

/**
 * Whether two equations (`lhs = rhs` each, normalised LaTeX) describe the same relation: the
 * differences `lhs - rhs` are proportional with one nonzero constant factor at every sample point
 * (so `2x + 2y = 4` matches `x + y = 2`, and sides may be swapped). Returns false when a side cannot
 * be translated or no variables appear.
 */
export function equationsEquivalent(
  left: readonly [string, string],
  right: readonly [string, string],
  limits: SymbolicLimits = DEFAULT_SYMBOLIC_LIMITS,
): boolean {
  const first = compileLatex(`(${left[0]})-(${left[1]})`, limits);
  const second = compileLatex(`(${right[0]})-(${right[1]})`, limits);
  if (first === null || second === null) return false;
  const variables = [...new Set([...first.variables, ...second.variables])];
  if (variables.length === 0) return false;
  try {
    const random = mulberry32(variables.length * 104729 + 3);
    let ratio: number | null = null;
    let defined = 0;
    for (let point = 0; point < SAMPLE_POINTS; point++) {
      const scope = baseScope();
      for (const variable of variables)
        scope.set(variable, SAMPLE_LOW + (SAMPLE_HIGH - SAMPLE_LOW) * random());
      const firstValue = toComplex(first.evaluate(scope));
      const secondValue = toComplex(second.evaluate(scope));
      if (firstValue === null || secondValue === null || firstValue.im !== 0 || secondValue.im !== 0)
        continue;
      if (Math.abs(secondValue.re) < 1e-9 || Math.abs(firstValue.re) < 1e-9) {
        if (Math.abs(secondValue.re) < 1e-9 && Math.abs(firstValue.re) < 1e-9) continue;
        return false;
      }
      const pointRatio = firstValue.re / secondValue.re;
      if (ratio === null) ratio = pointRatio;
      else if (Math.abs(pointRatio - ratio) > EVALUATION_TOLERANCE * Math.max(1, Math.abs(ratio)))
        return false;
      defined++;
    }
    return defined >= MIN_DEFINED_POINTS;
  } catch {
    return false;
  }
}

function compileLatex(latex: string, limits: SymbolicLimits): Compiled | null {
  if (latex.length > limits.maxLatexLength) return null;
  let translated: { source: string; variables: string[] };
  try {
    translated = latexToMathjs(latex);
  } catch (error) {
    if (error instanceof LatexTranslationError || error instanceof RangeError) return null;
    throw error;
  }
  try {
    const node: MathNode = parse(translated.source);
    let nodes = 0;
    node.traverse(() => {
      nodes++;
    });
    if (nodes > limits.maxNodes) return null;
    const compiled = node.compile();
    return { evaluate: (scope) => compiled.evaluate(scope), variables: translated.variables };
  } catch {
    return null;
  }
}

// Guards the one function whose cost grows with its argument: mathjs loops k times.
function binomialGuarded(n: unknown, k: unknown): number {
  if (typeof n !== "number" || typeof k !== "number") return Number.NaN;
  if (!Number.isInteger(n) || !Number.isInteger(k) || n < 0 || k < 0 || k > n || n > 10_000)
    return Number.NaN;
  let result = 1;
  const smaller = Math.min(k, n - k);
  for (let step = 1; step <= smaller; step++) result = (result * (n - smaller + step)) / step;
  return Math.round(result);
}

function baseScope(): Map<string, unknown> {
  return new Map<string, unknown>([[GUARDED_BINOMIAL, binomialGuarded]]);
}

interface ComplexValue {
  re: number;
  im: number;
}

function toComplex(value: unknown): ComplexValue | null {
  let result: ComplexValue | null = null;
  if (typeof value === "number") result = { re: value, im: 0 };
  else if (value !== null && typeof value === "object" && "re" in value && "im" in value) {
    const { re, im } = value as { re: unknown; im: unknown };
    if (typeof re === "number" && typeof im === "number") result = { re, im };
  }
  if (result === null || !Number.isFinite(result.re) || !Number.isFinite(result.im)) return null;
  return result;
}

function complexClose(a: ComplexValue, b: ComplexValue, relativeTolerance: number): boolean {
  const difference = Math.hypot(a.re - b.re, a.im - b.im);
  const scale = Math.max(Math.hypot(a.re, a.im), Math.hypot(b.re, b.im));
  return difference <= Math.max(relativeTolerance * scale, 1e-12);
}

function valuesClose(a: unknown, b: unknown, relativeTolerance: number): boolean {
  const left = toComplex(a);
  const right = toComplex(b);
  return left !== null && right !== null && complexClose(left, right, relativeTolerance);
}
