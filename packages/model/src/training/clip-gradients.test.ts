import { describeEachBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { expect, it } from "vitest";
import { clipByGlobalNorm, globalGradientNorm } from "./clip-gradients.js";

describeEachBackend("clipByGlobalNorm", () => {
  it("measures the global norm and scales only when above the limit", () => {
    const gradients = new Map([
      ["a", tf.tensor1d([3, 0])],
      ["b", tf.tensor1d([4])],
    ]);
    expect(globalGradientNorm(gradients)).toBeCloseTo(5, 6);
    const clipped = clipByGlobalNorm(gradients, 1);
    expect(clipped.norm).toBeCloseTo(5, 6);
    expect(globalGradientNorm(clipped.gradients)).toBeCloseTo(1, 5);
    const kept = clipByGlobalNorm(clipped.gradients, 10);
    expect(kept.gradients).toBe(clipped.gradients);
    tf.dispose([...kept.gradients.values()]);
  });
  it("reports a non-finite norm without scaling", () => {
    const gradients = new Map([["a", tf.tensor1d([Number.NaN, 1])]]);
    expect(clipByGlobalNorm(gradients, 1).norm).toBeNaN();
    tf.dispose([...gradients.values()]);
  });
});
