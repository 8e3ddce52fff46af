import { beforeAll, describe, expect, it } from "vitest";
import { buildWordTokenizer } from "./builtin-tokenizer.js";
import { loadTokenizer } from "./hf-tokenizer.js";
import type { PrmTokenizer } from "./prm-tokenizer.js";
import {
  REAL_TOKENIZERS,
  type RealTokenizerName,
  realTokenizerFolder,
} from "./real-tokenizers.test-helper.js";
import { addStepTagToken, useExistingStepTag } from "./step-tag.js";
import { StepTagError } from "./tokenizer-errors.js";

const tokenizers = new Map<RealTokenizerName, PrmTokenizer>();
beforeAll(async () => {
  for (const name of REAL_TOKENIZERS) tokenizers.set(name, await loadTokenizer(realTokenizerFolder(name)));
});

describe("addStepTagToken", () => {
  it.each(REAL_TOKENIZERS)("adds [PRM] to %s as one new id that encodes alone in any context", (name) => {
    const tokenizer = tokenizers.get(name)!;
    // Before: the tag text is several ordinary tokens.
    expect(tokenizer.encode(" [PRM]").length).toBeGreaterThan(1);
    const before = tokenizer.vocabSize;
    const tag = addStepTagToken(tokenizer);
    expect(tag).toMatchObject({
      text: "[PRM]",
      id: before,
      mode: "special",
      addedTokens: 1,
      vocabSizeBefore: before,
    });
    expect(tag.vocabSizeAfter).toBe(before + 1);
    for (const text of ["a [PRM]\nb", "a[PRM]b", "[PRM]", "x. [PRM]"]) {
      expect(tokenizer.encode(text).filter((id) => id === tag.id)).toHaveLength(1);
    }
    // Adding it again creates nothing.
    expect(addStepTagToken(tokenizer).addedTokens).toBe(0);
  });

  it("reports no new row when the built-in tokenizer already has the tag", () => {
    const tokenizer = buildWordTokenizer(["Tom has 3 apples."]);
    expect(addStepTagToken(tokenizer)).toMatchObject({
      id: 4,
      addedTokens: 0,
      vocabSizeAfter: tokenizer.vocabSize,
    });
  });

  it("refuses a tag with surrounding white space", () => {
    expect(() => addStepTagToken(buildWordTokenizer([]), " [PRM]")).toThrow(StepTagError);
  });
});

describe("useExistingStepTag", () => {
  it("refuses Math-Shepherd's ки on Qwen3: one id alone, two after a space", () => {
    const tokenizer = tokenizers.get("qwen3")!;
    // The naive check passes: the bare tag is a single token...
    expect(tokenizer.encode("ки")).toHaveLength(1);
    // ...but in the text the model reads it follows a space and splits.
    const error = (() => {
      try {
        useExistingStepTag(tokenizer, "ки");
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(StepTagError);
    const ids = (error as StepTagError).ids;
    expect(ids.filter((id) => tokenizer.decode([id]).includes("ки"))).toHaveLength(0);
    expect((error as Error).message).toContain(JSON.stringify(ids));
    expect((error as Error).message).toContain("after a space");
  });

  it("accepts ки on DeepSeek-V3, whose id differs with and without the leading space", () => {
    const tokenizer = tokenizers.get("deepseek_v3")!;
    const tag = useExistingStepTag(tokenizer, "ки");
    expect(tag.mode).toBe("existing");
    expect(tag.id).not.toBe(tag.unspacedId);
    expect(tokenizer.decode([tag.id])).toBe(" ки");
    expect(tokenizer.encode("ки")).toEqual([tag.unspacedId]);
    expect(tokenizer.encode("Step 1: 2 + 2 = 4. ки").at(-1)).toBe(tag.id);
  });

  it("accepts ки on Llama-2 with the id it has after a space", () => {
    const tokenizer = tokenizers.get("llama2")!;
    const tag = useExistingStepTag(tokenizer, "ки");
    expect(
      tokenizer.encode("Step 1: 2 + 2 = 4. ки\nStep 2: 4 ки").filter((id) => id === tag.id),
    ).toHaveLength(2);
  });

  it("refuses a tag that merges with the newline after it (+ on Qwen3)", () => {
    expect(() => useExistingStepTag(tokenizers.get("qwen3")!, "+")).toThrow(StepTagError);
  });

  it("refuses text that is several tokens", () => {
    expect(() => useExistingStepTag(tokenizers.get("qwen3")!, "<unk>")).toThrow(/not a single token/);
  });
});
