import type { StepFormat, TemplateLayout } from "../tokenizer/prompt-templates.js";

/**
 * A text with anchors: character offsets (into `text`) right after the pieces the convention appends
 * and reads (a step tag's end), or right before the piece whose prediction is read (RLHFlow's "+").
 * Only these positions are read: the same text inside a step is left as text and never read.
 */
export interface AnchoredText {
  text: string;
  /** Ascending character offsets, one per step. */
  anchors: number[];
}

/**
 * `layout.head + question + layout.middle + steps + layout.tail` as `formatSteps` writes the steps (each
 * trimmed, `Step k: ` first when the format numbers them, then the tag separator and the tag, steps joined
 * by the step separator), with an anchor at the end of each appended tag.
 */
export function appendedTagLayout(
  layout: TemplateLayout,
  format: StepFormat,
  question: string,
  steps: readonly string[],
  tag: string,
): AnchoredText {
  let text = `${layout.head}${question}${layout.middle}`;
  const anchors: number[] = [];
  steps.forEach((step, index) => {
    if (index > 0) text += format.stepSeparator;
    const trimmed = step.trim();
    const body = format.numberSteps ? `Step ${index + 1}: ${trimmed.replace(/^Step \d+:\s*/, "")}` : trimmed;
    text += `${body}${format.tagSeparator}${tag}`;
    anchors.push(text.length);
  });
  return { text: text + layout.tail, anchors };
}

/**
 * A text made of fixed pieces, with an anchor after each piece marked `anchorAfter`: builds the text
 * and its anchors in one pass.
 */
export function joinAnchored(pieces: readonly { text: string; anchorAfter?: boolean }[]): AnchoredText {
  let text = "";
  const anchors: number[] = [];
  for (const piece of pieces) {
    text += piece.text;
    if (piece.anchorAfter === true) anchors.push(text.length);
  }
  return { text, anchors };
}
