import { readFileSync } from "node:fs";
import { PQM_RANKING_LOSS_KERNEL, registerGradients } from "@pqm/core";
import { useBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatedSource } from "../../scripts/gen-simd-kernels.js";
import { rmsNorm } from "../backbone/layers/rms-norm.js";
import {
  applyRotaryEmbedding,
  ropeCosSin,
  ropeInverseFrequencies,
} from "../backbone/layers/rotary-embedding.js";
import {
  adamWSteps,
  decoderLossAndGradients,
  rankingLossCase,
  softmaxWithKernelGradient,
  spreadValues,
} from "./decoder-gradients.test-helper.js";
import {
  HostKernel,
  hasHostKernel,
  installWasmHostKernels,
  uninstallWasmHostKernels,
} from "./wasm-host-kernels.js";

const values = spreadValues;

/** Runs `compute` with the stock kernels and with the host kernels; returns both results. */
function bothWays(compute: () => tf.Tensor): { stock: tf.Tensor; host: tf.Tensor } {
  uninstallWasmHostKernels();
  const stock = compute();
  expect(installWasmHostKernels()).toBe(true);
  const host = compute();
  return { stock, host };
}

describe("host loops for Sum, GatherV2 and Cast [wasm]", () => {
  beforeAll(async () => {
    registerGradients();
    await useBackend("wasm");
  });
  afterAll(() => {
    uninstallWasmHostKernels();
  });

  it("sums over leading axes as the stock kernel does, with and without keepDims", () => {
    const x = tf.tensor3d(values(7 * 33 * 65, 1), [7, 33, 65]);
    for (const [axis, keepDims] of [
      [0, false],
      [[0, 1], false],
      [[1, 0], true],
      [0, true],
    ] as const) {
      const { stock, host } = bothWays(() => tf.sum(x, axis as number | number[], keepDims));
      expect(host.shape).toEqual(stock.shape);
      const expected = stock.dataSync();
      const actual = host.dataSync();
      for (let index = 0; index < expected.length; index++) {
        expect(Math.abs(actual[index]! - expected[index]!)).toBeLessThanOrEqual(
          1e-5 * (1 + Math.abs(expected[index]!)),
        );
      }
      tf.dispose([stock, host]);
    }
    // Not leading axes, ints, a full reduction: the stock kernel, bit for bit.
    for (const compute of [
      () => tf.sum(x, -1),
      () => tf.sum(x, [0, 2]),
      () => tf.sum(x),
      () => tf.sum(tf.tensor2d([1, 2, 3, 4], [2, 2], "int32"), 0),
    ]) {
      const { stock, host } = bothWays(compute);
      expect(Array.from(host.dataSync())).toEqual(Array.from(stock.dataSync()));
      tf.dispose([stock, host]);
    }
    x.dispose();
  });

  it("gathers rows, repeated and in any order, bit for bit; other gathers go to the stock kernel", () => {
    const table = tf.tensor3d(values(50 * 4 * 6, 2), [50, 4, 6]);
    const ids = tf.tensor2d([49, 0, 3, 3, 17, 0], [2, 3], "int32");
    for (const compute of [
      () => tf.gather(table, ids),
      () => tf.gather(table, tf.tensor1d([5], "int32")),
      () => tf.gather(table, tf.tensor1d([1, 2], "int32"), 1),
    ]) {
      const { stock, host } = bothWays(compute);
      expect(host.shape).toEqual(stock.shape);
      expect(Array.from(host.dataSync())).toEqual(Array.from(stock.dataSync()));
      tf.dispose([stock, host]);
    }
    tf.dispose([table, ids]);
  });

  it("casts to the same dtype by sharing the data, and converts as before otherwise", () => {
    installWasmHostKernels();
    const x = tf.tensor1d([1.5, -2.25, 3]);
    const same = tf.cast(x, "float32");
    expect(same.dataId).toBe(x.dataId);
    x.dispose();
    expect(Array.from(same.dataSync())).toEqual([1.5, -2.25, 3]);
    const ints = tf.cast(same, "int32");
    expect(ints.dataId).not.toBe(same.dataId);
    expect(Array.from(ints.dataSync())).toEqual([1, -2, 3]);
    tf.dispose([same, ints]);
  });

  it("leaves a decoder's loss and gradients as the stock kernels give them", () => {
    uninstallWasmHostKernels();
    const expected = decoderLossAndGradients();
    installWasmHostKernels();
    const before = tf.memory().numTensors;
    const actual = decoderLossAndGradients();
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.abs(actual.loss - expected.loss)).toBeLessThanOrEqual(1e-6 * Math.abs(expected.loss));
    expect(actual.grads.length).toBe(expected.grads.length);
    for (let index = 0; index < expected.grads.length; index++) {
      const a = actual.grads[index]!;
      const e = expected.grads[index]!;
      let scale = 0;
      let worst = 0;
      for (let i = 0; i < e.length; i++) {
        scale = Math.max(scale, Math.abs(e[i]!));
        worst = Math.max(worst, Math.abs(a[i]! - e[i]!));
      }
      expect(worst).toBeLessThanOrEqual(1e-5 * scale + 1e-12);
    }
  });

  it("AdamW in one SIMD kernel gives the composed update's bits, with and without weight decay", async () => {
    const run = adamWSteps;
    uninstallWasmHostKernels();
    expect(hasHostKernel(HostKernel.adamW)).toBe(false);
    const expected = await run();
    installWasmHostKernels();
    expect(hasHostKernel(HostKernel.adamW)).toBe(true);
    const before = tf.memory().numTensors;
    const actual = await run();
    expect(tf.memory().numTensors).toBe(before + 2); // the two variables' source tensors, as in the first run
    expect(actual).toEqual(expected);
  });

  it("the softmax gradient in one SIMD kernel agrees with the composed one (rows of 4k and 4k+3)", () => {
    for (const width of [64, 67]) {
      const logits = tf.tensor3d(values(3 * 5 * width, 7), [3, 5, width]);
      const upstream = tf.tensor3d(values(3 * 5 * width, 8), [3, 5, width]);
      const run = () => {
        const gradient = tf.grad((input: tf.Tensor) =>
          tf.sum(tf.mul(softmaxWithKernelGradient(input), upstream)),
        )(logits);
        const out = Array.from(gradient.dataSync());
        gradient.dispose();
        return out;
      };
      uninstallWasmHostKernels();
      const expected = run();
      installWasmHostKernels();
      const actual = run();
      const scale = Math.max(...expected.map(Math.abs));
      for (let index = 0; index < expected.length; index++)
        expect(Math.abs(actual[index]! - expected[index]!)).toBeLessThanOrEqual(1e-6 * scale);
      tf.dispose([logits, upstream]);
    }
  });

  it("SwiGLU's gradient in one SIMD kernel gives the bits of TF.js's gradient of the composed form", () => {
    installWasmHostKernels();
    const gate = tf.tensor2d(values(12 * 20, 9), [12, 20]);
    const up = tf.tensor2d(values(12 * 20, 10), [12, 20]);
    const dy = tf.tensor2d(values(12 * 20, 11), [12, 20]);
    const [expectedGate, expectedUp] = tf.grads((g: tf.Tensor, u: tf.Tensor) =>
      tf.sum(tf.mul(tf.mul(tf.mul(g, tf.sigmoid(g)), u), dy)),
    )([gate, up]) as [tf.Tensor, tf.Tensor];
    const sigmoid = tf.sigmoid(gate);
    const [dGate, dUp] = tf
      .engine()
      .runKernel(HostKernel.swigluGrad, { gate, up, sigmoid, dy }) as tf.Tensor[];
    expect(Array.from(dGate!.dataSync())).toEqual(Array.from(expectedGate.dataSync()));
    expect(Array.from(dUp!.dataSync())).toEqual(Array.from(expectedUp.dataSync()));
    tf.dispose([gate, up, dy, expectedGate, expectedUp, sigmoid, dGate!, dUp!]);
  });

  it("RMSNorm and its gradient in one SIMD kernel each agree with the composed form", () => {
    const x = tf.tensor3d(values(3 * 7 * 24, 12), [3, 7, 24]);
    const weight = tf.tensor1d(values(24, 13));
    const upstream = tf.tensor3d(values(3 * 7 * 24, 14), [3, 7, 24]);
    const run = () => {
      const value = rmsNorm(x, weight, 1e-6);
      const [dx, dw] = tf.grads((input: tf.Tensor, scale: tf.Tensor) =>
        tf.sum(tf.mul(rmsNorm(input, scale, 1e-6), upstream)),
      )([x, weight]) as [tf.Tensor, tf.Tensor];
      const out = [value, dx, dw].map((tensor) => Array.from(tensor.dataSync()));
      tf.dispose([value, dx, dw]);
      return out;
    };
    uninstallWasmHostKernels();
    const expected = run();
    installWasmHostKernels();
    expect(hasHostKernel(HostKernel.rmsNorm)).toBe(true);
    const before = tf.memory().numTensors;
    const actual = run();
    expect(tf.memory().numTensors).toBe(before);
    for (const [index, reference] of expected.entries()) {
      const scale = Math.max(...reference.map(Math.abs));
      const got = actual[index] as number[];
      for (let i = 0; i < reference.length; i++)
        expect(Math.abs(got[i]! - reference[i]!)).toBeLessThanOrEqual(2e-6 * scale);
    }
    tf.dispose([x, weight, upstream]);
  });

  it("ships the SIMD module its .wat assembles to", async () => {
    const committed = readFileSync(new URL("./simd/kernels.generated.ts", import.meta.url), "utf8");
    expect(await generatedSource()).toBe(committed);
  });

  it("the rotary embedding and its gradient in one kernel each give the composed bits", () => {
    const x = tf.tensor4d(values(2 * 3 * 5 * 8, 5), [2, 3, 5, 8]);
    const upstream = tf.tensor4d(values(2 * 3 * 5 * 8, 6), [2, 3, 5, 8]);
    const positions = tf.tensor2d([0, 1, 2, 3, 4, 7, 8, 9, 10, 11], [2, 5], "int32");
    const { cos, sin } = ropeCosSin(positions, ropeInverseFrequencies(8, 10_000));
    const run = () => {
      const value = applyRotaryEmbedding(x, cos, sin);
      const gradient = tf.grad((input: tf.Tensor) =>
        tf.sum(tf.mul(applyRotaryEmbedding(input, cos, sin), upstream)),
      )(x);
      const out = [Array.from(value.dataSync()), Array.from(gradient.dataSync())];
      tf.dispose([value, gradient]);
      return out;
    };
    uninstallWasmHostKernels();
    const expected = run();
    installWasmHostKernels();
    expect(run()).toEqual(expected);
    tf.dispose([x, upstream, positions, cos, sin]);
  });

  it("the PQM loss and its gradient in one host loop agree with the composed loss, padding included", () => {
    const lossCase = rankingLossCase(40);
    const { labelValues } = lossCase;
    for (const zeta of [4, 0]) {
      const run = () =>
        tf.tidy(() => {
          const [value, gradient] = lossCase.lossAndGradient(zeta);
          return [value.dataSync()[0] as number, ...gradient.dataSync()];
        });
      uninstallWasmHostKernels();
      expect(hasHostKernel(PQM_RANKING_LOSS_KERNEL as never)).toBe(false);
      const composed = run();
      installWasmHostKernels();
      expect(hasHostKernel(PQM_RANKING_LOSS_KERNEL as never)).toBe(true);
      const fused = run();
      // The loss, then the gradient, each against its own scale.
      expect(Math.abs(fused[0]! - composed[0]!)).toBeLessThanOrEqual(2e-6 * Math.abs(composed[0]!));
      const scale = Math.max(...composed.slice(1).map(Math.abs));
      for (let index = 1; index < composed.length; index++)
        expect(Math.abs(fused[index]! - composed[index]!)).toBeLessThanOrEqual(2e-6 * scale);
      // Padding gets no gradient.
      labelValues.forEach((label, index) => {
        if (label === -100) expect(fused[index + 1]).toBe(0);
      });
    }
    lossCase.dispose();
  });

  it("uninstalls", () => {
    installWasmHostKernels();
    expect(uninstallWasmHostKernels()).toBe(true);
    expect(uninstallWasmHostKernels()).toBe(false);
    expect(hasHostKernel(HostKernel.rotary)).toBe(false);
    const x = tf.tensor1d([7, 8]);
    const same = tf.cast(x, "float32");
    expect(same.dataId).not.toBe(x.dataId); // the stock kernel copies
    tf.dispose([x, same]);
  });
});
