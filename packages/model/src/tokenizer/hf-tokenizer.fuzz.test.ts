import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FuzzJson } from "@pqm/testing/fuzz";
import {
  applyByteMutations,
  applyJsonMutations,
  byteMutation,
  FuzzTally,
  fuzzParameters,
  fuzzRuns,
  jsonMutation,
} from "@pqm/testing/fuzz";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCharTokenizer, buildWordTokenizer } from "./builtin-tokenizer.js";
import { loadTokenizer } from "./hf-tokenizer.js";
import { TokenizerLoadError } from "./tokenizer-errors.js";

// Valid tokenizer folders (tokenizer.json + tokenizer_config.json): the built-in word and character
// tokenizers as they save themselves, and small Hugging Face WordLevel and byte-level BPE
// tokenizers, then mutated: fields of either file deleted or retyped (vocabulary ids, merges,
// added tokens, the model type, special tokens), bytes of either file flipped or cut. A folder must
// load to a tokenizer that encodes and decodes, or fail with a TokenizerLoadError naming the folder
// and the file.

const words = fc.uniqueArray(fc.stringMatching(/^[a-z]{1,5}$/), { minLength: 1, maxLength: 8 });

function addedToken(id: number, content: string): FuzzJson {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** A folder's two files as JSON, valid for the chosen kind. */
function validFolder(kind: string, vocabulary: string[]): { tokenizer: FuzzJson; config: FuzzJson } {
  if (kind === "builtin-word" || kind === "builtin-char") {
    const tokenizer =
      kind === "builtin-word" ? buildWordTokenizer([vocabulary.join(" ")]) : buildCharTokenizer();
    return {
      tokenizer: tokenizer.toTokenizerJson() as FuzzJson,
      config: tokenizer.toTokenizerConfig() as FuzzJson,
    };
  }
  if (kind === "wordlevel") {
    const vocab: { [key: string]: FuzzJson } = { "[UNK]": 0 };
    vocabulary.forEach((word, index) => {
      vocab[word] = index + 1;
    });
    return {
      tokenizer: {
        version: "1.0",
        truncation: null,
        padding: null,
        added_tokens: [addedToken(0, "[UNK]")],
        normalizer: { type: "Lowercase" },
        pre_tokenizer: { type: "Whitespace" },
        post_processor: null,
        decoder: { type: "WordPiece", prefix: "##", cleanup: true },
        model: { type: "WordLevel", vocab, unk_token: "[UNK]" },
      },
      config: { unk_token: "[UNK]", model_max_length: 512 },
    };
  }
  // Byte-level BPE: every letter, then the merges that build each word.
  const vocab: { [key: string]: FuzzJson } = {};
  const merges: FuzzJson[] = [];
  const add = (token: string) => {
    if (vocab[token] === undefined) vocab[token] = Object.keys(vocab).length;
  };
  for (const letter of "abcdefghijklmnopqrstuvwxyzĠ") add(letter);
  for (const word of vocabulary) {
    let piece = word[0]!;
    for (const letter of word.slice(1)) {
      if (vocab[piece + letter] === undefined) merges.push([piece, letter]);
      add(piece + letter);
      piece += letter;
    }
  }
  const eos = Object.keys(vocab).length;
  return {
    tokenizer: {
      version: "1.0",
      added_tokens: [addedToken(eos, "<|endoftext|>")],
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: "BPE",
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges,
      },
    },
    config: {
      eos_token: "<|endoftext|>",
      chat_template: "{% for message in messages %}{{ message.content }}{% endfor %}",
    },
  };
}

const folders = fc.record({
  kind: fc.constantFrom("builtin-word", "builtin-char", "wordlevel", "bpe"),
  vocabulary: words,
  json: fc.oneof(
    { weight: 1, arbitrary: fc.constant([]) },
    { weight: 3, arbitrary: fc.array(jsonMutation, { minLength: 1, maxLength: 2 }) },
  ),
  bytes: fc.oneof(
    { weight: 2, arbitrary: fc.constant([]) },
    { weight: 2, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 3 }) },
  ),
  bytesTarget: fc.constantFrom("tokenizer.json", "tokenizer_config.json"),
});

function expectTokenizerLoadError(error: unknown, folder: string, tally: FuzzTally): void {
  if (!(error instanceof TokenizerLoadError)) throw error;
  expect(error.message.startsWith(folder)).toBe(true);
  expect(error.message).not.toContain("\n");
  expect(error.message).toMatch(/tokenizer(_config)?\.json/);
  tally.reject(/tokenizer_config\.json/.test(error.message) ? "tokenizer_config.json" : "tokenizer.json");
}

let root = "";
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "pqm-fuzz-tokenizer-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("loadTokenizer under fuzzing", () => {
  it("loads every mutated folder to a tokenizer that encodes and decodes, or names folder and file", async () => {
    const tally = new FuzzTally("tokenizer");
    const folder = join(root, "tokenizer");
    await mkdir(folder, { recursive: true });
    await fc.assert(
      fc.asyncProperty(folders, async (input) => {
        const valid = validFolder(input.kind, input.vocabulary);
        const mutated = applyJsonMutations(
          { tokenizer: valid.tokenizer, config: valid.config },
          input.json,
        ) as {
          tokenizer?: FuzzJson;
          config?: FuzzJson;
        };
        const files: Record<string, Buffer> = {
          "tokenizer.json": Buffer.from(JSON.stringify(mutated.tokenizer ?? null)),
          "tokenizer_config.json": Buffer.from(JSON.stringify(mutated.config ?? null)),
        };
        files[input.bytesTarget] = applyByteMutations(files[input.bytesTarget]!, input.bytes);
        for (const [name, bytes] of Object.entries(files)) await writeFile(join(folder, name), bytes);
        try {
          const tokenizer = await loadTokenizer(folder);
          expect(Number.isInteger(tokenizer.vocabSize) && tokenizer.vocabSize > 0).toBe(true);
          const ids = tokenizer.encode(`${input.vocabulary.join(" ")} x 😀 ки`);
          for (const id of ids)
            expect(Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize).toBe(true);
          expect(typeof tokenizer.decode(ids)).toBe("string");
          tally.accept();
        } catch (error) {
          expectTokenizerLoadError(error, folder, tally);
        }
      }),
      fuzzParameters(2140, fuzzRuns(300, 6_000)),
    );
    tally.record();
    expect(tally.accepted).toBeGreaterThan(0);
  });
});

describe("tokenizer folders the fuzzing found", () => {
  async function folderWith(name: string, tokenizer: FuzzJson, config: FuzzJson): Promise<string> {
    const folder = join(root, name);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "tokenizer.json"), JSON.stringify(tokenizer));
    await writeFile(join(folder, "tokenizer_config.json"), JSON.stringify(config));
    return folder;
  }

  it("refuses a vocabulary that is not a map of ids (it loaded, then encoded to undefined ids)", async () => {
    const valid = validFolder("wordlevel", ["a", "b"]) as {
      tokenizer: { model: { vocab: FuzzJson } };
      config: FuzzJson;
    };
    valid.tokenizer.model.vocab = "None";
    const folder = await folderWith("vocab-string", valid.tokenizer as FuzzJson, valid.config);
    await expect(loadTokenizer(folder)).rejects.toThrow(
      `${join(folder, "tokenizer.json")}: field 'model.vocab': expected a map of token ids (or a list of [piece, score] pairs), got "None"`,
    );
  });

  it("refuses an id far past the vocabulary (it took minutes to load)", async () => {
    const valid = validFolder("bpe", ["ab"]) as {
      tokenizer: { model: { vocab: Record<string, FuzzJson> } };
      config: FuzzJson;
    };
    valid.tokenizer.model.vocab.ab = 2_147_483_648;
    const folder = await folderWith("huge-id", valid.tokenizer as FuzzJson, valid.config);
    await expect(loadTokenizer(folder)).rejects.toThrow(
      /tokenizer\.json: field 'model\.vocab\.ab': expected a token id \(a whole number from 0 to \d+\), got 2147483648/,
    );
  });

  it("refuses a built-in vocabulary with an id past its size (it made a sparse array of that length)", async () => {
    const valid = validFolder("builtin-word", ["a", "b"]) as {
      tokenizer: { model: { vocab: Record<string, FuzzJson> } };
      config: FuzzJson;
    };
    valid.tokenizer.model.vocab.a = 4_294_967_295;
    const folder = await folderWith("builtin-gap", valid.tokenizer as FuzzJson, valid.config);
    await expect(loadTokenizer(folder)).rejects.toThrow(
      /tokenizer\.json: field 'model\.vocab\.a': expected an id from 0 to \d+, got 4294967295/,
    );
  });
});
