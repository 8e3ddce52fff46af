import { DEFAULT_STEP_TAG } from "./builtin-tokenizer.js";
import type { PrmTokenizer } from "./prm-tokenizer.js";
import { StepTagError } from "./tokenizer-errors.js";

/** The token that ends every step; the value head reads the hidden state at each of its positions. */
export interface StepTag {
  /** The tag as text, as templates write it after each step (`[PRM]`, `ки`...). */
  text: string;
  /** The id the tag has in context (after the templates' separator, a space). */
  id: number;
  /** `"special"`: a special token added for the purpose; `"existing"`: a token the vocabulary already had. */
  mode: "special" | "existing";
}

/** What {@link addStepTagToken} did to the vocabulary. */
export interface AddedStepTag extends StepTag {
  mode: "special";
  /** New ids created (0 or 1): the backbone's embedding table needs this many more rows (if it has no spare rows). */
  addedTokens: number;
  /** `vocabSize` before and after. */
  vocabSizeBefore: number;
  vocabSizeAfter: number;
}

/** An existing token checked by {@link useExistingStepTag}. */
export interface ExistingStepTag extends StepTag {
  mode: "existing";
  /** The id the tag gets when it follows text directly, with no space; may differ from `id`. */
  unspacedId: number;
}

// Text around the tag when it is checked in context; shaped like the steps the templates write.
const PROBE_BEFORE = "Step 1: 12 + 7 = 19.";
const PROBE_AFTER = "\nStep 2: 19 - 4 = 15.";

/**
 * Adds the step tag to the tokenizer as a dedicated special token (the reference's choice, `[PRM]` by
 * default), so it always encodes to one id whatever surrounds it. Reports how many ids were created so
 * the backbone can grow its embedding table (see `extendEmbeddingTable`). Throws {@link StepTagError}
 * when the tag does not encode to its one id afterwards.
 */
export function addStepTagToken(tokenizer: PrmTokenizer, text: string = DEFAULT_STEP_TAG): AddedStepTag {
  if (text.trim() !== text || text.length === 0) {
    throw new StepTagError(
      text,
      "must be non-empty without leading or trailing white space (templates add the separator)",
    );
  }
  const vocabSizeBefore = tokenizer.vocabSize;
  const { id, added } = tokenizer.addSpecialToken(text);
  for (const separator of [" ", ""]) {
    const ids = tokenizer.encode(`${PROBE_BEFORE}${separator}${text}${PROBE_AFTER}`);
    const found = ids.filter((other) => other === id).length;
    if (found !== 1) {
      throw new StepTagError(
        text,
        `was added as id ${id} but encodes in context to ${JSON.stringify(ids)}`,
        ids,
      );
    }
  }
  return {
    text,
    id,
    mode: "special",
    addedTokens: added ? 1 : 0,
    vocabSizeBefore,
    vocabSizeAfter: tokenizer.vocabSize,
  };
}

/**
 * Uses a token the vocabulary already has as the step tag (Math-Shepherd's `ки`, for example), with no
 * new embedding row. The tag must be exactly one id in context both after a space (as the templates
 * write it) and right after text; otherwise {@link StepTagError} is thrown with the ids it gave. The id
 * after a space is the one the encoder looks for.
 */
export function useExistingStepTag(tokenizer: PrmTokenizer, text: string): ExistingStepTag {
  if (text.trim() !== text || text.length === 0) {
    throw new StepTagError(
      text,
      "must be non-empty without leading or trailing white space (templates add the separator)",
    );
  }
  const spaced = tagIdInContext(tokenizer, text, " ", PROBE_AFTER);
  // The last step's tag ends the text: it must be the same id there as between steps.
  const spacedAtEnd = tagIdInContext(tokenizer, text, " ", "");
  if (spacedAtEnd !== spaced) {
    throw new StepTagError(
      text,
      `encodes to id ${spaced} between steps but to id ${spacedAtEnd} at the end of the text; choose another token or add a special one (addStepTagToken)`,
      [spaced, spacedAtEnd],
    );
  }
  const unspaced = tagIdInContext(tokenizer, text, "", PROBE_AFTER);
  return { text, id: spaced, unspacedId: unspaced, mode: "existing" };
}

/**
 * The one id that the tag becomes in `PROBE_BEFORE + separator + tag + after`: among the ids the tag
 * changes (see `idsAroundTag`), the single token whose own text is the tag (with or without a leading
 * space). Throws {@link StepTagError} with the ids around the tag when there is no such single token.
 */
function tagIdInContext(tokenizer: PrmTokenizer, text: string, separator: string, after: string): number {
  const context = `${PROBE_BEFORE}${separator}${text}${after}`;
  const region = idsAroundTag(tokenizer, tokenizer.encode(context), after);
  const matches = region.filter((id) => {
    const piece = tokenizer.decode([id]);
    return piece === text || piece === ` ${text}`;
  });
  if (matches.length === 1) return matches[0]!;
  throw new StepTagError(
    text,
    `is not a single token ${separator === "" ? "right after text" : "after a space"}: in ${JSON.stringify(context)} ` +
      `it encodes to ${JSON.stringify(region)} (${region.map((id) => JSON.stringify(tokenizer.decode([id]))).join(" ")}); ` +
      "choose another token or add a special one (addStepTagToken)",
    region,
  );
}

/**
 * The ids of `ids` (the encoded probe with the tag) that differ from the encoded probe without it:
 * the tag's tokens, possibly with neighbors whose merges it changed.
 */
function idsAroundTag(tokenizer: PrmTokenizer, ids: readonly number[], after: string): number[] {
  const without = tokenizer.encode(`${PROBE_BEFORE}${after}`);
  let prefix = 0;
  while (prefix < without.length && ids[prefix] === without[prefix]) prefix++;
  let suffix = 0;
  while (
    suffix < without.length - prefix &&
    ids[ids.length - 1 - suffix] === without[without.length - 1 - suffix]
  ) {
    suffix++;
  }
  return ids.slice(prefix, ids.length - suffix);
}
