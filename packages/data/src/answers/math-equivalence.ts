import { isWrappedInBrackets, splitTopLevel } from "./latex-scan.js";
import { normalizeMathAnswer } from "./normalize-math-answer.js";
import { hasWrittenDecimal, numbersClose, parseNumberLiteral } from "./parse-number.js";
import { equationsEquivalent, type SymbolicLimits, symbolicEqual } from "./symbolic-equal.js";

/** Settings of the MATH comparison (all optional in `isEquivalent`). */
export interface MathEquivalenceSettings {
  /** Relative tolerance for answers that contain a written decimal (default 1e-4). */
  relativeTolerance: number;
  /** Whether to fall back to evaluating expressions with mathjs (default true). */
  symbolic: boolean;
  /** Work limits of the symbolic comparison. */
  limits: SymbolicLimits;
  /** Inputs longer than this (characters) are compared as trimmed strings only (default 10,000). */
  maxInputLength: number;
}

// Answers are compared element-wise; lists longer than this are not answers but run-away output.
const MAX_ELEMENTS = 64;
// Each \pm doubles the candidates; three is more than any answer has.
const MAX_PLUS_MINUS = 3;
// Exact forms are compared to this relative precision (float rounding only).
const EXACT_TOLERANCE = 1e-9;

type Structure =
  | { kind: "scalar"; text: string }
  | { kind: "unordered"; items: string[] }
  | { kind: "tuple"; open: string; close: string; items: string[] }
  | { kind: "matrix"; rows: string[][] }
  | { kind: "union"; items: string[] };

interface Context {
  settings: MathEquivalenceSettings;
  percentPrediction: boolean;
  percentGold: boolean;
  depth: number;
}

/**
 * Whether a predicted MATH answer equals a gold one (both raw answer strings, not solutions).
 * The steps, each tried only when the previous did not decide: identical trimmed strings;
 * identical normalised strings; structure (tuples and intervals element-wise with matching
 * brackets, matrices element-wise, bare lists and `\{...\}` sets as unordered multisets, `\cup`
 * unions unordered, `\pm` expanded into both values); then per element: plain numbers (exact forms
 * exactly, written decimals within `relativeTolerance`, a `%` on one side also tried as /100),
 * `var = value` against a bare value, equations as proportional relations, text case-insensitively,
 * base subscripts (`2516_8` against `2516`), and finally symbolic evaluation. Never throws.
 */
export function isMathEquivalent(
  prediction: string,
  gold: string,
  settings: MathEquivalenceSettings,
): boolean {
  const rawPrediction = prediction.trim();
  const rawGold = gold.trim();
  if (rawPrediction === rawGold) return true;
  if (rawPrediction.length > settings.maxInputLength || rawGold.length > settings.maxInputLength)
    return false;
  const normalizedPrediction = normalizeMathAnswer(rawPrediction);
  const normalizedGold = normalizeMathAnswer(rawGold);
  if (normalizedPrediction === normalizedGold) return normalizedGold !== "";
  if (normalizedPrediction === "" || normalizedGold === "") return false;
  const context: Context = {
    settings,
    percentPrediction: /%/.test(rawPrediction),
    percentGold: /%/.test(rawGold),
    depth: 0,
  };
  return compareAnswers(normalizedPrediction, normalizedGold, context);
}

function compareAnswers(prediction: string, gold: string, context: Context): boolean {
  if (prediction === gold) return true;
  if (context.depth > 4) return false;
  const nested: Context = { ...context, depth: context.depth + 1 };
  // "x = 5" against "5": the variable name is not part of the answer unless the gold has one.
  if (!hasTopLevelEquals(gold)) prediction = dropVariableAssignments(prediction);
  if (!hasTopLevelEquals(prediction)) gold = dropVariableAssignments(gold);
  if (prediction === gold) return true;

  const predictionStructure = analyze(prediction);
  const goldStructure = analyze(gold);
  if (predictionStructure === null || goldStructure === null) return false;

  if (predictionStructure.kind === "scalar" && goldStructure.kind === "scalar") {
    return compareScalars(predictionStructure.text, goldStructure.text, context);
  }
  if (predictionStructure.kind === "unordered" || goldStructure.kind === "unordered") {
    const predictionItems = asUnorderedItems(predictionStructure);
    const goldItems = asUnorderedItems(goldStructure);
    if (predictionItems === null || goldItems === null) return false;
    return matchUnordered(predictionItems, goldItems, nested);
  }
  if (predictionStructure.kind === "union" && goldStructure.kind === "union") {
    return matchUnordered(predictionStructure.items, goldStructure.items, nested);
  }
  const predictionSequence = asSequence(predictionStructure);
  const goldSequence = asSequence(goldStructure);
  if (predictionSequence === null || goldSequence === null) return false;
  if (predictionSequence.shape !== goldSequence.shape) {
    // A column or row vector may be written as a parenthesised tuple.
    const isVector = (shape: string): boolean => shape.startsWith("column") || shape.startsWith("row");
    const vectorAndTuple =
      (isVector(predictionSequence.shape) && goldSequence.shape === "()") ||
      (predictionSequence.shape === "()" && isVector(goldSequence.shape));
    if (!vectorAndTuple) return false;
  }
  if (predictionSequence.items.length !== goldSequence.items.length) return false;
  return predictionSequence.items.every((item, index) =>
    compareAnswers(item, goldSequence.items[index] ?? "", nested),
  );
}

/** Splits an answer into its structure, or null when it is too large to compare. */
function analyze(text: string): Structure | null {
  const unionParts = splitTopLevel(text, "\\cup");
  if (unionParts.length > 1) {
    return unionParts.length > MAX_ELEMENTS
      ? null
      : { kind: "union", items: unionParts.map((part) => part.trim()) };
  }
  const matrix = /^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?(.*)\\end\{\1\}$/s.exec(text);
  if (matrix !== null) {
    const rows = splitTopLevel(matrix[2] ?? "", "\\\\")
      .map((row) => row.trim())
      .filter((row) => row !== "")
      .map((row) => splitTopLevel(row, "&").map((cell) => cell.trim()));
    if (rows.length * (rows[0]?.length ?? 0) > MAX_ELEMENTS) return null;
    return { kind: "matrix", rows };
  }
  if (text.startsWith("\\{") && text.endsWith("\\}")) {
    const items = splitTopLevel(text.slice(2, -2), ",").map((item) => item.trim());
    return items.length > MAX_ELEMENTS ? null : { kind: "unordered", items };
  }
  if (isWrappedInBrackets(text)) {
    const items = splitTopLevel(text.slice(1, -1), ",").map((item) => item.trim());
    if (items.length > 1) {
      if (items.length > MAX_ELEMENTS) return null;
      return { kind: "tuple", open: text[0] ?? "", close: text[text.length - 1] ?? "", items };
    }
  }
  const items = splitTopLevel(text, ",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  if (items.length > 1) return items.length > MAX_ELEMENTS ? null : { kind: "unordered", items };
  const expanded = expandPlusMinus(text);
  if (expanded === null) return null;
  if (expanded.length > 1) return { kind: "unordered", items: expanded };
  return { kind: "scalar", text };
}

function asUnorderedItems(structure: Structure): string[] | null {
  if (structure.kind === "unordered")
    return structure.items.flatMap((item) => expandPlusMinus(item) ?? [item]);
  if (structure.kind === "scalar") return [structure.text];
  return null;
}

function asSequence(structure: Structure): { shape: string; items: string[] } | null {
  if (structure.kind === "tuple") return { shape: structure.open + structure.close, items: structure.items };
  if (structure.kind === "matrix") {
    const columns = structure.rows[0]?.length ?? 0;
    if (structure.rows.some((row) => row.length !== columns)) return null;
    const shape = columns === 1 ? "column" : structure.rows.length === 1 ? "row" : "matrix";
    return {
      shape: `${shape}${structure.rows.length}x${columns}`,
      items: structure.rows.flat(),
    };
  }
  return null;
}

/** Greedy one-to-one matching of two multisets of answers (each item used once). */
function matchUnordered(predictionItems: string[], goldItems: string[], context: Context): boolean {
  if (predictionItems.length !== goldItems.length) return false;
  const used = new Array<boolean>(goldItems.length).fill(false);
  for (const item of predictionItems) {
    let found = false;
    for (let index = 0; index < goldItems.length; index++) {
      if (used[index] === true) continue;
      if (compareAnswers(item, goldItems[index] ?? "", context)) {
        used[index] = true;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

function compareScalars(prediction: string, gold: string, context: Context): boolean {
  if (prediction === gold) return true;
  const predictionSides = splitTopLevel(prediction, "=");
  const goldSides = splitTopLevel(gold, "=");
  if (predictionSides.length === 2 && goldSides.length === 2) {
    const [predictionLeft = "", predictionRight = ""] = predictionSides;
    const [goldLeft = "", goldRight = ""] = goldSides;
    if (predictionLeft === goldLeft && compareScalars(predictionRight, goldRight, context)) return true;
    return (
      context.settings.symbolic &&
      equationsEquivalent([predictionLeft, predictionRight], [goldLeft, goldRight])
    );
  }
  if (predictionSides.length !== 1 || goldSides.length !== 1) return false;

  // Words compare case-insensitively; when they differ they may still be products of variables
  // ("xy" against "yx"), which evaluation settles.
  if (isWords(prediction) && isWords(gold) && prediction.toLowerCase() === gold.toLowerCase()) return true;
  const baseForm = /^([0-9A-Za-z]+)_(?:\{(\d+)\}|(\d+))$/;
  const predictionBase = baseForm.exec(prediction);
  const goldBase = baseForm.exec(gold);
  if (goldBase !== null && predictionBase === null) return prediction === goldBase[1];
  if (predictionBase !== null && goldBase === null) return gold === predictionBase[1];
  if (predictionBase !== null && goldBase !== null) return false;

  const tolerance =
    hasWrittenDecimal(prediction) || hasWrittenDecimal(gold)
      ? context.settings.relativeTolerance
      : EXACT_TOLERANCE;
  const predictionNumber = parseNumberLiteral(prediction);
  const goldNumber = parseNumberLiteral(gold);
  if (predictionNumber !== null && goldNumber !== null) {
    return numbersEqual(predictionNumber, goldNumber, tolerance, context);
  }
  if (!context.settings.symbolic) return false;
  if (symbolicEqual(prediction, gold, tolerance, context.settings.limits)) return true;
  if (context.percentPrediction || context.percentGold) {
    return symbolicEqual(
      context.percentPrediction ? `(${prediction})/100` : prediction,
      context.percentGold ? `(${gold})/100` : gold,
      tolerance,
      context.settings.limits,
    );
  }
  return false;
}

function numbersEqual(prediction: number, gold: number, tolerance: number, context: Context): boolean {
  if (numbersClose(prediction, gold, tolerance)) return true;
  // "50\%" against "0.5": a percent sign makes the hundredths reading acceptable too.
  if (context.percentPrediction && numbersClose(prediction / 100, gold, tolerance)) return true;
  if (context.percentGold && numbersClose(prediction, gold / 100, tolerance)) return true;
  return false;
}

function isWords(text: string): boolean {
  return /^[A-Za-z][A-Za-z\s'-]*[A-Za-z]$/.test(text) && /[A-Za-z]{2}/.test(text) && !/\\/.test(text);
}

function hasTopLevelEquals(text: string): boolean {
  return splitTopLevel(text, "=").length > 1;
}

/** `x=5` to `5`, and in lists `x=1,x=2` to `1,2`: only a single (possibly subscripted) letter. */
function dropVariableAssignments(text: string): string {
  if (!text.includes("=")) return text;
  return splitTopLevel(text, ",")
    .map((item) => item.replace(/^\s*(?:[a-zA-Z](?:_\{?[a-zA-Z0-9]\}?)?|\\[a-zA-Z]+)\s*=\s*/, ""))
    .join(",");
}

/**
 * Expands `\pm`/`\mp` into every sign choice (`1\pm\sqrt{2}` into `1+\sqrt{2}` and `1-\sqrt{2}`);
 * returns the text alone when it has none, and null when it has more than 3.
 */
function expandPlusMinus(text: string): string[] | null {
  if (!/\\(?:pm|mp)(?![a-zA-Z])/.test(text)) return [text];
  const pieces = text.split(/\\(pm|mp)(?![a-zA-Z])/);
  const signCount = (pieces.length - 1) / 2;
  if (signCount > MAX_PLUS_MINUS) return null;
  let results = [pieces[0] ?? ""];
  for (let index = 1; index < pieces.length; index += 2) {
    const isPlusMinus = pieces[index] === "pm";
    const rest = pieces[index + 1] ?? "";
    results = results.flatMap((prefix) => [
      `${prefix}${isPlusMinus ? "+" : "-"}${rest}`,
      `${prefix}${isPlusMinus ? "-" : "+"}${rest}`,
    ]);
  }
  return results.map((item) => item.replace(/^\+/, ""));
}
