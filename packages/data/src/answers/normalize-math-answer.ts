import { lastBoxedContent, readBraceGroup } from "./latex-scan.js";

// Unit words that may trail a number without `\text{}` ("5 cm", "12 dollars"). Kept short on
// purpose: a longer list starts eating real variables.
const UNIT_WORDS =
  "cm|mm|km|meters?|metres?|centimeters?|kilometers?|inches|inch|feet|foot|ft|yards?|miles?|" +
  "degrees?|deg|radians?|dollars?|cents?|units?|square units|sq units|hours?|hrs?|minutes?|mins?|" +
  "seconds?|secs?|days?|weeks?|months?|years?|pounds?|lbs?|ounces?|oz|grams?|kg|liters?|litres?|" +
  "mph|people|students|ways";
const TRAILING_UNIT = new RegExp(`(\\d|\\})\\s*(?:${UNIT_WORDS})(?:\\^\\{?[23]\\}?)?\\s*$`);

// Commands whose argument is kept and the command dropped.
const UNWRAP_COMMANDS = ["\\mathbf", "\\boldsymbol", "\\mathrm", "\\textbf", "\\textrm", "\\mathit"];
// Commands that hold words: the whole answer when alone, a unit when they follow something.
const TEXT_COMMANDS = ["\\text", "\\mbox", "\\textnormal", "\\textup"];

const UNICODE_REPLACEMENTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\u2212|\u2013/g, "-"],
  [/\u03c0/g, "\\pi "],
  [/\u221e/g, "\\infty "],
  [/\u00d7/g, "\\times "],
  [/\u00b7|\u22c5/g, "\\cdot "],
  [/\u221a/g, "\\sqrt"],
  [/\u00b1/g, "\\pm "],
  [/\u00b0/g, ""],
  [/\u2264/g, "\\le "],
  [/\u2265/g, "\\ge "],
];

/**
 * Normalises a MATH-style answer to a canonical string, so that trivially different spellings
 * compare equal as strings: strips `$`/`\(...\)` wrappers and a `\boxed{}`, `\left`/`\right`,
 * spacing commands (`\!`, `\,`, `\;`, `\quad`), `\displaystyle`, units in `\text{}`/`\mbox{}` (and
 * a few plain unit words) after a value, degree signs (`^\circ`, `^{\circ}`), `\$`, `\%`,
 * thousands separators (`10,\!080`, `1,234` when the whole answer is one number), a trailing
 * period; rewrites `\dfrac`/`\tfrac` to `\frac`, `\frac12` to `\frac{1}{2}`, `\sqrt2` to `\sqrt{2}`,
 * `^{2}` to `^2`, `.5` to `0.5`, `\text{(C)}` to `C`; removes all spaces except one after a
 * control word followed by a letter (`\cot x`). It never throws; text that is not LaTeX passes
 * through with spaces removed.
 */
export function normalizeMathAnswer(answer: string): string {
  let text = answer.trim();
  for (const [pattern, replacement] of UNICODE_REPLACEMENTS) text = text.replace(pattern, replacement);
  text = stripMathDelimiters(text);
  if (/^\\(?:boxed|fbox)(?![a-zA-Z])/.test(text)) text = lastBoxedContent(text) ?? text;
  text = text.replace(/\s+/g, " ");

  text = text.replace(/,\\!\s*/g, ",").replace(/\{,\}/g, ",");
  // `\\` (a matrix row break) must survive while `\ ` and `\,` become spaces.
  text = text.replace(/\\\\|\\[!,;:> ]/g, (match) => (match === "\\\\" ? match : " "));
  text = text.replace(/\\q?quad(?![a-zA-Z])/g, " ");
  text = text.replace(/\\(?:displaystyle|textstyle)(?![a-zA-Z])/g, "");
  text = text.replace(/\\left\s*\./g, "").replace(/\\right\s*\./g, "");
  text = text.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![a-zA-Z])/g, "");
  text = text.replace(/\\[dt]frac(?![a-zA-Z])/g, "\\frac");
  text = text.replace(
    /\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])/g,
    "",
  );
  text = text.replace(/\\\$|\$/g, "");
  text = text.replace(/\\%|%/g, "");
  text = text.replace(/\\text\{\s*(?:and|or)\s*\}/g, ",");

  for (const command of UNWRAP_COMMANDS) text = unwrapCommand(text, command, "keep");
  for (const command of TEXT_COMMANDS) text = unwrapCommand(text, command, "text");

  text = text.trim();
  text = text.replace(/^(?:[a-zA-Z]\s*\\in|\\in)\s*/, "");
  text = text.replace(/[.\s]+$/, "");
  const withoutUnit = text.replace(TRAILING_UNIT, "$1");
  if (withoutUnit !== text && /\d/.test(withoutUnit)) text = withoutUnit;

  // Whole-answer numbers with thousands commas; a comma followed by a space is a list separator.
  if (/^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(text)) text = text.replace(/,/g, "");

  text = fixFracAndSqrt(text);
  text = collapseSpaces(text);
  text = text.replace(/([\^_])\{([a-zA-Z0-9])\}/g, "$1$2");
  text = text.replace(/(^|[^\d])\.(\d)/g, "$10.$2");
  text = text.replace(/\.$/, "");

  const choice = /^\(?([A-Ea-e])\)$|^\(([A-Ea-e])\)?$/.exec(text);
  if (choice !== null) text = (choice[1] ?? choice[2] ?? "").toUpperCase();
  return text;
}

/** Removes `$...$`, `$$...$$`, `\(...\)` and `\[...\]` around the whole answer. */
function stripMathDelimiters(text: string): string {
  for (let round = 0; round < 3; round++) {
    const before = text;
    if (text.startsWith("$$") && text.endsWith("$$") && text.length >= 4) text = text.slice(2, -2).trim();
    else if (text.startsWith("$") && text.endsWith("$") && text.length >= 2) text = text.slice(1, -1).trim();
    else if (/^\\[([]/.test(text) && /\\[)\]]$/.test(text)) text = text.slice(2, -2).trim();
    if (text === before) break;
  }
  return text;
}

/**
 * Drops `command{...}`. "keep" keeps the argument in place. "text" treats the argument as words:
 * when the command is the whole answer its words stay; when it follows a value it is a unit and
 * goes, together with a trailing `^2`/`^3` (as in `\mbox{ inches}^2`).
 */
function unwrapCommand(text: string, command: string, mode: "keep" | "text"): string {
  let searchFrom = 0;
  for (let guard = 0; guard < 1000; guard++) {
    const start = text.indexOf(command, searchFrom);
    if (start < 0) break;
    let open = start + command.length;
    if (/[a-zA-Z]/.test(text[open] ?? "")) {
      searchFrom = open;
      continue;
    }
    while (text[open] === " ") open++;
    const group = readBraceGroup(text, open);
    if (group === null) {
      searchFrom = open;
      continue;
    }
    const before = text.slice(0, start);
    let after = text.slice(group.end);
    let replacement = group.content;
    if (mode === "text") {
      const isUnit = /[0-9a-zA-Z}]\s*$/.test(before) && /[a-zA-Z]/.test(group.content);
      if (isUnit) {
        replacement = "";
        after = after.replace(/^\s*\^\s*\{?[23]\}?/, "");
      } else {
        replacement = group.content.trim();
      }
    }
    text = before + replacement + after;
    searchFrom = start + replacement.length;
  }
  return text;
}

/**
 * Braces the arguments of `\frac` and `\sqrt` when LaTeX lets them go unbraced: `\frac12`,
 * `\frac 59`, `\frac9{19}`, `\sqrt2`, `\sqrt 3`. In LaTeX an unbraced argument is one token: a
 * single character or one control word. One pass with an explicit stack (no recursion), so deep
 * nesting cannot overflow the call stack.
 */
function fixFracAndSqrt(text: string): string {
  if (!text.includes("\\frac") && !text.includes("\\sqrt")) return text;
  let output = "";
  let index = 0;
  // One entry per open brace: true when it is the first argument of a \frac.
  const openBraces: boolean[] = [];
  // Reads one argument at `index`: a braced group opens (and is tracked), a bare token is braced.
  const readArgument = (isFracFirst: boolean): void => {
    while (text[index] === " ") index++;
    if (text[index] === "{") {
      openBraces.push(isFracFirst);
      output += "{";
      index++;
      return;
    }
    const token = /^\\[a-zA-Z]+|^[^\s{}\\]/.exec(text.slice(index, index + 40));
    if (token === null) return;
    output += `{${token[0]}}`;
    index += token[0].length;
    if (isFracFirst) readArgument(false);
  };
  while (index < text.length) {
    const char = text[index] ?? "";
    const isFrac = text.startsWith("\\frac", index) && !/[a-zA-Z]/.test(text[index + 5] ?? "");
    const isSqrt = text.startsWith("\\sqrt", index) && !/[a-zA-Z]/.test(text[index + 5] ?? "");
    if (isFrac || isSqrt) {
      output += text.slice(index, index + 5);
      index += 5;
      if (isSqrt && text[index] === "[") {
        const close = text.indexOf("]", index);
        if (close >= 0) {
          output += text.slice(index, close + 1);
          index = close + 1;
        }
      }
      readArgument(isFrac);
      continue;
    }
    if (char === "\\") {
      output += text.slice(index, index + 2);
      index += 2;
      continue;
    }
    output += char;
    index++;
    if (char === "{") openBraces.push(false);
    else if (char === "}" && openBraces.pop() === true) readArgument(false);
  }
  return output;
}

/** Removes spaces, keeping one after a control word when a letter follows (`\cot x`). */
function collapseSpaces(text: string): string {
  return text.replace(/(\\[a-zA-Z]+)\s+(?=[a-zA-Z])|\s+/g, (_match, command: string | undefined) =>
    command === undefined ? "" : `${command} `,
  );
}
