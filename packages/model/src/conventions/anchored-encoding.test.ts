import { describe, expect, it } from "vitest";
import { loadTokenizer } from "../tokenizer/hf-tokenizer.js";
import { ConventionEncodingError, encodeAnchored, encodePiecewise } from "./anchored-encoding.js";
import { readConventionFixture } from "./prm-conventions.test-helper.js";

const shepherd = readConventionFixture("math-shepherd");

describe.skipIf(shepherd === null)("encodeAnchored (Math-Shepherd's SentencePiece-style tokenizer)", () => {
  it("reads the token that ends at each anchor, BOS first when asked", async () => {
    const tokenizer = await loadTokenizer(shepherd!.model);
    const text = "What is 2 + 3? 2 + 3 = 5. ки\nSo 5. ки";
    const anchors = [text.indexOf("ки") + 2, text.length];
    const encoded = encodeAnchored(tokenizer, { text, anchors }, { addBos: true, anchorName: "the tag" });
    const tag = tokenizer.encode("ки").at(-1);
    expect(encoded.inputIds[0]).toBe(tokenizer.bosTokenId);
    expect(encoded.inputIds.slice(1)).toEqual(tokenizer.encode(text));
    expect(encoded.scorePositions.map((position) => encoded.inputIds[position])).toEqual([tag, tag]);
  });

  it("refuses an anchor inside a token, and a token that is not the expected id", async () => {
    const tokenizer = await loadTokenizer(shepherd!.model);
    const text = "The answer is 5. ки";
    // A token of two characters or more, and an anchor between its characters.
    const ids = tokenizer.encode(text);
    const offset = 0;
    let inside = -1;
    for (const id of ids) {
      const piece = tokenizer.decode([id]);
      if (piece.trim().length >= 2 && text.indexOf(piece.trim(), offset) >= 0) {
        inside = text.indexOf(piece.trim(), offset) + 1;
        break;
      }
    }
    expect(inside).toBeGreaterThan(0);
    expect(() =>
      encodeAnchored(tokenizer, { text, anchors: [inside] }, { addBos: false, anchorName: "the tag ки" }),
    ).toThrow(
      new ConventionEncodingError(
        "step 1: the tag ки does not end on a token boundary (the tokenizer merges it with the text after it)",
      ),
    );
    expect(() =>
      encodeAnchored(
        tokenizer,
        { text, anchors: [text.length] },
        { addBos: false, expectedId: 0, anchorName: "the tag ки" },
      ),
    ).toThrow(/step 1: the token read is id \d+, not the tag ки \(id 0\)/);
  });
});

describe("encodePiecewise", () => {
  it("joins prompt, steps and separators, reading each step's last id", () => {
    expect(encodePiecewise([1, 2], [[3, 4], [5]], [9])).toEqual({
      inputIds: [1, 2, 3, 4, 9, 5, 9],
      scorePositions: [4, 6],
    });
    expect(() => encodePiecewise([1], [[3], []], [])).toThrow(/step 2: empty/);
  });
});
