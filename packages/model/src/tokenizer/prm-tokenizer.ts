/** Options of {@link PrmTokenizer.encode}. */
export interface TokenizeOptions {
  /**
   * Put the tokenizer's BOS token first (default false: the reference encodes without a BOS token).
   * Nothing happens when the tokenizer has no BOS token.
   */
  addBos?: boolean;
}

/** Options of {@link PrmTokenizer.decode}. */
export interface DetokenizeOptions {
  /** Leave special tokens (BOS, PAD, the step tag...) out of the text (default false). */
  skipSpecialTokens?: boolean;
}

/** What {@link PrmTokenizer.addSpecialToken} did. */
export interface AddedSpecialToken {
  /** The token's id. */
  id: number;
  /** True when a new id was created (the embedding table needs one more row), false when it existed. */
  added: boolean;
}

/** One message of a chat, for tokenizers that carry a chat template. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/**
 * The tokenizer of a process reward model as the rest of @pqm/model sees it: text to ids and back,
 * special tokens (the step tag is one), and saving as a Hugging Face tokenizer folder. Ids are plain
 * numbers; `encode` adds no special tokens unless asked.
 */
export interface PrmTokenizer {
  /** `"huggingface"` for a tokenizer read from a `tokenizer.json`, `"builtin"` for the word/char tokenizer. */
  readonly kind: "huggingface" | "builtin";
  /** Number of ids: the largest id plus one. The embedding table needs at least this many rows. */
  readonly vocabSize: number;
  /** Id of the BOS token, or null when the tokenizer has none. */
  readonly bosTokenId: number | null;
  /** Id of the EOS token, or null. */
  readonly eosTokenId: number | null;
  /** Id of the padding token, or null when none is configured (see `defaultPadTokenId`). */
  readonly padTokenId: number | null;
  /** Text to ids, without special tokens (no BOS) unless `options.addBos`. */
  encode(text: string, options?: TokenizeOptions): number[];
  /** Ids to text. Empty input gives `""`. Throws RangeError on an id outside the vocabulary. */
  decode(ids: readonly number[], options?: DetokenizeOptions): string;
  /** Id of a token (a vocabulary entry, not a text), or undefined when the vocabulary lacks it. */
  tokenToId(token: string): number | undefined;
  /** Vocabulary entry of an id, or undefined. */
  idToToken(id: number): string | undefined;
  /** True when the id belongs to a special token (never split, skipped by `skipSpecialTokens`). */
  isSpecialId(id: number): boolean;
  /**
   * Makes `token` a special token: matched in text before any other tokenization, so it always
   * encodes to its one id. An existing entry keeps its id; otherwise the new id is `vocabSize`.
   */
  addSpecialToken(token: string): AddedSpecialToken;
  /**
   * Renders a chat with the tokenizer's chat template (a text, not ids), or throws when the tokenizer
   * has none (the built-in tokenizer never has one).
   */
  applyChatTemplate(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
  /** Writes `tokenizer.json` and `tokenizer_config.json` into `folder` (created when missing). */
  save(folder: string): Promise<void>;
}

/**
 * The id to pad with: the tokenizer's PAD token, else its EOS token (as the reference does), else 0.
 * Padding positions are masked, so the value only needs to be a valid id.
 */
export function defaultPadTokenId(tokenizer: PrmTokenizer): number {
  return tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
}
