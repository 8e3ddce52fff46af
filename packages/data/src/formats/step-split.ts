/** How a solution text is cut into steps. */
export type StepSplitMode = "numbered" | "paragraphs" | "auto";

/** Options of {@link splitSolutionSteps}. */
export interface StepSplitOptions {
  /**
   * `"numbered"`: on `Step N:` headers, as the reference does; `"paragraphs"`: on blank lines;
   * `"auto"` (default): numbered when the text has a `Step N:` header, paragraphs otherwise.
   */
  mode?: StepSplitMode;
  /**
   * What happens to text before the first `Step N:` header in numbered mode: `"drop"` (default,
   * as the reference: its split puts that text in chunk 0, which is the question in training rows
   * and is replaced by the test set's question when candidates are scored) or `"keep"` (as a step
   * of its own, when not blank).
   */
  preamble?: "drop" | "keep";
}

const STEP_HEADER = /Step \d+:/;
const BLANK_LINE = /\n[ \t]*\r?\n/;

/**
 * Cuts a solution into trimmed, non-empty steps (see {@link StepSplitOptions}). A text without
 * any separator is one step; a blank text gives no step.
 */
export function splitSolutionSteps(text: string, options: StepSplitOptions = {}): string[] {
  const mode = options.mode ?? "auto";
  const numbered = mode === "numbered" || (mode === "auto" && STEP_HEADER.test(text));
  if (!numbered)
    return text
      .split(BLANK_LINE)
      .map((part) => part.trim())
      .filter((part) => part !== "");
  const chunks = text.split(STEP_HEADER);
  const preamble = chunks.shift()?.trim() ?? "";
  const steps = chunks.map((chunk) => chunk.trim()).filter((chunk) => chunk !== "");
  if (options.preamble === "keep" && preamble !== "") steps.unshift(preamble);
  return steps;
}
