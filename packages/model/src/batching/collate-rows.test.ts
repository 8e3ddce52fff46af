import { LABEL_PAD } from "@pqm/core";
import { describe, expect, it } from "vitest";
import type { EncodedRow } from "../tokenizer/trajectory-encoder.js";
import { collateRows } from "./collate-rows.js";

const TAG = 999;

/** A row of `length` tokens (ids 10, 11, ...) with tags at the given positions. */
function row(
  sourceIndex: number,
  length: number,
  tags: number[],
  labels: number[] | null,
  soft?: number[],
): EncodedRow {
  const ids = Int32Array.from({ length }, (_, position) => 10 + position);
  for (const position of tags) ids[position] = TAG;
  return {
    sourceIndex,
    inputIds: ids,
    tagPositions: Int32Array.from(tags),
    hardLabels: labels,
    softLabels: soft ?? null,
    truncatedTokens: 0,
  };
}

describe.each(["right", "left"] as const)("collateRows with %s padding", (padSide) => {
  const rows = [
    row(0, 5, [2, 4], [1, 0], [0.75, 0.25]),
    row(1, 9, [3, 6, 8], [1, 1, 0]),
    row(2, 3, [2], [0]),
  ];
  const batch = collateRows(rows, { padTokenId: 7, padSide });

  it("has the padded shapes", () => {
    expect([batch.batchSize, batch.sequenceLength, batch.maxSteps]).toEqual([3, 9, 3]);
    expect(batch.inputIds.length).toBe(27);
    expect(batch.labels!.length).toBe(9);
    expect(batch.sourceIndices).toEqual([0, 1, 2]);
  });

  it("keeps each row's tokens where the mask is 1 and pads the rest", () => {
    rows.forEach((source, b) => {
      const slice = (array: Int32Array) => [...array.subarray(b * 9, (b + 1) * 9)];
      const mask = slice(batch.attentionMask);
      const ids = slice(batch.inputIds);
      expect(ids.filter((_, t) => mask[t] === 1)).toEqual([...source.inputIds]);
      expect(ids.filter((_, t) => mask[t] === 0).every((id) => id === 7)).toBe(true);
      const firstReal = mask.indexOf(1);
      expect(firstReal).toBe(padSide === "left" ? 9 - source.inputIds.length : 0);
      const positions = slice(batch.positionIds);
      expect(positions.filter((_, t) => mask[t] === 1)).toEqual(
        source.inputIds.length === 0 ? [] : [...source.inputIds.keys()],
      );
    });
  });

  it("points every real tag position at a tag token and masks padded steps", () => {
    rows.forEach((source, b) => {
      for (let step = 0; step < 3; step++) {
        const at = b * 3 + step;
        if (step < source.tagPositions.length) {
          expect(batch.stepMask[at]).toBe(1);
          expect(batch.inputIds[b * 9 + batch.tagPositions[at]!]).toBe(TAG);
          expect(batch.labels![at]).toBe(source.hardLabels![step]);
        } else {
          expect(batch.stepMask[at]).toBe(0);
          expect(batch.labels![at]).toBe(LABEL_PAD);
          expect(batch.softLabels![at]).toBe(LABEL_PAD);
        }
      }
    });
  });

  it("carries soft labels, falling back to hard labels for rows without them", () => {
    expect([...batch.softLabels!.subarray(0, 2)]).toEqual([0.75, 0.25]);
    expect([...batch.softLabels!.subarray(3, 6)]).toEqual([1, 1, 0]);
  });
});

describe("collateRows refusals and unlabeled rows", () => {
  it("gives null labels for unlabeled rows and refuses mixed or empty batches", () => {
    const batch = collateRows([row(0, 4, [3], null)], { padTokenId: 0 });
    expect(batch.labels).toBeNull();
    expect(batch.softLabels).toBeNull();
    expect(() => collateRows([row(0, 4, [3], null), row(1, 4, [3], [1])], { padTokenId: 0 })).toThrow(
      /all labeled/,
    );
    expect(() => collateRows([], { padTokenId: 0 })).toThrow(RangeError);
  });
});
