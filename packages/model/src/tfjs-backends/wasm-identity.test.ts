import { registerGradients } from "@pqm/core";
import { useBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decoderLossAndGradients } from "./decoder-gradients.test-helper.js";
import { installSharedWasmIdentity, uninstallSharedWasmIdentity } from "./wasm-identity.js";

describe("shared-data Identity (clone) [wasm]", () => {
  beforeAll(async () => {
    registerGradients();
    await useBackend("wasm");
  });
  afterAll(() => {
    uninstallSharedWasmIdentity();
  });

  it("clones without copying, and a clone outlives its original", () => {
    expect(installSharedWasmIdentity()).toBe(true);
    expect(installSharedWasmIdentity()).toBe(true);
    const original = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const copy = tf.clone(original);
    // (tf.memory().numBytes counts per tensor, not per buffer: compare the backend's data ids.)
    expect(copy.dataId).toBe(original.dataId);
    original.dispose();
    expect(Array.from(copy.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(copy.shape).toEqual([2, 3]);
    copy.dispose();
    expect(() => copy.dataSync()).toThrow(/disposed/);
  });

  it("leaves a decoder's loss and gradients bit for bit as the copying kernel does", () => {
    uninstallSharedWasmIdentity();
    const expected = decoderLossAndGradients();
    installSharedWasmIdentity();
    const before = tf.memory().numTensors;
    const actual = decoderLossAndGradients();
    expect(tf.memory().numTensors).toBe(before);
    expect(actual.loss).toBe(expected.loss);
    expect(actual.grads.length).toBe(expected.grads.length);
    for (let index = 0; index < expected.grads.length; index++) {
      expect(Array.from(actual.grads[index]!)).toEqual(Array.from(expected.grads[index]!));
    }
  });

  it("uninstalls", () => {
    installSharedWasmIdentity();
    expect(uninstallSharedWasmIdentity()).toBe(true);
    expect(uninstallSharedWasmIdentity()).toBe(false);
    const original = tf.tensor1d([7, 8]);
    const copy = tf.clone(original);
    expect(copy.dataId).not.toBe(original.dataId); // the stock kernel copies
    tf.dispose([original, copy]);
  });
});
