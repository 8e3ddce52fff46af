import { describeEachBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { expect, it } from "vitest";
import {
  goldenDecoderModels,
  goldenDecoderPath,
  readGoldenExpected,
} from "../backbone/golden-decoders.test-helper.js";
import { loadPretrained } from "../backbone/load-pretrained.js";
import { ValueHead } from "./value-head.js";

describeEachBackend("value head", () => {
  it("gathers every tag row in one pass and applies the linear map", () => {
    const hidden = tf.randomNormal([2, 5, 3], 0, 1, "float32", 7); // [batch, seq, hidden]
    const head = new ValueHead(tf.tensor2d([[0.5, -1, 2]]), tf.tensor1d([0.25]));
    const tags = tf.tensor2d(
      [
        [1, 4],
        [0, 2],
      ],
      [2, 2],
      "int32",
    );
    const scores = head.apply(hidden, tags).arraySync();
    const rows = hidden.arraySync() as number[][][];
    for (const [batch, positions] of [
      [0, [1, 4]],
      [1, [0, 2]],
    ] as const) {
      positions.forEach((position, step) => {
        const row = rows[batch]![position]!;
        const want = 0.5 * row[0]! - row[1]! + 2 * row[2]! + 0.25;
        expect(scores[batch]![step]).toBeCloseTo(want, 5);
      });
    }
    tf.dispose([hidden, tags]);
    head.dispose();
  });

  it("drops out only in training, reproducibly for a seed", () => {
    const hidden = tf.randomNormal([4, 6, 32], 0, 1, "float32", 3);
    const tags = tf.tensor2d(
      [0, 1, 2, 3, 4, 5, 1, 2].map((v) => v % 6),
      [4, 2],
      "int32",
    );
    const head = ValueHead.create(32, 11);
    const evalA = head.apply(hidden, tags).dataSync();
    const evalB = head.apply(hidden, tags, { training: false, dropoutSeed: 5 }).dataSync();
    const trainA = head.apply(hidden, tags, { training: true, dropoutSeed: 5 }).dataSync();
    const trainB = head.apply(hidden, tags, { training: true, dropoutSeed: 5 }).dataSync();
    const trainC = head.apply(hidden, tags, { training: true, dropoutSeed: 6 }).dataSync();
    expect(Array.from(evalB)).toEqual(Array.from(evalA));
    expect(Array.from(trainB)).toEqual(Array.from(trainA));
    expect(Array.from(trainA)).not.toEqual(Array.from(evalA));
    expect(Array.from(trainC)).not.toEqual(Array.from(trainA));
    tf.dispose([hidden, tags]);
    head.dispose();
  });

  it("has gradients for the hidden states at the tags only, and for its weights", () => {
    const hidden = tf.randomNormal([1, 4, 8], 0, 1, "float32", 1);
    const tags = tf.tensor2d([[1, 3]], [1, 2], "int32");
    const head = ValueHead.create(8, 2);
    const gradient = tf.grad((h: tf.Tensor) => tf.sum(head.apply(h, tags)))(hidden);
    const perPosition = tf.sum(tf.abs(gradient), -1).dataSync(); // [1, 4]
    expect(perPosition[0]).toBe(0);
    expect(perPosition[2]).toBe(0);
    expect(perPosition[1]).toBeGreaterThan(0);
    expect(perPosition[3]).toBeGreaterThan(0);
    const { grads } = tf.variableGrads(
      () => tf.sum(head.apply(hidden, tags)) as tf.Scalar,
      [head.weight, head.bias],
    );
    expect(grads[head.bias.name]?.dataSync()[0]).toBeCloseTo(2, 6);
    tf.dispose([hidden, tags, gradient, ...Object.values(grads)]);
    head.dispose();
  });

  it("rejects weights that are not a scalar head", () => {
    expect(() => new ValueHead(tf.zeros([2, 4]), tf.zeros([1]))).toThrow(/weight \[1, hidden\]/);
  });
});

describeEachBackend("value head on the golden decoders", () => {
  for (const name of goldenDecoderModels) {
    it(`${name}: matches value_head.values at last_real_index, both paddings`, async () => {
      const golden = readGoldenExpected(name);
      const backbone = await loadPretrained(goldenDecoderPath(name), { mode: "frozen" });
      const head = new ValueHead(
        tf.tensor2d([golden.value_head.weight]),
        tf.tensor1d([golden.value_head.bias]),
      );
      for (const caseName of ["right_padding", "left_padding"] as const) {
        const testCase = golden.cases[caseName];
        const got = tf.tidy(() => {
          const hidden = backbone.forwardHidden({
            inputIds: tf.tensor2d(testCase.input_ids, undefined, "int32"),
            attentionMask: tf.tensor2d(testCase.attention_mask, undefined, "int32"),
            ...(testCase.position_ids_passed
              ? { positionIds: tf.tensor2d(testCase.position_ids, undefined, "int32") }
              : {}),
          });
          const tags = tf.tensor2d(
            testCase.last_real_index.map((index) => [index]),
            undefined,
            "int32",
          );
          return head.apply(hidden, tags);
        });
        const values = got.dataSync();
        got.dispose();
        golden.value_head.values[caseName]!.forEach((want, batch) => {
          expect(Math.abs((values[batch] as number) - want)).toBeLessThan(1e-3 * Math.max(1, Math.abs(want)));
        });
      }
      head.dispose();
      backbone.dispose();
    });
  }
});
