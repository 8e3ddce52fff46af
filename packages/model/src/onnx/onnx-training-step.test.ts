import { getLoss, registerGradients } from "@pqm/core";
import { useBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecoderConfigJson } from "../backbone/create-random-decoder.js";
import { createRandomDecoder } from "../backbone/create-random-decoder.js";
import type { DecoderBackbone } from "../backbone/decoder-backbone.js";
import { stableName } from "../prm/process-reward-model.js";
import { ValueHead } from "../prm/value-head.js";
import { OnnxDecoderTrainer } from "./onnx-training-step.js";

// The ONNX Runtime training pass against TF.js's own gradients of the same decoder: every weight's
// gradient, the hidden state, and the refusals.

const QWEN2_WINDOWED: DecoderConfigJson = {
  model_type: "qwen2",
  vocab_size: 61,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 40,
  rope_theta: 10_000,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: true,
  max_position_embeddings: 64,
  use_sliding_window: true,
  sliding_window: 4,
  max_window_layers: 1,
};

const LLAMA_UNTIED: DecoderConfigJson = {
  model_type: "llama",
  vocab_size: 47,
  hidden_size: 48,
  num_hidden_layers: 1,
  num_attention_heads: 3,
  num_key_value_heads: 3,
  intermediate_size: 64,
  rope_theta: 500_000,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: false,
  max_position_embeddings: 64,
};

/** Ids, mask and positions of `rows` rows, each with `pads[row]` left pads; positions restart at the first real token. */
function batchOf(vocab: number, seq: number, pads: number[]) {
  const ids: number[] = [];
  const mask: number[] = [];
  const positions: number[] = [];
  pads.forEach((pad, row) => {
    for (let t = 0; t < seq; t++) {
      ids.push((row * 31 + t * 7 + 3) % vocab);
      mask.push(t < pad ? 0 : 1);
      positions.push(Math.max(0, t - pad));
    }
  });
  const shape: [number, number] = [pads.length, seq];
  return {
    inputIds: tf.tensor2d(ids, shape, "int32"),
    attentionMask: tf.tensor2d(mask, shape, "int32"),
    positionIds: tf.tensor2d(positions, shape, "int32"),
  };
}

function relativeError(actual: tf.Tensor, expected: tf.Tensor): number {
  return tf.tidy(() => {
    const scale = tf.max(tf.abs(expected)).dataSync()[0] as number;
    const difference = tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0] as number;
    return difference / Math.max(scale, 1e-12);
  });
}

describe("OnnxDecoderTrainer [wasm]", () => {
  const made: { dispose(): void }[] = [];
  beforeAll(async () => {
    registerGradients();
    await useBackend("wasm");
  });
  afterAll(() => {
    for (const item of made) item.dispose();
  });

  const decoder = (config: DecoderConfigJson, seed: number, options = {}): DecoderBackbone => {
    const backbone = createRandomDecoder(config, seed, options);
    made.push(backbone);
    return backbone;
  };

  for (const [title, config, pads] of [
    ["qwen2: grouped heads, biases, a sliding window, left padding", QWEN2_WINDOWED, [0, 3, 1]],
    ["llama: no biases, untied LM head, no padding", LLAMA_UNTIED, [0, 0]],
  ] as const) {
    it(`gives TF.js's hidden state and gradients (${title})`, async () => {
      const backbone = decoder(config, 3);
      const trainer = await OnnxDecoderTrainer.create(backbone);
      made.push(trainer);
      const seq = 9;
      const inputs = batchOf(backbone.config.vocabSize, seq, [...pads]);
      // A padded position's query sees no key: its hidden state is undefined (TF.js spreads its attention
      // over every key, the pass's first block of queries over the first half), and nothing may depend on
      // it. So the upstream gradient is zero there, and the hidden states are compared at real tokens.
      const real = tf.expandDims(tf.cast(inputs.attentionMask, "float32"), 2);
      const weights = tf.mul(
        tf.randomNormal([pads.length, seq, backbone.config.hiddenSize], 0, 1, "float32", 11),
        real,
      );
      const variables = backbone.trainableVariables;
      const expected = tf.variableGrads(
        () => tf.sum(tf.mul(backbone.forwardHidden(inputs), weights)) as tf.Scalar,
        variables,
      );
      const reference = backbone.forwardHidden(inputs);
      const pass = trainer.forward(inputs);
      expect(pass.hidden.shape).toEqual(reference.shape);
      const [realHidden, realReference] = [tf.mul(pass.hidden, real), tf.mul(reference, real)];
      expect(relativeError(realHidden, realReference)).toBeLessThan(1e-5);
      tf.dispose([realHidden, realReference, real]);
      const gradients = trainer.backward(pass, weights);
      // Every trainable weight but an untied LM head (not used by the hidden state) has one.
      const named = variables
        .map((variable) => stableName(variable.name))
        .filter((name) => name !== "lm_head.weight");
      expect([...gradients.keys()].sort()).toEqual(named.sort());
      for (const variable of variables) {
        const name = stableName(variable.name);
        if (name === "lm_head.weight") {
          expect(expected.grads[variable.name]).toBeUndefined();
          continue;
        }
        const error = relativeError(
          gradients.get(name) as tf.Tensor,
          expected.grads[variable.name] as tf.Tensor,
        );
        expect(error, name).toBeLessThan(2e-5);
      }
      tf.dispose([pass.hidden, reference, weights, expected.value, ...Object.values(expected.grads)]);
      tf.dispose([...gradients.values(), ...Object.values(inputs)]);
    });
  }

  // Rows: correct and wrong steps; correct steps only; a padded tag; no labeled tag at all (the loss
  // skips the row); all wrong. Tags may repeat a position (padded slots point at position 0); labeled
  // tags sit on real tokens (with the qwen2 case's left padding of 0, 3, 1, 0 and 2 tokens).
  const STEP_LABELS = [
    [1, 1, 0, 1],
    [1, 1, 1, -100],
    [0, 1, -100, -100],
    [-100, -100, -100, -100],
    [0, 0, 0, 0],
  ];
  const STEP_TAGS = [
    [1, 3, 5, 8],
    [3, 4, 8, 0],
    [6, 8, 0, 0],
    [0, 0, 0, 0],
    [3, 4, 7, 8],
  ];
  for (const [title, config, pads, zeta, dropoutSeed] of [
    ["qwen2, left padding, zeta 4, dropout", QWEN2_WINDOWED, [0, 3, 1, 0, 2], 4, 17],
    ["llama, zeta 0, no dropout", LLAMA_UNTIED, [0, 0, 0, 0, 0], 0, null],
  ] as const) {
    it(`step(): the PQM loss and every gradient as TF.js computes them (${title})`, async () => {
      const backbone = decoder(config, 21);
      const head = ValueHead.create(backbone.config.hiddenSize, 5);
      made.push(head);
      const trainer = await OnnxDecoderTrainer.create(backbone, { pqmLoss: { zeta } });
      made.push(trainer);
      expect(trainer.lossInGraph).toBe(true);
      const seq = 9;
      const inputs = batchOf(backbone.config.vocabSize, seq, [...pads]);
      const tagPositions = tf.tensor2d(STEP_TAGS, undefined, "int32");
      const labelValues = Float32Array.from(STEP_LABELS.flat());
      const labels = tf.tensor2d(labelValues, [STEP_LABELS.length, 4]);
      const loss = getLoss("pqm", { zeta });
      const variables = [...backbone.trainableVariables, head.weight, head.bias];
      const expected = tf.variableGrads(
        () =>
          loss(
            head.apply(
              backbone.forwardHidden(inputs),
              tagPositions,
              dropoutSeed === null ? {} : { training: true, dropoutSeed },
            ),
            labels,
            labelValues,
          ),
        variables,
      );
      const dropoutScale =
        dropoutSeed === null
          ? undefined
          : tf.dropout(
              tf.ones([STEP_LABELS.length * 4, backbone.config.hiddenSize]),
              head.dropout,
              undefined,
              dropoutSeed,
            );
      const result = trainer.step({
        ...inputs,
        tagPositions,
        labels: labelValues,
        head: { weight: head.weight, bias: head.bias },
        ...(dropoutScale === undefined ? {} : { dropoutScale }),
      });
      const expectedLoss = expected.value.dataSync()[0] as number;
      expect(Math.abs((result.loss.dataSync()[0] as number) - expectedLoss)).toBeLessThan(
        1e-5 * Math.max(1, Math.abs(expectedLoss)),
      );
      expect(result.loss.shape).toEqual([]);
      for (const variable of backbone.trainableVariables) {
        const name = stableName(variable.name);
        if (name === "lm_head.weight") continue;
        expect(
          relativeError(result.gradients.get(name) as tf.Tensor, expected.grads[variable.name] as tf.Tensor),
          name,
        ).toBeLessThan(5e-5);
      }
      expect(
        relativeError(result.headGradients.weight, expected.grads[head.weight.name] as tf.Tensor),
      ).toBeLessThan(2e-5);
      expect(
        relativeError(result.headGradients.bias, expected.grads[head.bias.name] as tf.Tensor),
      ).toBeLessThan(2e-5);
      tf.dispose([
        result.loss,
        result.headGradients.weight,
        result.headGradients.bias,
        ...result.gradients.values(),
      ]);
      tf.dispose([
        expected.value,
        ...Object.values(expected.grads),
        ...Object.values(inputs),
        tagPositions,
        labels,
      ]);
      dropoutScale?.dispose();
    });
  }

  it("step(): refuses bad labels and tags, and forward/backward on a step trainer", async () => {
    const backbone = decoder(QWEN2_WINDOWED, 22);
    const trainer = await OnnxDecoderTrainer.create(backbone, { pqmLoss: { zeta: 4 } });
    made.push(trainer);
    const inputs = batchOf(backbone.config.vocabSize, 4, [0]);
    const head = ValueHead.create(backbone.config.hiddenSize, 1);
    made.push(head);
    const tags = tf.tensor2d([[1, 3]], undefined, "int32");
    const base = { ...inputs, tagPositions: tags, head: { weight: head.weight, bias: head.bias } };
    expect(() => trainer.step({ ...base, labels: [1, 0.5] })).toThrow(/labels\[1\] = 0.5/);
    expect(() => trainer.step({ ...base, labels: [1] })).toThrow(/labels must hold batch·tags = 2 values/);
    const outside = tf.tensor2d([[1, 4]], undefined, "int32");
    expect(() => trainer.step({ ...base, tagPositions: outside, labels: [1, 0] })).toThrow(
      /tagPositions must lie in \[0, 4\), got 4 at index 1/,
    );
    expect(() => trainer.forward(inputs)).toThrow(/created with pqmLoss; use step/);
    const before = tf.memory().numTensors;
    const result = trainer.step({ ...base, labels: [1, 0] });
    tf.dispose([
      result.loss,
      result.headGradients.weight,
      result.headGradients.bias,
      ...result.gradients.values(),
    ]);
    expect(tf.memory().numTensors).toBe(before);
    const plain = await OnnxDecoderTrainer.create(backbone);
    made.push(plain);
    expect(() => plain.step({ ...base, labels: [1, 0] })).toThrow(/needs a trainer created with pqmLoss/);
    await expect(OnnxDecoderTrainer.create(backbone, { pqmLoss: { zeta: -1 } })).rejects.toThrow(
      /zeta must be finite/,
    );
    tf.dispose([tags, outside, ...Object.values(inputs)]);
  });

  it("sequences of one and two tokens (an empty first block of queries) give TF.js's gradients", async () => {
    const backbone = decoder(QWEN2_WINDOWED, 23);
    const trainer = await OnnxDecoderTrainer.create(backbone);
    made.push(trainer);
    for (const seq of [1, 2]) {
      const inputs = batchOf(backbone.config.vocabSize, seq, [0, 0]);
      const weights = tf.randomNormal([2, seq, backbone.config.hiddenSize], 0, 1, "float32", seq);
      const variables = backbone.trainableVariables;
      const expected = tf.variableGrads(
        () => tf.sum(tf.mul(backbone.forwardHidden(inputs), weights)) as tf.Scalar,
        variables,
      );
      const pass = trainer.forward(inputs);
      const gradients = trainer.backward(pass, weights);
      for (const variable of variables) {
        const name = stableName(variable.name);
        // With one token each query sees one key: the attention's softmax gradient, and so the query and
        // key projections' gradients, are zero up to rounding (TF.js's is exactly zero): an absolute floor.
        const actual = gradients.get(name) as tf.Tensor;
        const reference = expected.grads[variable.name] as tf.Tensor;
        const [difference, scale] = tf.tidy(() => [
          tf.max(tf.abs(tf.sub(actual, reference))).dataSync()[0] as number,
          tf.max(tf.abs(reference)).dataSync()[0] as number,
        ]);
        expect(difference, `${name}, ${seq} tokens`).toBeLessThan(2e-5 * Math.max(scale as number, 1e-2));
      }
      tf.dispose([pass.hidden, weights, expected.value, ...Object.values(expected.grads)]);
      tf.dispose([...gradients.values(), ...Object.values(inputs)]);
    }
  });

  it("on two threads gives the same gradients on every run, repeated ids included", async () => {
    // ONNX Runtime's ScatterND with reduction "add" raced on repeated ids on two threads: the embedding's
    // gradient changed from run to run. Every id below appears several times.
    const backbone = decoder(
      { ...QWEN2_WINDOWED, hidden_size: 128, num_hidden_layers: 1, max_position_embeddings: 128 },
      4,
    );
    const trainer = await OnnxDecoderTrainer.create(backbone, { threads: 2, spinning: false });
    made.push(trainer);
    const inputs = {
      inputIds: tf.tensor2d(
        Array.from({ length: 16 * 128 }, (_, i) => (i * 5) % 7),
        [16, 128],
        "int32",
      ),
    };
    const weights = tf.randomNormal([16, 128, backbone.config.hiddenSize], 0, 1, "float32", 13);
    const embedding = backbone.allVariables().find((v) => stableName(v.name) === "model.embed_tokens.weight");
    const expected = tf.variableGrads(
      () => tf.sum(tf.mul(backbone.forwardHidden(inputs), weights)) as tf.Scalar,
      [embedding as tf.Variable],
    );
    const runs: Float32Array[] = [];
    for (let round = 0; round < 4; round++) {
      const pass = trainer.forward(inputs);
      const gradients = trainer.backward(pass, weights);
      const table = gradients.get("model.embed_tokens.weight") as tf.Tensor;
      if (round === 0) {
        expect(
          relativeError(table, expected.grads[(embedding as tf.Variable).name] as tf.Tensor),
        ).toBeLessThan(2e-5);
      }
      runs.push(table.dataSync().slice() as Float32Array);
      tf.dispose([pass.hidden, ...gradients.values()]);
    }
    for (const run of runs.slice(1)) expect(run).toEqual(runs[0]);
    tf.dispose([weights, inputs.inputIds, expected.value, ...Object.values(expected.grads)]);
  });

  it("the gradients differ when the padding does (the mask reaches the backward)", async () => {
    const backbone = decoder(QWEN2_WINDOWED, 5);
    const trainer = await OnnxDecoderTrainer.create(backbone);
    made.push(trainer);
    const gradientOf = (pads: number[]) => {
      const inputs = batchOf(backbone.config.vocabSize, 6, pads);
      const pass = trainer.forward(inputs);
      const ones = tf.onesLike(pass.hidden);
      const gradients = trainer.backward(pass, ones);
      const q = gradients.get("model.layers.1.self_attn.q_proj.weight") as tf.Tensor;
      const values = q.dataSync().slice();
      tf.dispose([pass.hidden, ones, ...gradients.values(), ...Object.values(inputs)]);
      return values;
    };
    const unpadded = gradientOf([0, 0]);
    const padded = gradientOf([0, 2]);
    let largest = 0;
    for (let index = 0; index < unpadded.length; index++)
      largest = Math.max(largest, Math.abs((unpadded[index] as number) - (padded[index] as number)));
    expect(largest).toBeGreaterThan(1e-3);
  });

  it("leaves no tensor behind but the ones it returns", async () => {
    const backbone = decoder(QWEN2_WINDOWED, 6);
    const trainer = await OnnxDecoderTrainer.create(backbone);
    made.push(trainer);
    const inputs = batchOf(backbone.config.vocabSize, 5, [0, 1]);
    const before = tf.memory().numTensors;
    for (let round = 0; round < 3; round++) {
      const pass = trainer.forward(inputs);
      const gradients = trainer.backward(pass, pass.hidden);
      tf.dispose([pass.hidden, ...gradients.values()]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(inputs));
  });

  it("refuses a second backward, a misshapen gradient and ids outside the vocabulary", async () => {
    const backbone = decoder(QWEN2_WINDOWED, 7);
    const trainer = await OnnxDecoderTrainer.create(backbone);
    made.push(trainer);
    const inputs = batchOf(backbone.config.vocabSize, 4, [0]);
    const pass = trainer.forward(inputs);
    expect(() => trainer.backward(pass, tf.zeros([1, 4, 8]))).toThrow(
      /hiddenGradient must be float32 \[1,4,32\]/,
    );
    tf.dispose([...trainer.backward(pass, pass.hidden).values()]);
    expect(() => trainer.backward(pass, pass.hidden)).toThrow(/already went backward/);
    pass.hidden.dispose();
    const outside = tf.tensor2d([[1, 61]], [1, 2], "int32");
    expect(() => trainer.forward({ inputIds: outside })).toThrow(/inputIds must lie in \[0, 61\), got 61/);
    trainer.dispose();
    expect(() => trainer.forward(inputs)).toThrow(/after dispose/);
    tf.dispose([outside, ...Object.values(inputs)]);
  });

  it("says why it cannot train a LoRA or frozen decoder", async () => {
    const lora = decoder(QWEN2_WINDOWED, 8, { lora: { rank: 2 } });
    expect(OnnxDecoderTrainer.unsupportedReason(lora)).toMatch(/mode is 'lora'/);
    const frozen = decoder(QWEN2_WINDOWED, 8, { mode: "frozen" });
    expect(OnnxDecoderTrainer.unsupportedReason(frozen)).toMatch(/mode is 'frozen'/);
    await expect(OnnxDecoderTrainer.create(lora)).rejects.toThrow(/mode is 'lora'/);
    const missing = decoder(QWEN2_WINDOWED, 9);
    await expect(
      OnnxDecoderTrainer.create(missing, {
        importModule: () =>
          Promise.reject(
            Object.assign(new Error("Cannot find package 'onnxruntime-node'"), {
              code: "ERR_MODULE_NOT_FOUND",
            }),
          ),
      }),
    ).rejects.toThrow(/onnxruntime-node/);
  });
});
