import { mulberry32 } from "@pqm/core/reference";
import { beforeAll, describe, expect, it } from "vitest";
import { loadTokenizer } from "../tokenizer/hf-tokenizer.js";
import type { PrmTokenizer } from "../tokenizer/prm-tokenizer.js";
import { realTokenizerFolder } from "../tokenizer/real-tokenizers.test-helper.js";
import { addStepTagToken } from "../tokenizer/step-tag.js";
import { extendEmbeddingTable, fillRowsWithMean, meanEmbeddingRow } from "./embedding-init.js";

function randomTable(rows: number, hidden: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: rows * hidden }, () => random() * 2 - 1);
}

describe("meanEmbeddingRow", () => {
  it("is the column mean of the first rows", () => {
    const table = [1, 2, 3, 4, 5, 6, 100, 200, 300];
    expect(meanEmbeddingRow(table, 3)).toEqual([(1 + 4 + 100) / 3, (2 + 5 + 200) / 3, (3 + 6 + 300) / 3]);
    expect(meanEmbeddingRow(table, 3, 2)).toEqual([2.5, 3.5, 4.5]);
  });

  it("refuses a ragged table and a bad row count", () => {
    expect(() => meanEmbeddingRow([1, 2, 3], 2)).toThrow(RangeError);
    expect(() => meanEmbeddingRow([1, 2], 2, 2)).toThrow(RangeError);
    expect(() => meanEmbeddingRow([1, 2], 0)).toThrow(RangeError);
  });
});

describe("a step tag the backbone never saw (Llama-2 tokenizer, random table)", () => {
  let tokenizer: PrmTokenizer;
  beforeAll(async () => {
    tokenizer = await loadTokenizer(realTokenizerFolder("llama2"));
  });

  it("gets the mean of the trained rows, and the trained rows stay as they were", () => {
    const hidden = 8;
    const table = randomTable(tokenizer.vocabSize, hidden, 7);
    const tag = addStepTagToken(tokenizer);
    const grown = extendEmbeddingTable(table, hidden, tokenizer.vocabSize);
    expect(grown.length).toBe(tag.vocabSizeAfter * hidden);
    expect(Array.from(grown.subarray(0, table.length))).toEqual(Array.from(table));
    const mean = meanEmbeddingRow(table, hidden);
    const row = Array.from(grown.subarray(tag.id * hidden, (tag.id + 1) * hidden));
    row.forEach((value, column) => {
      expect(value).toBeCloseTo(mean[column]!, 6);
    });
    // Not a zero row (what a naive resize leaves) and within the scale of trained rows.
    expect(row.some((value) => value !== 0)).toBe(true);
    expect(Math.max(...row.map(Math.abs))).toBeLessThan(1);
    expect(() => extendEmbeddingTable(table, hidden, 10)).toThrow(RangeError);
  });
});

describe("fillRowsWithMean", () => {
  it("replaces spare rows with the mean of the others, leaving the input alone", () => {
    const table = [1, 1, 3, 3, 50, -50];
    const filled = fillRowsWithMean(table, 2, [2]);
    expect(Array.from(filled)).toEqual([1, 1, 3, 3, 2, 2]);
    expect(table).toEqual([1, 1, 3, 3, 50, -50]);
    expect(Array.from(fillRowsWithMean(table, 2, [2], { meanOfRows: 1 }))).toEqual([1, 1, 3, 3, 1, 1]);
    expect(() => fillRowsWithMean(table, 2, [3])).toThrow(RangeError);
  });
});
