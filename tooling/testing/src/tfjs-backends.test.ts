import * as tf from "@tensorflow/tfjs-core";
import { expect, it } from "vitest";
import { describeEachBackend } from "./tfjs-backends.js";

describeEachBackend("conformance harness", (backend) => {
  it("runs a matmul and its gradient on the active backend", () => {
    expect(tf.getBackend()).toBe(backend);
    const a = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.matMul(x, a)));
    const g = grad(tf.ones([2, 2]));
    expect(Array.from(g.dataSync())).toEqual([3, 7, 3, 7]);
  });
});
