// Small brace-aware scanners over LaTeX text. They are iterative (no recursion) so that deeply
// nested input cannot overflow the stack, and linear in the length of the text.

/** A brace group found in a text: its inner content and the index just past the closing brace. */
export interface BraceGroup {
  content: string;
  /** Index of the first character after the closing `}`. */
  end: number;
}

/**
 * Reads the `{...}` group that opens at `openIndex` (which must hold `{`), honouring nested braces
 * and ignoring escaped braces (`\{`, `\}`). Returns null when the group is not closed.
 */
export function readBraceGroup(text: string, openIndex: number): BraceGroup | null {
  if (text[openIndex] !== "{") return null;
  let depth = 0;
  for (let index = openIndex; index < text.length; index++) {
    const char = text[index];
    if (char === "\\") {
      index++;
      continue;
    }
    if (char === "{") depth++;
    else if (char === "}") {
      depth--;
      if (depth === 0) return { content: text.slice(openIndex + 1, index), end: index + 1 };
    }
  }
  return null;
}

/**
 * The content of the last `\boxed{...}` or `\fbox{...}` in a text (nested braces allowed), or of
 * `\boxed 5` (an unbraced argument: the text up to the next space, `$` or end). Returns null when
 * there is none or the last one is never closed.
 */
export function lastBoxedContent(text: string): string | null {
  const boxedIndex = text.lastIndexOf("\\boxed");
  const fboxIndex = text.lastIndexOf("\\fbox");
  const start = Math.max(boxedIndex, fboxIndex);
  if (start < 0) return null;
  let index = start + (start === boxedIndex ? "\\boxed".length : "\\fbox".length);
  if (/[a-zA-Z]/.test(text[index] ?? "")) return null;
  while (text[index] === " ") index++;
  if (text[index] === "{") {
    const group = readBraceGroup(text, index);
    return group === null ? null : group.content.trim();
  }
  const match = /^[^\s$]+/.exec(text.slice(index, index + 200));
  if (match === null) return null;
  return match[0].replace(/[.,]$/, "");
}

/**
 * Splits a text at every top-level occurrence of `separator`: occurrences inside `{}`, `()`, `[]`
 * or `\{ \}` are kept. Brackets are counted without checking their kinds, so that half-open
 * intervals such as `(1,2]` nest correctly.
 */
export function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let partStart = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === "\\") {
      const next = text[index + 1];
      if (next === "{") depth++;
      else if (next === "}") depth--;
      else if (depth === 0 && text.startsWith(separator, index)) {
        parts.push(text.slice(partStart, index));
        index += separator.length - 1;
        partStart = index + 1;
        continue;
      }
      index++;
      continue;
    }
    if (char === "{" || char === "(" || char === "[") depth++;
    else if (char === "}" || char === ")" || char === "]") depth--;
    else if (depth === 0 && text.startsWith(separator, index)) {
      parts.push(text.slice(partStart, index));
      index += separator.length - 1;
      partStart = index + 1;
    }
  }
  parts.push(text.slice(partStart));
  return parts;
}

/**
 * True when the bracket that opens at index 0 closes at the last character (so `(1,2)` is wrapped
 * but `(a+5)(b+2)` is not). Any of `(`/`[` opens and any of `)`/`]` closes.
 */
export function isWrappedInBrackets(text: string): boolean {
  if (text.length < 2 || (text[0] !== "(" && text[0] !== "[")) return false;
  const last = text[text.length - 1];
  if (last !== ")" && last !== "]") return false;
  let depth = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === "\\") {
      index++;
      continue;
    }
    if (char === "(" || char === "[" || char === "{") depth++;
    else if (char === ")" || char === "]" || char === "}") {
      depth--;
      if (depth === 0 && index < text.length - 1) return false;
    }
  }
  return depth === 0;
}
