import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type {
  AddedSpecialToken,
  ChatMessage,
  DetokenizeOptions,
  PrmTokenizer,
  TokenizeOptions,
} from "./prm-tokenizer.js";

// The built-in tokenizer is written here rather than taken from a library because it must produce the
// very ids that Hugging Face's own `tokenizer.json` machinery (Python `tokenizers`, transformers.js)
// produces for the file it saves: a WordLevel model behind a `Split` pre-tokenizer. Both steps are a
// regular expression and a dictionary look-up, so the TypeScript side stays small and needs no import
// of @huggingface/transformers (and so no ONNX Runtime) at run time.

/** How the built-in tokenizer cuts text: into words/digits/punctuation, or into single characters. */
export type BuiltinTokenizerMode = "word" | "char";

/**
 * Pre-tokenizer pattern of the word mode: a word (letters) or a single digit or a single other
 * character, each with at most one leading space, or a lone white-space character. Numbers thus become
 * digit sequences (`" 19"` -> `" 1"`, `"9"`). `\p{White_Space}` rather than `\s` because transformers.js
 * rewrites `\s` to it and Python's Oniguruma reads it the same way, so all three engines agree.
 */
export const WORD_PRETOKENIZER_PATTERN =
  " ?\\p{L}+| ?\\p{N}| ?[^\\p{White_Space}\\p{L}\\p{N}]|\\p{White_Space}";

/** Pre-tokenizer pattern of the char mode: every code point on its own. */
export const CHAR_PRETOKENIZER_PATTERN = "[\\s\\S]";

/** Special tokens of the built-in tokenizer, in id order (ids 0-3), before the step tag. */
export const BUILTIN_SPECIAL_TOKENS = {
  pad: "[PAD]",
  unk: "[UNK]",
  bos: "[BOS]",
  eos: "[EOS]",
} as const;

/** The default step tag, as in the reference (see docs/method.md, section 5). */
export const DEFAULT_STEP_TAG = "[PRM]";

/** Marker written into `tokenizer_config.json` so `loadTokenizer` can read the folder back without transformers.js. */
export const BUILTIN_CONFIG_KEY = "pqm_builtin_tokenizer";

const ASCII_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
const DIGITS = "0123456789";
const ASCII_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** The everything-a-text-needs alphabet of the char mode: printable ASCII, newline and tab. */
export const DEFAULT_CHAR_ALPHABET: readonly string[] = [
  "\n",
  "\t",
  ...Array.from({ length: 95 }, (_, offset) => String.fromCharCode(32 + offset)),
];

/** Options shared by {@link buildWordTokenizer} and {@link buildCharTokenizer}. */
export interface BuiltinTokenizerOptions {
  /** Step tag added as a special token right after the four fixed ones (id 4); null for none. Default `[PRM]`. */
  stepTag?: string | null;
  /** More special tokens, added after the step tag. */
  extraSpecialTokens?: readonly string[];
}

/** Options of {@link buildWordTokenizer}. */
export interface WordTokenizerOptions extends BuiltinTokenizerOptions {
  /** Keep a word only when the corpus has it at least this often (default 1). */
  minFrequency?: number;
  /** Cap on the vocabulary size, special tokens and the fixed alphabet included (default: no cap). */
  maxVocabSize?: number;
}

/** Options of {@link buildCharTokenizer}. */
export interface CharTokenizerOptions extends BuiltinTokenizerOptions {
  /** The characters (code points) of the vocabulary; default {@link DEFAULT_CHAR_ALPHABET}. */
  alphabet?: readonly string[];
}

/** Everything that defines a built-in tokenizer; the vocabulary's index is the id. */
export interface BuiltinTokenizerSpec {
  mode: BuiltinTokenizerMode;
  /** Vocabulary in id order; special tokens included. */
  vocab: readonly string[];
  /** The entries of `vocab` that are special tokens. */
  specialTokens: readonly string[];
}

/**
 * The small tokenizer for models trained from scratch on the built-in arithmetic environment: a
 * word-level (or char-level) vocabulary with `[PAD] [UNK] [BOS] [EOS]` and the step tag as special
 * tokens, saved as a real Hugging Face `tokenizer.json` (WordLevel model, `Split` pre-tokenizer, `Fuse`
 * decoder) that `AutoTokenizer` loads back with identical ids. Text it cannot cut into known pieces
 * becomes `[UNK]`, so decoding is exact only for text within the vocabulary.
 */
export class BuiltinTokenizer implements PrmTokenizer {
  readonly kind = "builtin" as const;
  readonly mode: BuiltinTokenizerMode;
  private readonly vocab: string[];
  private readonly ids: Map<string, number>;
  private readonly special: Set<string>;
  /** Special tokens, longest first, for the leftmost-longest split that transformers.js does. */
  private specialByLength: string[];
  private readonly pattern: RegExp;

  /** Builds from a spec; throws on duplicate entries or a missing fixed special token. */
  constructor(spec: BuiltinTokenizerSpec) {
    this.mode = spec.mode;
    this.vocab = [...spec.vocab];
    this.ids = new Map();
    this.vocab.forEach((token, id) => {
      if (token.length === 0) throw new Error(`built-in tokenizer: empty vocabulary entry at id ${id}`);
      if (this.ids.has(token))
        throw new Error(`built-in tokenizer: duplicate vocabulary entry ${JSON.stringify(token)}`);
      this.ids.set(token, id);
    });
    for (const token of Object.values(BUILTIN_SPECIAL_TOKENS)) {
      if (!this.ids.has(token)) throw new Error(`built-in tokenizer: the vocabulary lacks ${token}`);
    }
    this.special = new Set(spec.specialTokens);
    for (const token of this.special) {
      if (!this.ids.has(token))
        throw new Error(`built-in tokenizer: special token ${token} is not in the vocabulary`);
    }
    this.specialByLength = sortLongestFirst(this.special);
    this.pattern = new RegExp(
      spec.mode === "word" ? WORD_PRETOKENIZER_PATTERN : CHAR_PRETOKENIZER_PATTERN,
      "gu",
    );
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  get bosTokenId(): number {
    return this.ids.get(BUILTIN_SPECIAL_TOKENS.bos)!;
  }

  get eosTokenId(): number {
    return this.ids.get(BUILTIN_SPECIAL_TOKENS.eos)!;
  }

  get padTokenId(): number {
    return this.ids.get(BUILTIN_SPECIAL_TOKENS.pad)!;
  }

  /** Id of `[UNK]`, given to every piece outside the vocabulary. */
  get unkTokenId(): number {
    return this.ids.get(BUILTIN_SPECIAL_TOKENS.unk)!;
  }

  /** The spec this tokenizer was built from, with special tokens added since. */
  get spec(): BuiltinTokenizerSpec {
    return { mode: this.mode, vocab: [...this.vocab], specialTokens: [...this.special] };
  }

  encode(text: string, options: TokenizeOptions = {}): number[] {
    const out: number[] = options.addBos ? [this.bosTokenId] : [];
    for (const piece of this.pieces(text)) out.push(this.ids.get(piece) ?? this.unkTokenId);
    return out;
  }

  /** The pieces (vocabulary entries or unknown text) that `encode` looks up, in order. */
  pieces(text: string): string[] {
    const out: string[] = [];
    for (const section of splitOnSpecialTokens(text, this.specialByLength)) {
      if (section.special) {
        out.push(section.text);
        continue;
      }
      // Same as transformers.js' `regex_split`: matches and the gaps between them are both pieces.
      let previous = 0;
      for (const match of section.text.matchAll(this.pattern)) {
        if (previous < match.index) out.push(section.text.slice(previous, match.index));
        if (match[0].length > 0) out.push(match[0]);
        previous = match.index + match[0].length;
      }
      if (previous < section.text.length) out.push(section.text.slice(previous));
    }
    return out;
  }

  decode(ids: readonly number[], options: DetokenizeOptions = {}): string {
    let text = "";
    for (const id of ids) {
      const token = this.vocab[id];
      if (token === undefined)
        throw new RangeError(
          `built-in tokenizer: id ${id} is outside the vocabulary (size ${this.vocabSize})`,
        );
      if (options.skipSpecialTokens && this.special.has(token)) continue;
      text += token;
    }
    return text;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.vocab[id];
  }

  isSpecialId(id: number): boolean {
    const token = this.vocab[id];
    return token !== undefined && this.special.has(token);
  }

  addSpecialToken(token: string): AddedSpecialToken {
    if (token.length === 0) throw new Error("built-in tokenizer: a special token cannot be empty");
    let id = this.ids.get(token);
    const added = id === undefined;
    if (id === undefined) {
      id = this.vocab.length;
      this.vocab.push(token);
      this.ids.set(token, id);
    }
    this.special.add(token);
    this.specialByLength = sortLongestFirst(this.special);
    return { id, added };
  }

  applyChatTemplate(_messages: readonly ChatMessage[]): string {
    throw new Error("the built-in tokenizer has no chat template; use a plain prompt template");
  }

  /** The `tokenizer.json` content (Hugging Face format) of this tokenizer. */
  toTokenizerJson(): Record<string, unknown> {
    const vocab: Record<string, number> = {};
    this.vocab.forEach((token, id) => {
      vocab[token] = id;
    });
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [...this.special]
        .map((content) => ({
          id: this.ids.get(content)!,
          content,
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: true,
        }))
        .sort((a, b) => a.id - b.id),
      normalizer: null,
      pre_tokenizer: {
        type: "Split",
        pattern: { Regex: this.mode === "word" ? WORD_PRETOKENIZER_PATTERN : CHAR_PRETOKENIZER_PATTERN },
        behavior: "Isolated",
        invert: false,
      },
      post_processor: null,
      decoder: { type: "Fuse" },
      model: { type: "WordLevel", vocab, unk_token: BUILTIN_SPECIAL_TOKENS.unk },
    };
  }

  /** The `tokenizer_config.json` content of this tokenizer. */
  toTokenizerConfig(): Record<string, unknown> {
    const fixed = new Set<string>(Object.values(BUILTIN_SPECIAL_TOKENS));
    const addedTokensDecoder: Record<string, unknown> = {};
    for (const content of this.special) {
      addedTokensDecoder[String(this.ids.get(content))] = {
        content,
        lstrip: false,
        normalized: false,
        rstrip: false,
        single_word: false,
        special: true,
      };
    }
    return {
      tokenizer_class: "PreTrainedTokenizerFast",
      // The Legacy/WordLevel path of transformers.js reads the unknown token from here, not from the model.
      unk_token: BUILTIN_SPECIAL_TOKENS.unk,
      pad_token: BUILTIN_SPECIAL_TOKENS.pad,
      bos_token: BUILTIN_SPECIAL_TOKENS.bos,
      eos_token: BUILTIN_SPECIAL_TOKENS.eos,
      additional_special_tokens: [...this.special].filter((token) => !fixed.has(token)),
      added_tokens_decoder: addedTokensDecoder,
      add_bos_token: false,
      add_eos_token: false,
      // transformers.js would otherwise rewrite " ." to "." when decoding.
      clean_up_tokenization_spaces: false,
      model_max_length: 1_000_000,
      [BUILTIN_CONFIG_KEY]: { version: 1, mode: this.mode },
    };
  }

  async save(folder: string): Promise<void> {
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "tokenizer.json"), `${JSON.stringify(this.toTokenizerJson(), null, 2)}\n`);
    await writeFile(
      join(folder, "tokenizer_config.json"),
      `${JSON.stringify(this.toTokenizerConfig(), null, 2)}\n`,
    );
  }

  /**
   * Reads back what {@link BuiltinTokenizer.save} wrote (the parsed `tokenizer.json` and
   * `tokenizer_config.json`). Throws when the files are not a built-in tokenizer's.
   */
  static fromJson(tokenizerJson: unknown, tokenizerConfig: unknown): BuiltinTokenizer {
    const config = asRecord(tokenizerConfig, "tokenizer_config.json");
    const marker = asRecord(
      config[BUILTIN_CONFIG_KEY],
      `tokenizer_config.json: field '${BUILTIN_CONFIG_KEY}'`,
    );
    const mode = marker.mode;
    if (mode !== "word" && mode !== "char") {
      throw new Error(`tokenizer_config.json: field '${BUILTIN_CONFIG_KEY}.mode': expected "word" or "char"`);
    }
    const json = asRecord(tokenizerJson, "tokenizer.json");
    const model = asRecord(json.model, "tokenizer.json: field 'model'");
    if (model.type !== "WordLevel") throw new Error("tokenizer.json: field 'model.type': expected WordLevel");
    const vocabObject = asRecord(model.vocab, "tokenizer.json: field 'model.vocab'");
    const vocab: string[] = [];
    const entries = Object.entries(vocabObject);
    for (const [token, id] of entries) {
      // Ids are 0..n-1, one per token: a larger one leaves a gap (and a huge one a huge sparse array).
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= entries.length) {
        throw new Error(
          `tokenizer.json: field 'model.vocab.${printableKey(token)}': expected an id from 0 to ${entries.length - 1}, got ${JSON.stringify(id)}`,
        );
      }
      if (vocab[id] !== undefined) {
        throw new Error(
          `tokenizer.json: field 'model.vocab.${printableKey(token)}': id ${id} is also ${JSON.stringify(vocab[id])}'s`,
        );
      }
      vocab[id] = token;
    }
    for (let id = 0; id < vocab.length; id++) {
      if (vocab[id] === undefined)
        throw new Error(`tokenizer.json: field 'model.vocab': no token has id ${id}`);
    }
    const added = json.added_tokens;
    if (!Array.isArray(added)) throw new Error("tokenizer.json: field 'added_tokens': expected a list");
    const specialTokens = added.map((entry, index) => {
      const record = asRecord(entry, `tokenizer.json: field 'added_tokens.${index}'`);
      if (typeof record.content !== "string") {
        throw new Error(`tokenizer.json: field 'added_tokens.${index}.content': expected a string`);
      }
      return record.content;
    });
    try {
      return new BuiltinTokenizer({ mode, vocab, specialTokens });
    } catch (cause) {
      // The constructor's checks (empty or duplicate tokens, missing special tokens) concern the vocabulary.
      // Tokens appear raw in these messages: line breaks are escaped so the message stays one line.
      const reason = (cause as Error).message.replace(/[\r\n]/g, (char) => (char === "\n" ? "\\n" : "\\r"));
      throw new Error(`tokenizer.json: field 'model.vocab': ${reason}`, { cause });
    }
  }
}

/** A vocabulary entry as part of a field name: as is when plain, JSON-quoted when it holds white space or control characters. */
function printableKey(token: string): string {
  return /^[^\s\p{C}'"]+$/u.test(token) ? token : JSON.stringify(token);
}

/**
 * Builds a word-level tokenizer from a corpus (for example texts rendered from the arithmetic
 * environment with the training template). Ids: `[PAD]` 0, `[UNK]` 1, `[BOS]` 2, `[EOS]` 3, the step tag 4,
 * extra special tokens, then a fixed alphabet (white space, digits and ASCII punctuation, each with and
 * without a leading space, and single ASCII letters), then the corpus' words, most frequent first (ties in
 * code-point order), so the same corpus always gives the same ids.
 */
export function buildWordTokenizer(
  corpus: Iterable<string>,
  options: WordTokenizerOptions = {},
): BuiltinTokenizer {
  const specialTokens = specialTokenList(options);
  const vocab = [...specialTokens];
  const seen = new Set(vocab);
  const push = (token: string) => {
    if (!seen.has(token)) {
      seen.add(token);
      vocab.push(token);
    }
  };
  for (const token of [" ", "\n", "\t", "\r"]) push(token);
  for (const symbol of [...DIGITS, ...ASCII_PUNCTUATION]) {
    push(symbol);
    push(` ${symbol}`);
  }
  for (const letter of ASCII_LETTERS) push(letter);

  // A throw-away tokenizer over the fixed part only gives the corpus pieces exactly as `encode` will cut them.
  const cutter = new BuiltinTokenizer({ mode: "word", vocab, specialTokens });
  const counts = new Map<string, number>();
  for (const text of corpus) {
    for (const piece of cutter.pieces(text)) {
      if (!seen.has(piece)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
    }
  }
  const minFrequency = options.minFrequency ?? 1;
  const words = [...counts.entries()]
    .filter(([, count]) => count >= minFrequency)
    .sort(([a, countA], [b, countB]) => countB - countA || (a < b ? -1 : a > b ? 1 : 0))
    .map(([word]) => word);
  const room =
    options.maxVocabSize === undefined ? words.length : Math.max(0, options.maxVocabSize - vocab.length);
  for (const word of words.slice(0, room)) push(word);
  return new BuiltinTokenizer({ mode: "word", vocab, specialTokens });
}

/**
 * Builds a character-level tokenizer over a fixed alphabet: ids `[PAD]` 0, `[UNK]` 1, `[BOS]` 2,
 * `[EOS]` 3, the step tag 4, extra special tokens, then the alphabet in the order given. Throws when an
 * alphabet entry is not a single code point.
 */
export function buildCharTokenizer(options: CharTokenizerOptions = {}): BuiltinTokenizer {
  const specialTokens = specialTokenList(options);
  const vocab = [...specialTokens];
  const seen = new Set(vocab);
  for (const symbol of options.alphabet ?? DEFAULT_CHAR_ALPHABET) {
    if ([...symbol].length !== 1)
      throw new Error(`char tokenizer: ${JSON.stringify(symbol)} is not one character`);
    if (!seen.has(symbol)) {
      seen.add(symbol);
      vocab.push(symbol);
    }
  }
  return new BuiltinTokenizer({ mode: "char", vocab, specialTokens });
}

function specialTokenList(options: BuiltinTokenizerOptions): string[] {
  const list: string[] = Object.values(BUILTIN_SPECIAL_TOKENS);
  const stepTag = options.stepTag === undefined ? DEFAULT_STEP_TAG : options.stepTag;
  for (const token of [...(stepTag === null ? [] : [stepTag]), ...(options.extraSpecialTokens ?? [])]) {
    if (token.length === 0) throw new Error("built-in tokenizer: a special token cannot be empty");
    if (!list.includes(token)) list.push(token);
  }
  return list;
}

function sortLongestFirst(tokens: Iterable<string>): string[] {
  return [...tokens].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
}

/**
 * Cuts text around special tokens, scanning left to right and taking the longest special token that
 * starts at each position, as transformers.js' `DictionarySplitter` does.
 */
function splitOnSpecialTokens(
  text: string,
  specialByLength: readonly string[],
): { text: string; special: boolean }[] {
  const sections: { text: string; special: boolean }[] = [];
  let start = 0;
  let index = 0;
  while (index < text.length) {
    const match = specialByLength.find((token) => text.startsWith(token, index));
    if (match === undefined) {
      index++;
      continue;
    }
    if (index > start) sections.push({ text: text.slice(start, index), special: false });
    sections.push({ text: match, special: true });
    index += match.length;
    start = index;
  }
  if (start < text.length) sections.push({ text: text.slice(start), special: false });
  return sections;
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error(`${what}: expected an object`);
  return value as Record<string, unknown>;
}
