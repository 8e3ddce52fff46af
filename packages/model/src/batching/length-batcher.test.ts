import { mulberry32 } from "@pqm/core/reference";
import { describe, expect, it } from "vitest";
import type { EncodedRow } from "../tokenizer/trajectory-encoder.js";
import type { BatcherState } from "./length-batcher.js";
import { LengthBucketedBatcher, REFERENCE_BUCKETS } from "./length-batcher.js";

const TAG = 5;

/** Rows with lengths spread over the reference buckets; tags at the end of each row. */
function rows(count: number, seed: number): EncodedRow[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, (_, index) => {
    const length = 3 + Math.floor(random() * 1400);
    const steps = 1 + Math.floor(random() * Math.min(8, length - 1));
    const ids = new Int32Array(length).fill(1);
    const tagPositions = Int32Array.from({ length: steps }, (_, step) => length - steps + step);
    for (const position of tagPositions) ids[position] = TAG;
    return {
      sourceIndex: index,
      inputIds: ids,
      tagPositions,
      hardLabels: Array.from({ length: steps }, () => (random() < 0.5 ? 0 : 1)),
      softLabels: null,
      truncatedTokens: 0,
    };
  });
}

const data = rows(400, 3);

function bucketOf(length: number): number {
  return REFERENCE_BUCKETS.findIndex((bucket) => length <= bucket.maxLength);
}

describe("LengthBucketedBatcher", () => {
  it("uses every row exactly once per epoch, within its bucket's batch size", () => {
    const batcher = new LengthBucketedBatcher(data, { padTokenId: 0, seed: 1 });
    for (const epoch of [0, 1]) {
      const plan = batcher.planEpoch(epoch);
      expect(plan.flat().sort((a, b) => a - b)).toEqual(data.map((_, index) => index));
      for (const batch of plan) {
        const buckets = new Set(batch.map((index) => bucketOf(data[index]!.inputIds.length)));
        expect(buckets.size).toBe(1);
        expect(batch.length).toBeLessThanOrEqual(REFERENCE_BUCKETS[[...buckets][0]!]!.batchSize);
      }
    }
    const lengths = new Set(data.map((row) => bucketOf(row.inputIds.length)));
    expect(lengths.size).toBe(3);
  });

  it("keeps rows x padded length under maxTokensPerBatch", () => {
    const batcher = new LengthBucketedBatcher(data, { padTokenId: 0, maxTokensPerBatch: 4096 });
    const plan = batcher.planEpoch(0);
    expect(plan.flat()).toHaveLength(data.length);
    for (const batch of plan) {
      const longest = Math.max(...batch.map((index) => data[index]!.inputIds.length));
      expect(batch.length === 1 || batch.length * longest <= 4096).toBe(true);
    }
  });

  it("shuffles reproducibly: same seed and epoch, same plan; other epoch or seed, another", () => {
    const a = new LengthBucketedBatcher(data, { padTokenId: 0, seed: 4 });
    const b = new LengthBucketedBatcher(data, { padTokenId: 0, seed: 4 });
    const c = new LengthBucketedBatcher(data, { padTokenId: 0, seed: 5 });
    expect(a.planEpoch(2)).toEqual(b.planEpoch(2));
    expect(a.planEpoch(2)).not.toEqual(a.planEpoch(3));
    expect(a.planEpoch(2)).not.toEqual(c.planEpoch(2));
    const ordered = new LengthBucketedBatcher(data, { padTokenId: 0, shuffle: false });
    expect(ordered.planEpoch(0)).toEqual(ordered.planEpoch(1));
    expect(ordered.planEpoch(0)[0]).toEqual(
      data.flatMap((row, index) => (bucketOf(row.inputIds.length) === 0 ? [index] : [])).slice(0, 64),
    );
  });

  it.each(["right", "left"] as const)(
    "serves batches whose tag positions hit tags (%s padding)",
    (padSide) => {
      const batcher = new LengthBucketedBatcher(data.slice(0, 60), { padTokenId: 0, padSide, seed: 2 });
      for (const { batch } of batcher.batches()) {
        for (let b = 0; b < batch.batchSize; b++) {
          for (let step = 0; step < batch.maxSteps; step++) {
            const at = b * batch.maxSteps + step;
            if (batch.stepMask[at] === 1)
              expect(batch.inputIds[b * batch.sequenceLength + batch.tagPositions[at]!]).toBe(TAG);
          }
        }
      }
    },
  );

  it("resumes mid-epoch from a saved state with the same batches", () => {
    const batcher = new LengthBucketedBatcher(data, { padTokenId: 0, seed: 9 });
    const straight = [...batcher.batches(batcher.initialState(), 2)].map((step) => step.batch.sourceIndices);
    const firstEpoch = batcher.planEpoch(0).length;

    const resumed: number[][] = [];
    let saved: BatcherState | undefined;
    for (const step of batcher.batches(batcher.initialState(), 2)) {
      resumed.push(step.batch.sourceIndices);
      if (resumed.length === firstEpoch - 2) {
        saved = JSON.parse(JSON.stringify(step.next)) as BatcherState;
        break;
      }
    }
    // A new process: a new batcher over the same rows, resuming from the JSON state.
    const again = new LengthBucketedBatcher(data, { padTokenId: 0, seed: 9 });
    for (const step of again.batches(saved, 2)) resumed.push(step.batch.sourceIndices);
    expect(resumed).toEqual(straight);
    expect(straight.flat()).toHaveLength(2 * data.length);
  });

  it("moves to the next epoch after the last batch and refuses a state from other data", () => {
    const batcher = new LengthBucketedBatcher(data.slice(0, 10), { padTokenId: 0 });
    const steps = [...batcher.batches()];
    expect(steps.at(-1)!.next).toMatchObject({ epoch: 1, position: 0 });
    const other = new LengthBucketedBatcher(data.slice(0, 11), { padTokenId: 0 });
    expect(() => [...other.batches(steps[0]!.next)]).toThrow(/other rows or options/);
    const otherSeed = new LengthBucketedBatcher(data.slice(0, 10), { padTokenId: 0, seed: 1 });
    expect(() => [...otherSeed.batches(steps[0]!.next)]).toThrow(/other rows or options/);
  });

  it("refuses a row longer than every bucket and unsorted buckets", () => {
    expect(
      () => new LengthBucketedBatcher(data, { padTokenId: 0, buckets: [{ maxLength: 512, batchSize: 4 }] }),
    ).toThrow(/more than the last bucket/);
    expect(
      () =>
        new LengthBucketedBatcher(data, {
          padTokenId: 0,
          buckets: [
            { maxLength: 1024, batchSize: 4 },
            { maxLength: 512, batchSize: 4 },
          ],
        }),
    ).toThrow(RangeError);
  });
});
