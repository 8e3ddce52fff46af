import * as tf from "@tensorflow/tfjs-core";
import { expect, it } from "vitest";
import { describeEachBackend } from "./tfjs-backends.js";
import { webgpuProbe } from "./webgpu.js";

describeEachBackend(
  "conformance harness",
  (backend) => {
    it("runs a matmul and its gradient on the active backend", async () => {
      expect(tf.getBackend()).toBe(backend);
      const a = tf.tensor2d([
        [1, 2],
        [3, 4],
      ]);
      const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.matMul(x, a)));
      const g = grad(tf.ones([2, 2]));
      expect(Array.from(await g.data())).toEqual([3, 7, 3, 7]);
      tf.dispose([a, g]);
    });
  },
  { webgpu: true },
);

it("says why the webgpu suites are skipped, or which adapter runs them", () => {
  const probe = webgpuProbe();
  if (probe.available) {
    expect(probe.skipReason).toBe("");
    expect(probe.adapter?.vendor).toEqual(expect.any(String));
  } else {
    expect(probe.skipReason).toMatch(/^ \[skipped: [^\]]+\]$/);
    expect(probe.adapter).toBeNull();
  }
});
