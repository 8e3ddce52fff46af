import { describeEachBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installWebGpuFusedKernels } from "../tfjs-backends/webgpu-fused-kernels.js";
import { installWebGpuSoftmax } from "../tfjs-backends/webgpu-softmax.js";
import type { DecoderBackbone } from "./decoder-backbone.js";
import {
  type GoldenExpected,
  type GoldenMatrix,
  goldenDecoderModels,
  goldenDecoderPath,
  readGoldenExpected,
} from "./golden-decoders.test-helper.js";
import { rmsNorm } from "./layers/rms-norm.js";
import { applyRotaryEmbedding, ropeCosSin, ropeInverseFrequencies } from "./layers/rotary-embedding.js";
import { loadPretrained } from "./load-pretrained.js";
import { readSafetensorsFile } from "./safetensors/read-safetensors.js";

/** Largest |got − want| / max(1, |want|) (or absolute when `relative` is false) over non-null rows. */
function worst(got: number[][][], want: GoldenMatrix[], relative: boolean): number {
  let max = 0;
  want.forEach((rows, batch) => {
    rows.forEach((row, position) => {
      if (row === null) return;
      const gotRow = got[batch]?.[position] as number[];
      row.forEach((value, index) => {
        const diff = Math.abs((gotRow[index] as number) - value);
        max = Math.max(max, relative ? diff / Math.max(1, Math.abs(value)) : diff);
      });
    });
  });
  return max;
}

// Also on webgpu (where an adapter exists), so every read here is asynchronous.
describeEachBackend(
  "golden decoders",
  (backend) => {
    // What selectBackend installs on webgpu: a Softmax that keeps fully masked rows finite, and the
    // fused WGSL kernels (here RMSNorm and the rotary embedding run fused).
    beforeAll(() => {
      if (backend === "webgpu") {
        installWebGpuSoftmax();
        expect(installWebGpuFusedKernels()).toBe(true);
      }
    });
    for (const model of goldenDecoderModels) {
      describe(model, () => {
        const folder = goldenDecoderPath(model);
        let expected: GoldenExpected;
        let backbone: DecoderBackbone;

        beforeAll(async () => {
          expected = readGoldenExpected(model);
          backbone = await loadPretrained(folder, { mode: "frozen" });
        });
        afterAll(() => backbone?.dispose());

        for (const caseName of ["right_padding", "left_padding"] as const) {
          it(`${caseName}: hidden states, logits and the value head at real positions`, async () => {
            const testCase = expected.cases[caseName];
            const inputs = {
              inputIds: tf.tensor2d(testCase.input_ids, undefined, "int32"),
              attentionMask: tf.tensor2d(testCase.attention_mask, undefined, "int32"),
              positionIds: testCase.position_ids_passed
                ? tf.tensor2d(testCase.position_ids, undefined, "int32")
                : undefined,
            };
            const before = tf.memory().numTensors;
            const { hiddenStates, logits } = await backbone.forward(inputs);
            expect(tf.memory().numTensors).toBe(before + 2);
            const hidden = (await hiddenStates.array()) as number[][][];
            expect(worst(hidden, testCase.hidden_states, false)).toBeLessThanOrEqual(1e-4);
            expect(worst((await logits.array()) as number[][][], testCase.logits, true)).toBeLessThanOrEqual(
              1e-3,
            );
            const { weight, bias, values } = expected.value_head;
            testCase.last_real_index.forEach((last, batch) => {
              const state = hidden[batch]?.[last] as number[];
              const value = state.reduce((sum, x, index) => sum + x * (weight[index] as number), bias);
              const want = values[caseName]?.[batch] as number;
              expect(Math.abs(value - want)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want)));
            });
            tf.dispose([hiddenStates, logits, inputs.inputIds, inputs.attentionMask]);
            if (inputs.positionIds) inputs.positionIds.dispose();
          });
        }

        it("forwardHidden equals forward's hidden states", async () => {
          const testCase = expected.cases.left_padding;
          const difference = tf.tidy(() => {
            const inputs = {
              inputIds: tf.tensor2d(testCase.input_ids, undefined, "int32"),
              attentionMask: tf.tensor2d(testCase.attention_mask, undefined, "int32"),
            };
            const hidden = backbone.forwardHidden(inputs);
            const both = backbone.forwardSync(inputs);
            return tf.max(tf.abs(tf.sub(hidden, both.hiddenStates)));
          });
          expect((await difference.data())[0]).toBe(0);
          difference.dispose();
        });

        it("debug.layers_seq0: residual stream after every attention and MLP block", async () => {
          const tokens = expected.cases.right_padding.input_ids[0]?.slice(
            0,
            expected.debug.embedding_seq0.length,
          ) as number[];
          const { hiddenStates, layers } = backbone.forwardWithTrace({
            inputIds: tf.tensor2d([tokens], undefined, "int32"),
          });
          for (const [index, want] of expected.debug.layers_seq0.entries()) {
            const got = layers[index] as { afterAttention: tf.Tensor; afterMlp: tf.Tensor };
            expect(
              worst((await got.afterAttention.array()) as number[][][], [want.after_attention], true),
            ).toBeLessThanOrEqual(1e-4);
            expect(
              worst((await got.afterMlp.array()) as number[][][], [want.after_mlp], true),
            ).toBeLessThanOrEqual(1e-4);
          }
          tf.dispose([hiddenStates, ...layers.flatMap((layer) => [layer.afterAttention, layer.afterMlp])]);
        });

        it("unit.rms_norm with model.norm.weight (eps inside the square root)", async () => {
          const file = await readSafetensorsFile(`${folder}/model.safetensors`);
          const { x, y, eps } = expected.unit.rms_norm;
          const normed = tf.tidy(() =>
            rmsNorm(tf.tensor2d(x), tf.tensor1d(file.float32("model.norm.weight")), eps),
          );
          const got = await normed.array();
          normed.dispose();
          const diffs = (got as number[][]).flatMap((row, r) =>
            row.map((v, c) => Math.abs(v - (y[r]?.[c] as number))),
          );
          expect(Math.max(...diffs)).toBeLessThanOrEqual(1e-4);
        });

        it("unit.rope and debug.rope_inv_freq / rope_cos / rope_sin", async () => {
          const { positions, q, q_rotated } = expected.unit.rope;
          const { headDim, ropeTheta } = backbone.config;
          const inverse = ropeInverseFrequencies(headDim, ropeTheta);
          const wantInverse = expected.debug.rope_inv_freq.flat().slice(0, headDim / 2);
          inverse.forEach((value, index) => {
            expect(Math.abs(value - (wantInverse[index] as number))).toBeLessThanOrEqual(
              5e-6 * Math.abs(value),
            ); // 6 significant digits
          });
          const rotatedTensor = tf.tidy(() => {
            const { cos, sin } = ropeCosSin(tf.tensor2d([positions], undefined, "int32"), inverse); // [1, 1, P, d]
            const vector = tf.tile(tf.tensor(q, [1, 1, 1, headDim]), [1, 1, positions.length, 1]); // [1, 1, P, d]
            return tf.reshape(applyRotaryEmbedding(vector, cos, sin), [positions.length, headDim]);
          });
          const rotated = (await rotatedTensor.array()) as number[][];
          rotatedTensor.dispose();
          const diffs = rotated.flatMap((row, r) =>
            row.map((v, c) => Math.abs(v - (q_rotated[r]?.[c] as number))),
          );
          expect(Math.max(...diffs)).toBeLessThanOrEqual(1e-4);
          const [cosTable, sinTable] = tf.tidy(() => {
            const { cos, sin } = ropeCosSin(
              tf.tensor2d([[...Array(16).keys()]], undefined, "int32"),
              inverse,
            );
            return [tf.reshape(cos, [16, headDim]), tf.reshape(sin, [16, headDim])];
          });
          const table = {
            cos: (await cosTable!.array()) as number[][],
            sin: (await sinTable!.array()) as number[][],
          };
          tf.dispose([cosTable!, sinTable!]);
          for (const [got, want] of [
            [table.cos, expected.debug.rope_cos],
            [table.sin, expected.debug.rope_sin],
          ] as const) {
            const diffs = got.flatMap((row, r) => row.map((v, c) => Math.abs(v - (want[r]?.[c] as number))));
            expect(Math.max(...diffs)).toBeLessThanOrEqual(1e-5);
          }
        });
      });
    }
  },
  { webgpu: true },
);

// mistral-long: a window of W = 4 on each of L = 3 layers, so a position's output depends on itself
// and the L·(W − 1) = 9 positions before it, and on nothing further back. A window one key too wide
// (t − s ≤ W) or too narrow moves that boundary by L positions, so the first token's reach tells.
describeEachBackend("sliding window beyond its span (golden mistral-long)", () => {
  const model = "mistral-long";
  let expected: GoldenExpected;
  let backbone: DecoderBackbone;
  let reach: number;

  beforeAll(async () => {
    expected = readGoldenExpected(model);
    backbone = await loadPretrained(goldenDecoderPath(model), { mode: "full" });
    const { slidingWindow, layerSlidingWindows, numHiddenLayers } = backbone.config;
    expect(slidingWindow).toBe(4);
    expect(layerSlidingWindows).toEqual([4, 4, 4]);
    reach = numHiddenLayers * ((slidingWindow as number) - 1);
  });
  afterAll(() => backbone?.dispose());

  /** The longest sequence, its first token replaced by an id the row does not otherwise hold, padded on `side` with `pads` pads. */
  function row(side: "left" | "right", pads: number) {
    const tokens = [...(expected.sequences[0] as number[])];
    const fresh = [...Array(backbone.config.vocabSize).keys()].find(
      (id) => id >= 3 && !tokens.includes(id),
    ) as number; // ids 0-2 are pad, bos, eos
    const changed = [fresh, ...tokens.slice(1)];
    const pad = new Array<number>(pads).fill(0);
    const place = (ids: number[]) => (side === "left" ? [...pad, ...ids] : [...ids, ...pad]);
    const mask = place(new Array<number>(tokens.length).fill(1));
    const positions =
      side === "left" ? [...pad, ...tokens.map((_, index) => index)] : mask.map((_, index) => index);
    return {
      original: place(tokens),
      changed: place(changed),
      mask,
      positions,
      first: side === "left" ? pads : 0,
      length: tokens.length,
      fresh,
    };
  }

  for (const [side, pads] of [
    ["right", 0],
    ["right", 5],
    ["left", 7],
  ] as const) {
    it(`${side} padding (${pads} pads): a changed first token moves the outputs of the next 9 positions and none beyond`, async () => {
      const r = row(side, pads);
      const run = (ids: number[]) =>
        backbone.forwardHidden({
          inputIds: tf.tensor2d([ids], undefined, "int32"),
          attentionMask: tf.tensor2d([r.mask], undefined, "int32"),
          positionIds: tf.tensor2d([r.positions], undefined, "int32"),
        });
      const [before, after] = [run(r.original), run(r.changed)];
      const diff = (await tf.abs(tf.sub(before, after)).array()) as number[][][];
      tf.dispose([before, after]);
      const moved = (diff[0] as number[][]).map((values) => Math.max(...values));
      for (let offset = 0; offset < r.length; offset++) {
        const change = moved[r.first + offset] as number;
        if (offset <= reach) expect(change, `position ${offset}`).toBeGreaterThan(1e-3);
        else expect(change, `position ${offset}`).toBe(0);
      }
    });
  }

  it("training path: gradients reach the first token's embedding row from positions up to the reach, not beyond", () => {
    const embedding = backbone.trainableVariables.find((variable) =>
      variable.name.endsWith("model.embed_tokens.weight"),
    ) as tf.Variable;
    for (const [side, pads] of [
      ["right", 3],
      ["left", 4],
    ] as const) {
      const r = row(side, pads);
      const gradientRow = (from: number, to: number): number =>
        tf.tidy(() => {
          const inputs = {
            inputIds: tf.tensor2d([r.changed], undefined, "int32"),
            attentionMask: tf.tensor2d([r.mask], undefined, "int32"),
            positionIds: tf.tensor2d([r.positions], undefined, "int32"),
          };
          const { grads } = tf.variableGrads(() => {
            const hidden = backbone.forwardHidden(inputs);
            const slice = tf.slice(hidden, [0, r.first + from, 0], [1, to - from, -1]);
            return tf.sum(tf.mul(slice, tf.sin(tf.reshape(tf.range(1, slice.size + 1), slice.shape))));
          }, [embedding]);
          const rowGradient = tf.gather(grads[embedding.name] as tf.Tensor, [r.fresh]);
          return tf.max(tf.abs(rowGradient)).dataSync()[0] as number;
        });
      expect(gradientRow(reach, reach + 1), `${side}: position ${reach}`).toBeGreaterThan(1e-4);
      expect(gradientRow(reach + 1, r.length), `${side}: positions after ${reach}`).toBe(0);
    }
  });
});
