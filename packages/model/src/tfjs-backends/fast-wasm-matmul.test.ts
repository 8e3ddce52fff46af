import { mulberry32 } from "@pqm/core/reference";
import { useBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  fastWasmMatMulInstalled,
  installFastWasmMatMul,
  uninstallFastWasmMatMul,
} from "./fast-wasm-matmul.js";

interface Case {
  title: string;
  aShape: number[];
  bShape: number[];
  transposeA: boolean;
  transposeB: boolean;
  /** false where tfjs-core's own gradient rejects the broadcast (the rank-3 x rank-2 bug). */
  gradients?: boolean;
}

const cases: Case[] = [
  { title: "2-D plain", aShape: [7, 5], bShape: [5, 3], transposeA: false, transposeB: false },
  { title: "2-D transposeA", aShape: [5, 7], bShape: [5, 3], transposeA: true, transposeB: false },
  { title: "2-D transposeB", aShape: [7, 5], bShape: [3, 5], transposeA: false, transposeB: true },
  { title: "2-D both transposed", aShape: [5, 7], bShape: [3, 5], transposeA: true, transposeB: true },
  {
    title: "rank 3 x rank 2 (folded)",
    aShape: [4, 6, 5],
    bShape: [5, 3],
    transposeA: false,
    transposeB: false,
    gradients: false,
  },
  {
    title: "batched, equal batches",
    aShape: [2, 3, 6, 5],
    bShape: [2, 3, 5, 4],
    transposeA: false,
    transposeB: false,
  },
  {
    title: "batched, transposeB (attention scores)",
    aShape: [6, 8, 4],
    bShape: [6, 8, 4],
    transposeA: false,
    transposeB: true,
  },
  { title: "batched, transposeA", aShape: [3, 5, 6], bShape: [3, 5, 4], transposeA: true, transposeB: false },
  {
    title: "a has batch 1",
    aShape: [1, 6, 5],
    bShape: [3, 5, 4],
    transposeA: false,
    transposeB: false,
    gradients: false,
  },
  {
    title: "a has batch 1 and b transposed",
    aShape: [6, 5],
    bShape: [3, 4, 5],
    transposeA: false,
    transposeB: true,
    gradients: false,
  },
];

/** Values of a deterministic pseudo-random tensor, so every backend sees the same inputs. */
function values(shape: number[], seed: number): Float32Array {
  const count = shape.reduce((product, dimension) => product * dimension, 1);
  const out = new Float32Array(count);
  const random = mulberry32(seed);
  for (let index = 0; index < count; index++) out[index] = random() - 0.5;
  return out;
}

/** Forward output and both input gradients (with an arbitrary upstream gradient) as flat arrays. */
function run(testCase: Case): { forward: Float32Array; gradA: Float32Array; gradB: Float32Array } {
  return tf.tidy(() => {
    const a = tf.tensor(values(testCase.aShape, 1), testCase.aShape);
    const b = tf.tensor(values(testCase.bShape, 2), testCase.bShape);
    const f = (x: tf.Tensor, y: tf.Tensor): tf.Tensor =>
      tf.matMul(x, y, testCase.transposeA, testCase.transposeB);
    const forward = f(a, b);
    if (testCase.gradients === false) {
      return {
        forward: forward.dataSync() as Float32Array,
        gradA: new Float32Array(),
        gradB: new Float32Array(),
      };
    }
    const upstream = tf.tensor(values(forward.shape, 3), forward.shape);
    const [gradA, gradB] = tf.grads(f)([a, b], upstream) as [tf.Tensor, tf.Tensor];
    return {
      forward: forward.dataSync() as Float32Array,
      gradA: gradA.dataSync() as Float32Array,
      gradB: gradB.dataSync() as Float32Array,
    };
  });
}

function maxAbsDiff(left: Float32Array, right: Float32Array): number {
  expect(left.length).toBe(right.length);
  let max = 0;
  for (let index = 0; index < left.length; index++)
    max = Math.max(max, Math.abs((left[index] as number) - (right[index] as number)));
  return max;
}

describe("fast wasm BatchMatMul", () => {
  const reference = new Map<string, ReturnType<typeof run>>();
  const stock = new Map<string, ReturnType<typeof run>>();

  beforeAll(async () => {
    await useBackend("cpu");
    for (const testCase of cases) reference.set(testCase.title, run(testCase));
    await useBackend("wasm");
    uninstallFastWasmMatMul();
    for (const testCase of cases) stock.set(testCase.title, run(testCase));
    expect(installFastWasmMatMul()).toBe(true);
  });

  afterAll(() => {
    expect(fastWasmMatMulInstalled()).toBe(true);
  });

  for (const testCase of cases) {
    it(`${testCase.title}: forward and gradients equal cpu and the stock kernel`, () => {
      const fast = run(testCase);
      const cpu = reference.get(testCase.title) as ReturnType<typeof run>;
      const old = stock.get(testCase.title) as ReturnType<typeof run>;
      for (const key of ["forward", "gradA", "gradB"] as const) {
        expect(maxAbsDiff(fast[key], cpu[key])).toBeLessThan(1e-5);
        expect(maxAbsDiff(fast[key], old[key])).toBeLessThan(1e-5);
      }
    });
  }

  it("does not leak wasm tensors", () => {
    const before = tf.memory().numTensors;
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const idsBefore = backend.numDataIds();
    for (const testCase of cases) run(testCase);
    expect(tf.memory().numTensors).toBe(before);
    expect(backend.numDataIds()).toBe(idsBefore);
  });

  it("is faster than the stock kernel on a transposed 256 x 256 product", () => {
    const a = tf.tensor(values([256, 256], 4), [256, 256]);
    const b = tf.tensor(values([256, 256], 5), [256, 256]);
    const time = (): number => {
      const start = performance.now();
      for (let repeat = 0; repeat < 3; repeat++) tf.matMul(a, b, true, false).dispose();
      return performance.now() - start;
    };
    const fast = time();
    uninstallFastWasmMatMul();
    const slow = time();
    installFastWasmMatMul();
    a.dispose();
    b.dispose();
    expect(fast).toBeLessThan(slow);
  });
});
