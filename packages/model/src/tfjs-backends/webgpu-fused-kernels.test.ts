import { registerGradients } from "@pqm/core";
import { useBackend, webgpuProbe } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composedAttention, fusedAttention } from "../backbone/layers/attention.js";
import { additiveAttentionMask } from "../backbone/layers/attention-mask.js";
import { rmsNorm } from "../backbone/layers/rms-norm.js";
import {
  applyRotaryEmbedding,
  ropeCosSin,
  ropeInverseFrequencies,
} from "../backbone/layers/rotary-embedding.js";
import { globalNormTensor } from "../training/clip-gradients.js";
import {
  adamWSteps,
  decoderLossAndGradientsAsync,
  rankingLossCase,
  softmaxWithKernelGradient,
  spreadValues,
} from "./decoder-gradients.test-helper.js";
import { HostKernel, hasHostKernel } from "./wasm-host-kernels.js";
import {
  fusedKernelsFromEnvironment,
  installWebGpuFusedKernels,
  missingWebGpuInternals,
  uninstallWebGpuFusedKernels,
} from "./webgpu-fused-kernels.js";
import { installWebGpuSoftmax } from "./webgpu-softmax.js";

const values = spreadValues;

/** Largest difference relative to the reference's largest magnitude, over lists of arrays. */
function worstRelative(actual: ArrayLike<number>[], expected: ArrayLike<number>[]): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (const [index, reference] of expected.entries()) {
    const got = actual[index] as ArrayLike<number>;
    expect(got.length).toBe(reference.length);
    let scale = 0;
    for (let i = 0; i < reference.length; i++) scale = Math.max(scale, Math.abs(reference[i] as number));
    for (let i = 0; i < reference.length; i++)
      worst = Math.max(worst, Math.abs((got[i] as number) - (reference[i] as number)) / (scale || 1));
  }
  return worst;
}

/** Runs `compute` composed (no fused kernels) and fused; returns both results. */
async function bothWays<T>(compute: () => Promise<T>): Promise<{ composed: T; fused: T }> {
  uninstallWebGpuFusedKernels();
  const composed = await compute();
  expect(installWebGpuFusedKernels()).toBe(true);
  const fused = await compute();
  return { composed, fused };
}

async function read(tensors: tf.Tensor[]): Promise<Float32Array[]> {
  const out = (await Promise.all(tensors.map((tensor) => tensor.data()))) as Float32Array[];
  tf.dispose(tensors);
  return out;
}

describe("PQM_WEBGPU_FUSED", () => {
  it("chooses all kernels, none, or all but attention, and names the values it takes", () => {
    expect(fusedKernelsFromEnvironment(undefined)).toEqual({});
    expect(fusedKernelsFromEnvironment("all")).toEqual({});
    expect(fusedKernelsFromEnvironment("none")).toEqual({ kernels: [] });
    const some = fusedKernelsFromEnvironment("no-attention").kernels ?? [];
    expect(some).toContain(HostKernel.adamW);
    expect(some).toContain("PqmRankingLoss");
    expect(some).not.toContain(HostKernel.attention);
    expect(some).not.toContain(HostKernel.attentionGrad);
    expect(() => fusedKernelsFromEnvironment("attention")).toThrow(
      "PQM_WEBGPU_FUSED=attention: expected one of all, none, no-attention",
    );
  });
});

// Each fused WGSL kernel against the TF.js operations it replaces, both on webgpu. GPU arithmetic
// may contract a·b + c into one fused multiply-add and reductions add in another order, so results
// agree within float32 rounding rather than bit for bit.
const probe = webgpuProbe();
describe.skipIf(!probe.available)(`fused WGSL kernels [webgpu]${probe.skipReason}`, () => {
  beforeAll(async () => {
    registerGradients();
    await useBackend("webgpu");
    installWebGpuSoftmax(); // as selectBackend does: fully masked rows stay finite when composed
  });
  afterAll(() => {
    uninstallWebGpuFusedKernels();
  });

  it("finds every backend member it records launches with (tfjs-backend-webgpu 4.22.0)", () => {
    expect(missingWebGpuInternals(tf.backend())).toEqual([]);
    expect(missingWebGpuInternals({ device: {} })).toEqual([
      "makeTensorInfo",
      "uploadToGPU",
      "tensorToBinding",
      "makeUniforms",
      "ensureCommandEncoderReady",
      "endComputePassEncoder",
      "submitQueue",
      "commandQueueOwnedIds",
      "dispatchCountInPass",
      "computePassEncoder",
    ]);
  });

  it("registers on webgpu only, and uninstalls", () => {
    expect(installWebGpuFusedKernels()).toBe(true);
    for (const name of Object.values(HostKernel)) {
      expect(hasHostKernel(name)).toBe(true);
      expect(tf.getKernel(name, "cpu")).toBeUndefined();
    }
    expect(uninstallWebGpuFusedKernels()).toBe(true);
    expect(uninstallWebGpuFusedKernels()).toBe(false);
    expect(hasHostKernel(HostKernel.adamW)).toBe(false);
    expect(installWebGpuFusedKernels({ kernels: [HostKernel.rotary] })).toBe(true);
    expect(hasHostKernel(HostKernel.rotary)).toBe(true);
    expect(hasHostKernel(HostKernel.rmsNorm)).toBe(false);
    uninstallWebGpuFusedKernels();
  });

  it("AdamW in one launch per parameter agrees with the composed update, with and without decay", async () => {
    const { composed, fused } = await bothWays(adamWSteps);
    expect(worstRelative(fused, composed)).toBeLessThanOrEqual(1e-6);
    // The parameters moved: the comparison is not between two untouched copies.
    expect(worstRelative([composed[0] as Float32Array], [values(37 * 11, 3)])).toBeGreaterThan(1e-4);
  });

  it("the global gradient norm in a few launches agrees with the composed one", async () => {
    // 17 gradients: three launches of up to 7, one of them far longer than a workgroup's share.
    const shapes = Array.from({ length: 17 }, (_, index) => (index === 3 ? [300, 257] : [index + 1, 5]));
    const gradients = new Map(
      shapes.map((shape, index) => [
        `g${index}`,
        tf.tensor(values(shape[0]! * shape[1]!, 40 + index), shape),
      ]),
    );
    const { composed, fused } = await bothWays(async () => read([globalNormTensor(gradients)]));
    const expected = (composed[0] as Float32Array)[0]!;
    let reference = 0;
    for (const gradient of gradients.values()) for (const v of await gradient.data()) reference += v * v;
    expect(Math.abs(expected - Math.sqrt(reference))).toBeLessThanOrEqual(1e-5 * expected);
    expect(Math.abs((fused[0] as Float32Array)[0]! - expected)).toBeLessThanOrEqual(1e-6 * expected);
    tf.dispose([...gradients.values()]);
  });

  it("the PQM loss and its gradient in one launch agree with the composed loss, padding included", async () => {
    // More rows than the kernel's 64 threads.
    const lossCase = rankingLossCase(70);
    const { labelValues } = lossCase;
    for (const zeta of [4, 0]) {
      const run = async () => read(lossCase.lossAndGradient(zeta));
      const { composed, fused } = await bothWays(run);
      expect(worstRelative(fused, composed)).toBeLessThanOrEqual(2e-6);
      // Padding gets no gradient.
      const gradient = fused[1] as Float32Array;
      labelValues.forEach((label, index) => {
        if (label === -100) expect(gradient[index]).toBe(0);
      });
    }
    lossCase.dispose();
  });

  it("attention forward and backward agree with the composed form: grouped heads, padding, a window", async () => {
    // Small, and longer than a workgroup's 64 rows and a tile (two blocks of queries and keys) at a head
    // size whose tiles hold fewer rows.
    for (const [batch, heads, kvHeads, seq, headDim] of [
      [2, 4, 2, 9, 8],
      [2, 2, 1, 70, 64],
    ] as const) {
      // Queries and keys a tenth of the spread values: scores of the size trained models see (the full
      // spread makes scores in the thousands, where float32 rounding alone moves results by 4e-5).
      const query = tf.tidy(() =>
        tf.mul(tf.tensor4d(values(batch * heads * seq * headDim, 51), [batch, heads, seq, headDim]), 0.1),
      );
      const key = tf.tidy(() =>
        tf.mul(tf.tensor4d(values(batch * kvHeads * seq * headDim, 52), [batch, kvHeads, seq, headDim]), 0.1),
      );
      const value = tf.tensor4d(values(batch * kvHeads * seq * headDim, 53), [batch, kvHeads, seq, headDim]);
      const upstream = tf.tensor2d(values(batch * seq * heads * headDim, 54), [batch * seq, heads * headDim]);
      // Row 0 left-padded by three (its first three queries see no key: a uniform average), row 1 full;
      // with and without a sliding window of 4.
      const padded = Array.from({ length: seq }, (_, index) => (index < 3 ? 0 : 1));
      const attentionMask = tf.tensor2d([padded, Array(seq).fill(1)], [2, seq], "int32");
      for (const window of [null, 4]) {
        const mask = additiveAttentionMask(attentionMask, window);
        const run = async () => {
          const attend = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
            hasHostKernel(HostKernel.attention)
              ? tf.reshape(fusedAttention(q, k, v, mask, 0.35), [batch * seq, heads * headDim])
              : composedAttention(q, k, v, mask, 0.35);
          const tensors = tf.tidy(() => [
            attend(query, key, value),
            ...tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
              tf.sum(tf.mul(attend(q, k, v), upstream)),
            )([query, key, value]),
          ]);
          return read(tensors);
        };
        const before = tf.memory().numTensors;
        const { composed, fused } = await bothWays(run);
        expect(tf.memory().numTensors).toBe(before);
        expect(fused.every((array) => array.every(Number.isFinite))).toBe(true);
        // The scale multiplies the scores here and the queries there, and sums run in another order.
        expect(worstRelative(fused, composed)).toBeLessThanOrEqual(1e-5);
        mask.dispose();
      }
      tf.dispose([query, key, value, upstream, attentionMask]);
    }
  });

  it("RMSNorm and its gradient agree with the composed form, over rows wider than a workgroup", async () => {
    for (const width of [24, 200]) {
      const x = tf.tensor3d(values(3 * 7 * width, 12), [3, 7, width]);
      const weight = tf.tensor1d(values(width, 13));
      const upstream = tf.tensor3d(values(3 * 7 * width, 14), [3, 7, width]);
      const run = async () => {
        const value = rmsNorm(x, weight, 1e-6);
        const [dx, dw] = tf.grads((input: tf.Tensor, scale: tf.Tensor) =>
          tf.sum(tf.mul(rmsNorm(input, scale, 1e-6), upstream)),
        )([x, weight]) as [tf.Tensor, tf.Tensor];
        return read([value, dx, dw]);
      };
      const before = tf.memory().numTensors;
      const { composed, fused } = await bothWays(run);
      expect(tf.memory().numTensors).toBe(before);
      expect(worstRelative(fused, composed)).toBeLessThanOrEqual(2e-6);
      tf.dispose([x, weight, upstream]);
    }
  });

  it("the softmax gradient agrees with the composed one", async () => {
    for (const width of [48, 131]) {
      const logits = tf.tensor3d(values(3 * 5 * width, 7), [3, 5, width]);
      const upstream = tf.tensor3d(values(3 * 5 * width, 8), [3, 5, width]);
      const run = async () => {
        const gradient = tf.grad((input: tf.Tensor) =>
          tf.sum(tf.mul(softmaxWithKernelGradient(input), upstream)),
        )(logits);
        return read([gradient]);
      };
      const { composed, fused } = await bothWays(run);
      expect(worstRelative(fused, composed)).toBeLessThanOrEqual(1e-6);
      tf.dispose([logits, upstream]);
    }
  });

  it("SwiGLU's gradient agrees with TF.js's gradient of the composed form", async () => {
    installWebGpuFusedKernels();
    const gate = tf.tensor2d(values(12 * 20, 9), [12, 20]);
    const up = tf.tensor2d(values(12 * 20, 10), [12, 20]);
    const dy = tf.tensor2d(values(12 * 20, 11), [12, 20]);
    const expected = tf.grads((g: tf.Tensor, u: tf.Tensor) =>
      tf.sum(tf.mul(tf.mul(tf.mul(g, tf.sigmoid(g)), u), dy)),
    )([gate, up]);
    const sigmoid = tf.sigmoid(gate);
    const actual = tf.engine().runKernel(HostKernel.swigluGrad, { gate, up, sigmoid, dy }) as tf.Tensor[];
    expect(worstRelative(await read(actual), await read(expected))).toBeLessThanOrEqual(1e-6);
    tf.dispose([gate, up, dy, sigmoid]);
  });

  it("the rotary embedding and its gradient agree with the composed form", async () => {
    const x = tf.tensor4d(values(2 * 3 * 5 * 8, 5), [2, 3, 5, 8]);
    const upstream = tf.tensor4d(values(2 * 3 * 5 * 8, 6), [2, 3, 5, 8]);
    const positions = tf.tensor2d([0, 1, 2, 3, 4, 7, 8, 9, 10, 11], [2, 5], "int32");
    const { cos, sin } = ropeCosSin(positions, ropeInverseFrequencies(8, 10_000));
    const run = async () => {
      const value = applyRotaryEmbedding(x, cos, sin);
      const gradient = tf.grad((input: tf.Tensor) =>
        tf.sum(tf.mul(applyRotaryEmbedding(input, cos, sin), upstream)),
      )(x);
      return read([value, gradient]);
    };
    const { composed, fused } = await bothWays(run);
    expect(worstRelative(fused, composed)).toBeLessThanOrEqual(1e-6);
    tf.dispose([x, upstream, positions, cos, sin]);
  });

  it("leaves a decoder's loss and gradients as the composed kernels give them, with no tensor left", async () => {
    uninstallWebGpuFusedKernels();
    const expected = await decoderLossAndGradientsAsync();
    installWebGpuFusedKernels();
    const before = tf.memory().numTensors;
    const actual = await decoderLossAndGradientsAsync();
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.abs(actual.loss - expected.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(expected.loss));
    expect(worstRelative(actual.grads, expected.grads)).toBeLessThanOrEqual(1e-4);
  });

  it("says which kernel and input are wrong", () => {
    installWebGpuFusedKernels();
    const x = tf.zeros([2, 8]);
    const weight = tf.zeros([4]);
    expect(() => tf.engine().runKernel(HostKernel.rmsNorm, { x, weight }, { eps: 1e-6 })).toThrow(
      "PqmRmsNorm: x [..., width] with weight [width], got [2,8] and [4]",
    );
    const ids = tf.zeros([2, 8], "int32");
    expect(() => tf.engine().runKernel(HostKernel.softmaxGrad, { y: ids, dy: ids })).toThrow(
      "PqmSoftmaxGrad: input 'y' must be a float32 tensor",
    );
    tf.dispose([x, weight, ids]);
  });
});
