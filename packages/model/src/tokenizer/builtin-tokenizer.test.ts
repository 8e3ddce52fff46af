import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BuiltinTokenizer } from "./builtin-tokenizer.js";
import { BUILTIN_SPECIAL_TOKENS, buildCharTokenizer, buildWordTokenizer } from "./builtin-tokenizer.js";
import { loadTokenizer } from "./hf-tokenizer.js";

// Texts shaped like the arithmetic environment's, rendered with the plain template.
const corpus = [
  "Tom has 12 apples. He buys 7 more. How many apples does Tom have? Step 1: Tom has 12 + 7 = 19 apples. [PRM]\nStep 2: The answer is 19. [PRM]",
  "Ann has 305 pears and gives away 48. How many pears are left? Step 1: 305 - 48 = 257 pears. [PRM]\nStep 2: The answer is 257. [PRM]",
  "A box holds 6 rows of 14 eggs. How many eggs? Step 1: 6 * 14 = 84 eggs. [PRM]\nStep 2: The answer is 84. [PRM]",
];

// Text the vocabulary cannot fully cover, spacing oddities, special tokens glued to text.
const probes = [
  ...corpus,
  "",
  "Tom  has\t12\r\napples.",
  "[PRM][PRM] x[PRM]y [BOS]Tom[EOS] [PAD][UNK]",
  "[PR M] [PRM",
  "Zebras héllo 日本 🙂 ½ 3.14",
  "   leading and trailing   ",
  "Step 10: 1000000 / 7 = 142857.14",
];

let folder: string;
async function autoTokenizerFor(tokenizer: BuiltinTokenizer, name: string) {
  const target = join(folder, name);
  await tokenizer.save(target);
  const { AutoTokenizer, env } = await import("@huggingface/transformers");
  env.allowRemoteModels = false;
  env.localModelPath = dirname(target);
  return AutoTokenizer.from_pretrained(name);
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-builtin-tokenizer-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("buildWordTokenizer", () => {
  const tokenizer = buildWordTokenizer(corpus);

  it("gives the special tokens ids 0-4 and the step tag id 4", () => {
    expect(Object.values(BUILTIN_SPECIAL_TOKENS).map((token) => tokenizer.tokenToId(token))).toEqual([
      0, 1, 2, 3,
    ]);
    expect(tokenizer.tokenToId("[PRM]")).toBe(4);
    for (let id = 0; id <= 4; id++) expect(tokenizer.isSpecialId(id)).toBe(true);
    expect(tokenizer.isSpecialId(tokenizer.tokenToId(" apples")!)).toBe(false);
  });

  it("writes numbers as one token per digit", () => {
    const ids = tokenizer.encode("12 + 305");
    const pieces = ids.map((id) => tokenizer.idToToken(id));
    expect(pieces).toEqual(["1", "2", " +", " 3", "0", "5"]);
  });

  it("encodes corpus text without [UNK] and decodes it back exactly", () => {
    for (const text of corpus) {
      const ids = tokenizer.encode(text);
      expect(ids).not.toContain(tokenizer.unkTokenId);
      expect(tokenizer.decode(ids)).toBe(text);
    }
  });

  it("maps unknown words to [UNK] and adds BOS only when asked", () => {
    const ids = tokenizer.encode("Tom has zebras");
    expect(ids.at(-1)).toBe(tokenizer.unkTokenId);
    expect(tokenizer.encode("Tom", { addBos: true })).toEqual([
      tokenizer.bosTokenId,
      ...tokenizer.encode("Tom"),
    ]);
    expect(tokenizer.encode("Tom")[0]).not.toBe(tokenizer.bosTokenId);
  });

  it("skips special tokens when decoding if asked", () => {
    const ids = tokenizer.encode("Tom has 12 apples. [PRM]");
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe("Tom has 12 apples. ");
    expect(() => tokenizer.decode([tokenizer.vocabSize])).toThrow(RangeError);
  });

  it("is deterministic and honors minFrequency and maxVocabSize", () => {
    expect(buildWordTokenizer(corpus).spec).toEqual(tokenizer.spec);
    const rare = buildWordTokenizer(corpus, { minFrequency: 2 });
    expect(rare.tokenToId(" pears")).toBeDefined();
    expect(rare.tokenToId(" box")).toBeUndefined();
    expect(tokenizer.tokenToId(" box")).toBeDefined();
    const capped = buildWordTokenizer(corpus, { maxVocabSize: tokenizer.vocabSize - 5 });
    expect(capped.vocabSize).toBe(tokenizer.vocabSize - 5);
  });

  it("adds special tokens at the end of the vocabulary", () => {
    const local = buildWordTokenizer(corpus);
    const before = local.vocabSize;
    expect(local.addSpecialToken("[STEP]")).toEqual({ id: before, added: true });
    expect(local.addSpecialToken("[STEP]")).toEqual({ id: before, added: false });
    expect(local.encode("x[STEP]y")).toContain(before);
    expect(local.vocabSize).toBe(before + 1);
  });

  it("round-trips through tokenizer.json: AutoTokenizer gives identical ids and text", async () => {
    const local = buildWordTokenizer(corpus);
    local.addSpecialToken("[STEP]");
    const auto = await autoTokenizerFor(local, "word");
    for (const text of [...probes, "a[STEP]b"]) {
      const ours = local.encode(text);
      expect(auto.encode(text, { add_special_tokens: false }), JSON.stringify(text)).toEqual(ours);
      if (ours.length > 0) expect(auto.decode(ours)).toBe(local.decode(ours));
    }
    for (const text of corpus) expect(auto.decode(local.encode(text))).toBe(text);
  });

  it("loads back through loadTokenizer as a built-in tokenizer with the same ids", async () => {
    await tokenizer.save(join(folder, "word-reload"));
    const loaded = await loadTokenizer(join(folder, "word-reload"));
    expect(loaded.kind).toBe("builtin");
    for (const text of probes) expect(loaded.encode(text)).toEqual(tokenizer.encode(text));
    const config = JSON.parse(await readFile(join(folder, "word-reload", "tokenizer_config.json"), "utf8"));
    expect(config.additional_special_tokens).toEqual(["[PRM]"]);
  });
});

describe("buildCharTokenizer", () => {
  const tokenizer = buildCharTokenizer();

  it("has one token per character and round-trips ASCII text", () => {
    const text = "Step 1: 12 + 7 = 19 apples. [PRM]\nStep 2: done. [PRM]";
    const ids = tokenizer.encode(text);
    expect(ids.filter((id) => id === tokenizer.tokenToId("[PRM]"))).toHaveLength(2);
    expect(ids).toHaveLength(text.length - 2 * "[PRM]".length + 2);
    expect(tokenizer.decode(ids)).toBe(text);
  });

  it("refuses an alphabet entry longer than one character", () => {
    expect(() => buildCharTokenizer({ alphabet: ["ab"] })).toThrow(/not one character/);
  });

  it("round-trips through tokenizer.json: AutoTokenizer gives identical ids", async () => {
    const auto = await autoTokenizerFor(tokenizer, "char");
    for (const text of probes) {
      expect(auto.encode(text, { add_special_tokens: false }), JSON.stringify(text)).toEqual(
        tokenizer.encode(text),
      );
    }
  });
});
