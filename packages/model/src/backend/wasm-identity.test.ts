import { useBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandomDecoder } from "../backbone/create-random-decoder.js";
import { registerTfjsGradients } from "./register-gradients.js";
import { installSharedWasmIdentity, uninstallSharedWasmIdentity } from "./wasm-identity.js";

function decoderGradients(): { loss: number; grads: Float32Array[] } {
  const decoder = createRandomDecoder(
    {
      model_type: "qwen2",
      vocab_size: 61,
      hidden_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      intermediate_size: 48,
      max_position_embeddings: 24,
    },
    5,
  );
  const inputIds = tf.tensor2d(
    Int32Array.from({ length: 2 * 24 }, (_, i) => (i * 13 + 3) % 61),
    [2, 24],
    "int32",
  );
  const { value, grads } = tf.variableGrads(
    () => tf.mean(tf.square(decoder.forwardHidden({ inputIds }))) as tf.Scalar,
    decoder.trainableVariables,
  );
  const result = {
    loss: value.dataSync()[0]!,
    grads: Object.values(grads).map((g) => g.dataSync() as Float32Array),
  };
  tf.dispose([value, inputIds, ...Object.values(grads)]);
  decoder.dispose();
  return result;
}

describe("shared-data Identity (clone) [wasm]", () => {
  beforeAll(async () => {
    await registerTfjsGradients();
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
    const expected = decoderGradients();
    installSharedWasmIdentity();
    const before = tf.memory().numTensors;
    const actual = decoderGradients();
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
