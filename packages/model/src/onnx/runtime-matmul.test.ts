import { registerGradients } from "@pqm/core";
import { useBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { decoderLossAndGradients } from "../tfjs-backends/decoder-gradients.test-helper.js";
import { installFastWasmMatMul } from "../tfjs-backends/fast-wasm-matmul.js";
import { installOnnxMatMul, onnxMatMulStatistics, uninstallOnnxMatMul } from "./runtime-matmul.js";

interface Case {
  title: string;
  aShape: number[];
  bShape: number[];
  transposeA: boolean;
  transposeB: boolean;
}

const cases: Case[] = [
  { title: "2-D plain", aShape: [70, 50], bShape: [50, 30], transposeA: false, transposeB: false },
  { title: "2-D transposeA", aShape: [50, 70], bShape: [50, 30], transposeA: true, transposeB: false },
  { title: "2-D transposeB", aShape: [70, 50], bShape: [30, 50], transposeA: false, transposeB: true },
  { title: "2-D both", aShape: [50, 70], bShape: [30, 50], transposeA: true, transposeB: true },
  { title: "rank 3 x rank 2", aShape: [4, 60, 50], bShape: [50, 30], transposeA: false, transposeB: false },
  { title: "rank 2 x rank 3", aShape: [60, 50], bShape: [4, 50, 30], transposeA: false, transposeB: false },
  { title: "batched", aShape: [2, 3, 40, 50], bShape: [2, 3, 50, 20], transposeA: false, transposeB: false },
  { title: "batched, both", aShape: [6, 50, 40], bShape: [6, 20, 50], transposeA: true, transposeB: true },
];

/** Deterministic values in [-1, 1) from a seed (tf.randomUniform's seed 0 means "unseeded"). */
function input(shape: number[], seed: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, (_, i) => Math.sin(seed * 7.1 + i * 0.37)),
    shape,
  );
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let index = 0; index < a.length; index++) worst = Math.max(worst, Math.abs(a[index]! - b[index]!));
  return worst;
}

describe("BatchMatMul on ONNX Runtime [wasm]", () => {
  beforeAll(async () => {
    registerGradients();
    await useBackend("wasm");
    installFastWasmMatMul();
  });
  afterEach(() => {
    uninstallOnnxMatMul();
  });
  afterAll(() => {
    uninstallOnnxMatMul();
  });

  it("installs after its self-check, counts its calls and uninstalls", async () => {
    expect(onnxMatMulStatistics()).toBeNull();
    expect(await installOnnxMatMul()).toBe(true);
    expect(onnxMatMulStatistics()).toEqual({ onnxCalls: 0, onnxMs: 0, wasmCalls: 0, threads: 1 });
    tf.tidy(() => tf.matMul(input([64, 64], 1), input([64, 64], 2)).dataSync());
    tf.tidy(() => tf.matMul(input([4, 4], 1), input([4, 4], 2)).dataSync()); // too small: stays on wasm
    expect(onnxMatMulStatistics()).toMatchObject({ onnxCalls: 1, wasmCalls: 1 });
    expect(uninstallOnnxMatMul()).toBe(true);
    expect(onnxMatMulStatistics()).toBeNull();
    expect(uninstallOnnxMatMul()).toBe(false);
  });

  for (const threads of [1, 2]) {
    for (const testCase of cases) {
      it(`${testCase.title}, ${threads} thread(s): products and gradients equal the wasm kernel's`, async () => {
        const run = () =>
          tf.tidy(() => {
            const a = input(testCase.aShape, 1);
            const b = input(testCase.bShape, 2);
            const product = tf.matMul(a, b, testCase.transposeA, testCase.transposeB);
            const upstream = input(product.shape, 3);
            // Gradients run transposed products of their own.
            const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
              tf.sum(tf.mul(tf.matMul(x, y, testCase.transposeA, testCase.transposeB), upstream)),
            )([a, b]);
            return [product.dataSync(), grads[0]!.dataSync(), grads[1]!.dataSync()] as const;
          });
        const broadcastGradient = testCase.aShape.length !== testCase.bShape.length;
        // tfjs-core's own gradient rejects rank-mismatched products on every backend: compare forward only.
        const expected = broadcastGradient
          ? [tf.tidy(() => tf.matMul(input(testCase.aShape, 1), input(testCase.bShape, 2)).dataSync())]
          : run();
        expect(await installOnnxMatMul({ threads })).toBe(true);
        const actual = broadcastGradient
          ? [tf.tidy(() => tf.matMul(input(testCase.aShape, 1), input(testCase.bShape, 2)).dataSync())]
          : run();
        for (let index = 0; index < expected.length; index++) {
          expect(maxDifference(actual[index]!, expected[index]!)).toBeLessThan(1e-4);
        }
        expect(onnxMatMulStatistics()!.onnxCalls).toBeGreaterThanOrEqual(expected.length);
      });
    }
  }

  it("does not leak tensors", async () => {
    expect(await installOnnxMatMul()).toBe(true);
    const a = input([64, 80], 1);
    const b = input([80, 48], 2);
    const before = tf.memory().numTensors;
    for (let index = 0; index < 5; index++) tf.matMul(a, b).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });

  it("a decoder's PQM loss and every gradient match the wasm kernel's", async () => {
    const expected = decoderLossAndGradients();
    expect(await installOnnxMatMul()).toBe(true);
    const actual = decoderLossAndGradients();
    expect(onnxMatMulStatistics()!.onnxCalls).toBeGreaterThan(10);
    expect(Math.abs(actual.loss - expected.loss)).toBeLessThan(1e-5 * Math.abs(expected.loss) + 1e-6);
    expect(actual.grads).toHaveLength(expected.grads.length);
    for (let index = 0; index < expected.grads.length; index++) {
      const scale = Math.max(...expected.grads[index]!.map(Math.abs), 1e-6);
      expect(maxDifference(actual.grads[index]!, expected.grads[index]!) / scale).toBeLessThan(1e-3);
    }
  });
});
