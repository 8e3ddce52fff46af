import { describeEachBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { expect, it } from "vitest";
import { sumTensors } from "../tfjs-backends/sum-tensors.js";
import { clipByGlobalNorm, globalGradientNorm } from "./clip-gradients.js";

describeEachBackend(
  "clipByGlobalNorm",
  (backend) => {
    it("measures the global norm and scales only when above the limit", async () => {
      const gradients = new Map([
        ["a", tf.tensor1d([3, 0])],
        ["b", tf.tensor1d([4])],
      ]);
      expect(await globalGradientNorm(gradients)).toBeCloseTo(5, 6);
      const clipped = await clipByGlobalNorm(gradients, 1);
      expect(clipped.norm).toBeCloseTo(5, 6);
      expect(await globalGradientNorm(clipped.gradients)).toBeCloseTo(1, 5);
      const kept = await clipByGlobalNorm(clipped.gradients, 10);
      expect(kept.gradients).toBe(clipped.gradients);
      tf.dispose([...kept.gradients.values()]);
    });

    it("reports a non-finite norm without scaling", async () => {
      const gradients = new Map([["a", tf.tensor1d([Number.NaN, 1])]]);
      expect((await clipByGlobalNorm(gradients, 1)).norm).toBeNaN();
      tf.dispose([...gradients.values()]);
    });

    it("measures 29 gradients (more than one WebGPU shader may bind) like one addN", async () => {
      const values = Array.from({ length: 29 }, (_, index) =>
        Float32Array.from(
          { length: 5 + index },
          (_, j) => Math.sin(index * 7.1 + j) * 10 ** ((index % 5) - 2),
        ),
      );
      const gradients = new Map(values.map((data, index) => [`g${index}`, tf.tensor1d(data)]));
      let expected = 0;
      for (const data of values) for (const value of data) expected += value * value;
      expect(await globalGradientNorm(gradients)).toBeCloseTo(Math.sqrt(expected), 4);
      if (backend !== "webgpu") {
        // Bit for bit what a single addN over every sum of squares gives on cpu and wasm.
        const squares = [...gradients.values()].map((g) => tf.sum(tf.square(g)));
        const chunked = sumTensors(squares);
        const whole = tf.addN(squares);
        expect(Array.from(await chunked.data())).toEqual(Array.from(await whole.data()));
        tf.dispose([...squares, chunked, whole]);
      }
      tf.dispose([...gradients.values()]);
    });
  },
  { webgpu: true },
);
