import type { PrmTokenizer } from "../tokenizer/prm-tokenizer.js";
import type { AnchoredText } from "./text-layout.js";

/** One solution as a convention's model reads it. */
export interface ConventionEncoding {
  /** The token ids, BOS included where the convention has one. */
  inputIds: number[];
  /** Where each step's score is read: one index into `inputIds` per step, ascending. */
  scorePositions: number[];
}

/** A solution the convention cannot encode faithfully; the message names the step. */
export class ConventionEncodingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConventionEncodingError";
  }
}

/** Options of {@link encodeAnchored}. */
export interface EncodeAnchoredOptions {
  /** Put the tokenizer's BOS id first (what Python's `tokenizer.encode(text)` does for Llama/Mistral). */
  addBos: boolean;
  /** The id the token at each read position must have (a step tag's), checked; undefined: not checked. */
  expectedId?: number;
  /** What the anchors mark, for messages (`the step tag "ки"`). */
  anchorName: string;
}

function startsWith(whole: readonly number[], prefix: readonly number[]): boolean {
  if (prefix.length > whole.length) return false;
  for (let index = 0; index < prefix.length; index++) if (whole[index] !== prefix[index]) return false;
  return true;
}

/**
 * Tokenizes a whole text at once (as the published code does) and finds the token read for each anchor:
 * the last token of the text before the anchor. A step that contains the tag text keeps it as text (a
 * special tag inside a step becomes its id there too) but only the anchors, the tags the convention
 * appended, are read, so every step gets exactly one score.
 *
 * The positions come from tokenizing the text between anchors piece by piece: when the pieces' ids joined
 * equal the whole text's ids, each anchor is a token boundary at a known index. Otherwise (a tokenizer that
 * prepends a space marker to every piece, or merges across an anchor) each anchor's prefix is tokenized on
 * its own and must be a prefix of the whole text's ids.
 * @throws ConventionEncodingError when an anchor falls inside a token (the tokenizer merged the tag with
 *   the text after it) or the token there is not the expected id.
 */
export function encodeAnchored(
  tokenizer: PrmTokenizer,
  anchored: AnchoredText,
  options: EncodeAnchoredOptions,
): ConventionEncoding {
  const { text, anchors } = anchored;
  const whole = tokenizer.encode(text);
  const joined: number[] = [];
  const counts: number[] = [];
  let start = 0;
  for (const anchor of anchors) {
    if (anchor > start) joined.push(...tokenizer.encode(text.slice(start, anchor)));
    counts.push(joined.length);
    start = anchor;
  }
  if (start < text.length) joined.push(...tokenizer.encode(text.slice(start)));
  let positions: number[];
  if (joined.length === whole.length && startsWith(whole, joined)) {
    positions = counts.map((count) => count - 1);
  } else {
    positions = anchors.map((anchor, step) => {
      const prefix = tokenizer.encode(text.slice(0, anchor));
      if (!startsWith(whole, prefix)) {
        throw new ConventionEncodingError(
          `step ${step + 1}: ${options.anchorName} does not end on a token boundary (the tokenizer merges it with the text after it)`,
        );
      }
      return prefix.length - 1;
    });
  }
  positions.forEach((position, step) => {
    if (position < 0 || (step > 0 && position <= positions[step - 1]!)) {
      throw new ConventionEncodingError(
        `step ${step + 1}: ${options.anchorName} gives no token of its own (position ${position})`,
      );
    }
    if (options.expectedId !== undefined && whole[position] !== options.expectedId) {
      throw new ConventionEncodingError(
        `step ${step + 1}: the token read is id ${whole[position]}, not ${options.anchorName} (id ${options.expectedId}): ` +
          "the tokenizer merged the tag with the text before it",
      );
    }
  });
  const bos = options.addBos ? tokenizer.bosTokenId : null;
  if (bos === null) return { inputIds: whole, scorePositions: positions };
  return { inputIds: [bos, ...whole], scorePositions: positions.map((position) => position + 1) };
}

/**
 * Ids built piece by piece, as TRL's PRMTrainer and Skywork's code do: a prompt, then each step's ids
 * followed by the separator's ids, the score read at each step's last id.
 */
export function encodePiecewise(
  prompt: readonly number[],
  steps: readonly (readonly number[])[],
  separator: readonly number[],
): ConventionEncoding {
  const inputIds = [...prompt];
  const scorePositions: number[] = [];
  steps.forEach((step, index) => {
    inputIds.push(...step, ...separator);
    if (step.length + separator.length === 0) {
      throw new ConventionEncodingError(`step ${index + 1}: empty, and the separator has no tokens`);
    }
    scorePositions.push(inputIds.length - 1);
  });
  return { inputIds, scorePositions };
}
