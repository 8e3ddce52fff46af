import type { PrmTokenizer } from "./prm-tokenizer.js";
import { TokenizerLoadError } from "./tokenizer-errors.js";

// Checks of a tokenizer folder beyond what the tokenizer engine checks: @huggingface/tokenizers
// builds a tokenizer from almost any JSON (a vocabulary that is a string, ids that are fractions)
// and only fails, or returns undefined ids, when it later encodes. These run at load time so that a
// damaged file fails there, with a TokenizerLoadError naming the file and the field.

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 40 ? `${json.slice(0, 37)}...` : json;
}

/** A key as part of a field name: as is when plain, JSON-quoted when it holds white space or control characters. */
function printableKey(key: string): string {
  return /^[^\s\p{C}'"]+$/u.test(key) ? key : JSON.stringify(key);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isTokenId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function failAt(path: string, field: string, reason: string): never {
  throw new TokenizerLoadError(path, `field '${field}': ${reason}`);
}

/** Model types whose `vocab` maps tokens to ids, and the one whose `vocab` lists `[piece, score]`. */
const MAPPED_VOCAB = new Set(["BPE", "WordLevel", "WordPiece"]);

/**
 * Checks the fields of a Hugging Face `tokenizer.json` that the engine trusts: `model` an object,
 * `model.vocab` a map of whole-number ids (a list of `[piece, score]` for Unigram), `model.merges` a
 * list of `"a b"` strings or `[a, b]` pairs, `added_tokens` a list of `{id, content}`.
 * @param path the file, named in the error.
 * @throws TokenizerLoadError `path: field 'model.vocab.x': ...` for the first bad field.
 */
export function checkTokenizerJson(json: Record<string, unknown>, path: string): void {
  const model = json.model;
  if (!isObject(model)) failAt(path, "model", `expected an object, got ${describe(model)}`);
  // Ids index tables the engine sizes by the largest id: one far past the number of tokens (a
  // corrupt 2147483648) took minutes to load. Real files are dense, with added tokens just above.
  const vocabSize = Array.isArray(model.vocab)
    ? model.vocab.length
    : isObject(model.vocab)
      ? Object.keys(model.vocab).length
      : 0;
  const addedCount = Array.isArray(json.added_tokens) ? json.added_tokens.length : 0;
  const idLimit = 4 * (vocabSize + addedCount) + 65_536;
  const isUsableId = (value: unknown): value is number => isTokenId(value) && value < idLimit;
  const type = model.type;
  if (type !== undefined && typeof type !== "string")
    failAt(path, "model.type", `expected a string, got ${describe(type)}`);
  const vocab = model.vocab;
  if (Array.isArray(vocab)) {
    vocab.forEach((entry, index) => {
      if (
        !Array.isArray(entry) ||
        typeof entry[0] !== "string" ||
        typeof entry[1] !== "number" ||
        !Number.isFinite(entry[1])
      ) {
        failAt(path, `model.vocab.${index}`, `expected a [piece, score] pair, got ${describe(entry)}`);
      }
    });
  } else if (isObject(vocab)) {
    for (const [token, id] of Object.entries(vocab)) {
      if (!isUsableId(id))
        failAt(
          path,
          `model.vocab.${printableKey(token)}`,
          `expected a token id (a whole number from 0 to ${idLimit - 1}), got ${describe(id)}`,
        );
    }
  } else if (
    vocab !== undefined ||
    (typeof type === "string" && (MAPPED_VOCAB.has(type) || type === "Unigram"))
  ) {
    failAt(
      path,
      "model.vocab",
      `expected a map of token ids (or a list of [piece, score] pairs), got ${describe(vocab)}`,
    );
  }
  const merges = model.merges;
  if (merges !== undefined) {
    if (!Array.isArray(merges)) failAt(path, "model.merges", `expected a list, got ${describe(merges)}`);
    (merges as unknown[]).forEach((merge, index) => {
      const pair =
        typeof merge === "string"
          ? merge.includes(" ")
          : Array.isArray(merge) && merge.length === 2 && merge.every((part) => typeof part === "string");
      if (!pair)
        failAt(path, `model.merges.${index}`, `expected "a b" or ["a", "b"], got ${describe(merge)}`);
    });
  }
  const added = json.added_tokens;
  if (added !== undefined && added !== null) {
    if (!Array.isArray(added)) failAt(path, "added_tokens", `expected a list, got ${describe(added)}`);
    (added as unknown[]).forEach((entry, index) => {
      if (!isObject(entry))
        failAt(path, `added_tokens.${index}`, `expected an object, got ${describe(entry)}`);
      if (!isUsableId(entry.id))
        failAt(
          path,
          `added_tokens.${index}.id`,
          `expected a token id from 0 to ${idLimit - 1}, got ${describe(entry.id)}`,
        );
      if (typeof entry.content !== "string" || entry.content === "") {
        failAt(
          path,
          `added_tokens.${index}.content`,
          `expected a non-empty string, got ${describe(entry.content)}`,
        );
      }
    });
  }
}

/** Text with the pieces a process reward model feeds a tokenizer: a step header, digits, the tag, an emoji. */
const SAMPLE_TEXT = "Step 1: 3 + 5 = 8, so x² is 64. ки\nStep 2: é 漢字 😀";

/**
 * Encodes and decodes a sample text, as a last load-time check: every id must be a whole number
 * below the vocabulary size. Catches a `tokenizer.json` the engine accepted but cannot use.
 * @throws TokenizerLoadError naming `path` when encoding or decoding fails or gives ids outside the vocabulary.
 */
export function checkTokenizerEncodes(tokenizer: PrmTokenizer, path: string): void {
  let ids: number[];
  try {
    ids = tokenizer.encode(SAMPLE_TEXT);
  } catch (cause) {
    throw new TokenizerLoadError(path, `cannot encode a sample text: ${(cause as Error).message}`, { cause });
  }
  const size = tokenizer.vocabSize;
  if (!(Number.isSafeInteger(size) && size > 0)) {
    throw new TokenizerLoadError(path, `the vocabulary size is ${size}`);
  }
  for (let index = 0; index < ids.length; index += 1) {
    const id = ids[index];
    if (!(Number.isSafeInteger(id) && id! >= 0 && id! < size)) {
      throw new TokenizerLoadError(
        path,
        `encodes a sample text to id ${describe(id)}, outside the vocabulary of ${size}`,
      );
    }
  }
  try {
    tokenizer.decode(ids);
  } catch (cause) {
    throw new TokenizerLoadError(path, `cannot decode a sample text: ${(cause as Error).message}`, { cause });
  }
}
