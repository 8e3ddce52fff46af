/**
 * A tokenizer could not be loaded: the folder or a file in it is missing or malformed, or a Hub id was
 * given without a way to download it. The message names the path and the fix.
 */
export class TokenizerLoadError extends Error {
  /** The folder, file or Hub id the error concerns. */
  readonly source: string;

  constructor(source: string, reason: string, options?: { cause?: unknown }) {
    super(`${source}: ${reason}`, options);
    this.name = "TokenizerLoadError";
    this.source = source;
  }
}

/**
 * A step tag cannot be used with a tokenizer: an existing token that is not one id in context, or a tag
 * text that clashes with the vocabulary. `ids` holds what the tokenizer gave, for the message and for tests.
 */
export class StepTagError extends Error {
  /** The tag text. */
  readonly tag: string;
  /** Token ids the tokenizer produced for the tag in the failing context, when that is the reason. */
  readonly ids: readonly number[];

  constructor(tag: string, reason: string, ids: readonly number[] = []) {
    super(`step tag ${JSON.stringify(tag)}: ${reason}`);
    this.name = "StepTagError";
    this.tag = tag;
    this.ids = ids;
  }
}

/**
 * The encoding used now differs from the one a model was trained with (prompt template, step tag,
 * BOS...). `differences` lists each field that differs as `field: saved -> current`.
 */
export class EncodingMismatchError extends Error {
  readonly differences: readonly string[];

  constructor(differences: readonly string[]) {
    super(
      `the encoding differs from the one the model was trained with:\n  ${differences.join("\n  ")}\n` +
        "Encode with the saved encoding spec (same template name, step tag and BOS setting).",
    );
    this.name = "EncodingMismatchError";
    this.differences = differences;
  }
}
