import { describeEachBackend, useBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, expect, it } from "vitest";
import { embeddingLookup } from "./embedding-lookup.js";

const vocab = 11;
const hidden = 5;
// Repeated ids (3, 7) so the gradient must sum rows.
const ids = [
  [3, 7, 3, 0],
  [10, 7, 7, 1],
];

function tableValues(): Float32Array {
  return Float32Array.from({ length: vocab * hidden }, (_, index) => Math.sin(index * 1.7));
}

function upstreamValues(): Float32Array {
  return Float32Array.from({ length: ids.length * 4 * hidden }, (_, index) => Math.cos(index * 0.9));
}

/** Forward values and the table gradient of sum(lookup · upstream), with `lookup` as given. */
function run(lookup: (table: tf.Tensor, idTensor: tf.Tensor) => tf.Tensor): {
  forward: number[];
  gradient: number[];
} {
  return tf.tidy(() => {
    const table = tf.tensor2d(tableValues(), [vocab, hidden]);
    const idTensor = tf.tensor2d(ids, undefined, "int32");
    const upstream = tf.tensor3d(upstreamValues(), [ids.length, 4, hidden]);
    const loss = (weights: tf.Tensor): tf.Scalar => tf.sum(tf.mul(lookup(weights, idTensor), upstream));
    const gradient = tf.grad(loss)(table);
    return { forward: [...lookup(table, idTensor).dataSync()], gradient: [...gradient.dataSync()] };
  });
}

let reference: { forward: number[]; gradient: number[] };

beforeAll(async () => {
  // tf.gather's own gradient (UnsortedSegmentSum) exists on cpu: the reference.
  await useBackend("cpu");
  reference = run((table, idTensor) => tf.gather(table, idTensor));
});

describeEachBackend("embeddingLookup", () => {
  it("equals tf.gather forward and cpu's gather gradient (repeated ids summed)", () => {
    const got = run(embeddingLookup);
    expect(got.forward).toEqual(reference.forward);
    const differences = got.gradient.map((value, index) =>
      Math.abs(value - (reference.gradient[index] as number)),
    );
    expect(Math.max(...differences)).toBeLessThan(1e-6);
    // Rows never looked up get exactly zero.
    expect(got.gradient.slice(2 * hidden, 3 * hidden)).toEqual([0, 0, 0, 0, 0]);
  });

  it("does not leak tensors", () => {
    const before = tf.memory().numTensors;
    run(embeddingLookup);
    expect(tf.memory().numTensors).toBe(before);
  });
});
