import { describeEachBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { expect, it } from "vitest";
import { AdamW } from "./adamw.js";
import { clipFactor, clipToGlobalNorm, globalGradientNorm } from "./clip-gradients.js";

/** torch.optim.AdamW's update, written out in float64 for a single number. */
function referenceAdamW(
  start: number,
  gradients: number[],
  lr: number,
  { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, wd = 0 } = {},
): number {
  let p = start;
  let m = 0;
  let v = 0;
  gradients.forEach((g, index) => {
    const t = index + 1;
    p *= 1 - lr * wd;
    m = beta1 * m + (1 - beta1) * g;
    v = beta2 * v + (1 - beta2) * g * g;
    p -= (lr * (m / (1 - beta1 ** t))) / (Math.sqrt(v / (1 - beta2 ** t)) + eps);
  });
  return p;
}

describeEachBackend(
  "AdamW",
  () => {
    it("matches PyTorch's AdamW update, weight decay decoupled and skipped for biases", async () => {
      const weight = tf.variable(tf.tensor1d([1.5, -2]), true, "adamw-test-w");
      const bias = tf.variable(tf.tensor1d([0.5]), true, "adamw-test-b");
      const parameters = new Map([
        ["layer.weight", weight],
        ["layer.bias", bias],
      ]);
      const optimizer = new AdamW({ weightDecay: 0.1 });
      const sequence = [
        [0.3, -1.2, 0.7],
        [-0.1, 0.4, 0.2],
        [2.0, 0.05, -0.3],
      ];
      for (const [g0, g1, g2] of sequence as [number, number, number][]) {
        const gradients = new Map([
          ["layer.weight", tf.tensor1d([g0, g1])],
          ["layer.bias", tf.tensor1d([g2])],
        ]);
        optimizer.applyGradients(parameters, gradients, 0.01);
        tf.dispose([...gradients.values()]);
      }
      const [w0, w1] = await weight.data();
      expect(w0).toBeCloseTo(
        referenceAdamW(
          1.5,
          sequence.map((g) => g[0]!),
          0.01,
          { wd: 0.1 },
        ),
        6,
      );
      expect(w1).toBeCloseTo(
        referenceAdamW(
          -2,
          sequence.map((g) => g[1]!),
          0.01,
          { wd: 0.1 },
        ),
        6,
      );
      expect((await bias.data())[0]).toBeCloseTo(
        referenceAdamW(
          0.5,
          sequence.map((g) => g[2]!),
          0.01,
        ),
        6,
      );
      expect(optimizer.step).toBe(3);

      const state = await optimizer.getState();
      expect([...state.moments.keys()].sort()).toEqual([
        "layer.bias.exp_avg",
        "layer.bias.exp_avg_sq",
        "layer.weight.exp_avg",
        "layer.weight.exp_avg_sq",
      ]);
      const restored = new AdamW({ weightDecay: 0.1 });
      restored.setState(state, parameters);
      expect(Array.from((await restored.getState()).moments.get("layer.weight.exp_avg")!.data)).toEqual(
        Array.from(state.moments.get("layer.weight.exp_avg")!.data),
      );
      expect(() => restored.setState(state, new Map([["layer.weight", weight]]))).toThrow(
        /'layer.bias' is not a parameter/,
      );
      optimizer.dispose();
      restored.dispose();
      weight.dispose();
      bias.dispose();
    });

    it("rejects bad hyper-parameters and mismatched gradients", () => {
      expect(() => new AdamW({ beta1: 1 })).toThrow(/beta1/);
      const weight = tf.variable(tf.zeros([2]), true, "adamw-test-shape");
      const optimizer = new AdamW();
      const gradient = tf.zeros([3]);
      expect(() =>
        optimizer.applyGradients(new Map([["w", weight]]), new Map([["w", gradient]]), 0.1),
      ).toThrow(/shape/);
      expect(() =>
        optimizer.applyGradients(new Map([["w", weight]]), new Map([["w", tf.zeros([2])]]), 0.1, {
          gradientScale: 0,
        }),
      ).toThrow("AdamW: gradientScale must be a positive finite number, got 0");
      tf.dispose([weight, gradient]);
      optimizer.dispose();
    });

    it("a gradient scale updates as clipping the gradients first does", async () => {
      const run = async (scaleInOptimizer: boolean) => {
        const weight = tf.variable(tf.tensor2d([0.5, -1.25, 2, 0.125, -3, 1], [2, 3]), true);
        const optimizer = new AdamW({ weightDecay: 0.1 });
        for (let step = 0; step < 3; step++) {
          const gradients = new Map([
            [
              "w",
              tf.tensor2d(
                [1, -2, 3, -4, 5, -6].map((v) => v * (step + 1)),
                [2, 3],
              ),
            ],
          ]);
          const norm = await globalGradientNorm(gradients);
          if (scaleInOptimizer) {
            optimizer.applyGradients(new Map([["w", weight]]), gradients, 0.01, {
              gradientScale: clipFactor(2, norm),
            });
            tf.dispose([...gradients.values()]);
          } else {
            const clipped = clipToGlobalNorm(gradients, 2, norm);
            optimizer.applyGradients(new Map([["w", weight]]), clipped.gradients, 0.01);
            tf.dispose([...clipped.gradients.values()]);
          }
        }
        const values = Array.from(await weight.data());
        weight.dispose();
        optimizer.dispose();
        return values;
      };
      const clippedFirst = await run(false);
      const scaled = await run(true);
      for (let index = 0; index < clippedFirst.length; index++)
        expect(scaled[index]).toBeCloseTo(clippedFirst[index] as number, 6);
      expect(clipFactor(2, 1)).toBe(1);
      expect(clipFactor(2, Number.NaN)).toBe(1);
      expect(clipFactor(2, 8)).toBeCloseTo(0.25, 6);
    });
  },
  { webgpu: true },
);
