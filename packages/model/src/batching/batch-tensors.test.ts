import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { batchToTensors } from "./batch-tensors.js";
import { collateRows } from "./collate-rows.js";

describe("batchToTensors", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  it("gives int32 token tensors and float32 step tensors of the batch's shapes", () => {
    const batch = collateRows(
      [
        {
          sourceIndex: 0,
          inputIds: Int32Array.from([4, 5, 6]),
          tagPositions: Int32Array.from([2]),
          hardLabels: [1],
          softLabels: [0.5],
          truncatedTokens: 0,
        },
        {
          sourceIndex: 1,
          inputIds: Int32Array.from([4, 6]),
          tagPositions: Int32Array.from([0, 1]),
          hardLabels: [1, 0],
          softLabels: null,
          truncatedTokens: 0,
        },
      ],
      { padTokenId: 0, padSide: "left" },
    );
    const tensors = batchToTensors(batch);
    expect(tensors.inputIds.shape).toEqual([2, 3]);
    expect(tensors.inputIds.dtype).toBe("int32");
    expect(tensors.tagPositions.arraySync()).toEqual([
      [2, 0],
      [1, 2],
    ]);
    expect(tensors.labels!.dtype).toBe("float32");
    expect(tensors.labels!.arraySync()).toEqual([
      [1, -100],
      [1, 0],
    ]);
    expect(tensors.softLabels!.arraySync()).toEqual([
      [0.5, -100],
      [1, 0],
    ]);
    // Gathering the tokens at the tag positions reads the tag tokens of each row.
    const gathered = tf.gather(tensors.inputIds, tensors.tagPositions, 1, 1);
    expect(gathered.arraySync()).toEqual([
      [6, 4],
      [4, 6],
    ]);
    for (const tensor of Object.values(tensors)) tensor?.dispose();
    gathered.dispose();
  });
});
