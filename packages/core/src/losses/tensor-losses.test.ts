import { describeEachBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { expect, it } from "vitest";
import { type LossName, lossNames } from "./loss-definitions.js";
import { getLoss } from "./loss-registry.js";
import { lossTestVectors } from "./loss-test-vectors.js";
import { referenceLoss } from "./reference-losses.js";
import { PQM_RANKING_LOSS_KERNEL } from "./tensor-losses.js";

const P = -100;

interface Batch {
  scores: number[][];
  labels: number[][];
}

/** A label row of one of the shapes worth covering, padded to `steps` with -100. */
const labelRow = (steps: number, soft: boolean) =>
  fc
    .record({
      length: fc.integer({ min: 0, max: steps }),
      pattern: fc.constantFrom("random", "all-correct", "all-wrong", "monotone", "one-wrong-then-correct"),
      seed: fc.array(fc.constantFrom(0, 1), { minLength: steps, maxLength: steps }),
      softValues: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), {
        minLength: steps,
        maxLength: steps,
      }),
      cut: fc.integer({ min: 0, max: steps }),
    })
    .map(({ length, pattern, seed, softValues, cut }) => {
      const row: number[] = [];
      for (let i = 0; i < steps; i++) {
        if (i >= length) {
          row.push(P);
          continue;
        }
        if (soft && pattern === "random") row.push(softValues[i]!);
        else if (pattern === "all-correct") row.push(1);
        else if (pattern === "all-wrong") row.push(0);
        else if (pattern === "monotone") row.push(i < cut ? 1 : 0);
        else if (pattern === "one-wrong-then-correct") row.push(i === cut ? 0 : 1);
        else row.push(seed[i]!);
      }
      return row;
    });

/** Seeded random padded batches: rows of length 0 (all padding) to `steps`, junk scores under padding. */
function randomBatches(soft: boolean, count: number, seed: number): Batch[] {
  const batch = fc
    .record({ rows: fc.integer({ min: 1, max: 5 }), steps: fc.integer({ min: 1, max: 7 }) })
    .chain(({ rows, steps }) =>
      fc.record({
        labels: fc.array(labelRow(steps, soft), { minLength: rows, maxLength: rows }),
        scores: fc.array(
          fc.array(fc.double({ min: -12, max: 12, noNaN: true }), { minLength: steps, maxLength: steps }),
          { minLength: rows, maxLength: rows },
        ),
      }),
    );
  return fc.sample(batch, { seed, numRuns: count });
}

// The labels go to the loss as host values too (what training loops do), so nothing is read back
// synchronously: WebGPU in Node cannot.
async function tensorLoss(name: LossName, batch: Batch, zeta = 4): Promise<number> {
  const loss = getLoss(name, { zeta });
  const value = tf.tidy(() =>
    loss(tf.tensor2d(batch.scores), tf.tensor2d(batch.labels), batch.labels.flat()),
  );
  const read = (await value.data())[0]!;
  value.dispose();
  return read;
}

async function tensorGradient(
  name: LossName,
  batch: Batch,
  zeta = 4,
): Promise<{ value: number; gradient: number[][] }> {
  const loss = getLoss(name, { zeta });
  const { value, grad } = tf.tidy(() => {
    const labels = tf.tensor2d(batch.labels);
    return tf.valueAndGrad((scores: tf.Tensor) => loss(scores as tf.Tensor2D, labels, batch.labels.flat()))(
      tf.tensor2d(batch.scores),
    );
  });
  const result = { value: (await value.data())[0]!, gradient: (await grad.array()) as number[][] };
  tf.dispose([value, grad]);
  return result;
}

const isSoft = (name: LossName) => name === "bce" || name === "mse";

describeEachBackend(
  "tensor losses",
  (backend) => {
    for (const vector of lossTestVectors) {
      it(`${vector.title}: ${vector.loss} = ${vector.expected.toFixed(6)}`, async () => {
        const value = await tensorLoss(vector.loss, vector, vector.zeta ?? 4);
        expect(Math.abs(value - vector.expected)).toBeLessThan(1e-5);
      });
    }

    // WebGPU on lavapipe (CI) compiles a shader per new shape: a tenth of the batches there.
    const perLoss = backend === "webgpu" ? 6 : 60;
    it(`equal the references on ${perLoss * lossNames.length} seeded random padded batches`, async () => {
      let compared = 0;
      for (const [index, name] of lossNames.entries()) {
        for (const batch of randomBatches(isSoft(name), perLoss, 100 + index)) {
          const zeta = [0, 2, 4, 8][compared % 4]!;
          const expected = referenceLoss(name, batch.scores, batch.labels, { zeta });
          const value = await tensorLoss(name, batch, zeta);
          // float32 against float64: relative 1e-5 of the loss plus 1e-5.
          expect(Math.abs(value - expected), `${name} zeta=${zeta} ${JSON.stringify(batch)}`).toBeLessThan(
            1e-5 + 1e-5 * Math.abs(expected),
          );
          compared++;
        }
      }
      expect(compared).toBe(perLoss * lossNames.length);
    });

    it("have gradients equal to central finite differences of the reference (float64)", async () => {
      const step = 1e-5;
      for (const [index, name] of lossNames.entries()) {
        for (const batch of randomBatches(isSoft(name), backend === "webgpu" ? 2 : 4, 900 + index)) {
          const { gradient } = await tensorGradient(name, batch, 3);
          batch.scores.forEach((row, i) => {
            row.forEach((_, j) => {
              const plus = batch.scores.map((r) => r.slice());
              const minus = batch.scores.map((r) => r.slice());
              plus[i]![j]! += step;
              minus[i]![j]! -= step;
              const numeric =
                (referenceLoss(name, plus, batch.labels, { zeta: 3 }) -
                  referenceLoss(name, minus, batch.labels, { zeta: 3 })) /
                (2 * step);
              const analytic = gradient[i]![j]!;
              expect(Math.abs(analytic - numeric), `${name} d/dscores[${i}][${j}]`).toBeLessThan(
                2e-5 + 1e-3 * Math.abs(numeric),
              );
            });
          });
        }
      }
    });

    it("give finite losses and gradients for scores of +-100", async () => {
      const batch: Batch = {
        scores: [
          [100, -100, 100, -100, 100],
          [-100, -100, -100, 100, 100],
          [100, 100, -100, -100, 0],
          [-100, 100, -100, 100, -100],
        ],
        labels: [
          [1, 0, 1, 0, 1],
          [1, 1, 0, 0, P],
          [0, 0, 1, 1, 1],
          [1, 1, 1, 1, 1],
        ],
      };
      for (const name of lossNames) {
        const { value, gradient } = await tensorGradient(name, batch);
        expect(Number.isFinite(value), name).toBe(true);
        expect(gradient.flat().every(Number.isFinite), name).toBe(true);
        const expected = referenceLoss(name, batch.scores, batch.labels);
        expect(Math.abs(value - expected), name).toBeLessThan(1e-4 + 1e-5 * Math.abs(expected));
      }
    });

    it("give zero gradient to padded positions and 0 for an all-padding batch", async () => {
      for (const name of lossNames) {
        const { gradient } = await tensorGradient(name, { scores: [[1, 2, 3]], labels: [[1, 0, P]] });
        expect(gradient[0]![2], name).toBe(0);
        const empty = await tensorGradient(name, { scores: [[1, 2]], labels: [[P, P]] });
        expect(empty.value, name).toBe(0);
        expect(empty.gradient.flat(), name).toEqual([0, 0]);
      }
    });

    it("accept int32 labels and leak no tensors", async () => {
      const loss = getLoss("pqm");
      const scores = tf.tensor2d([[1, 2, 3, -1]]);
      const labels = tf.tensor2d([[1, 1, 1, 0]], [1, 4], "int32");
      const before = tf.memory().numTensors;
      const value = loss(scores, labels);
      expect(tf.memory().numTensors).toBe(before + 1);
      expect((await value.data())[0]).toBeCloseTo(1.898974, 5);
      tf.dispose([scores, labels, value]);
    });

    it("reject bad input with the same messages as the references", () => {
      const loss = getLoss("pqm");
      tf.tidy(() => {
        expect(() => loss(tf.tensor2d([[0, 0, 0]]), tf.tensor2d([[1, 0.5, 1]]))).toThrow(
          "labels[0][1] = 0.5: the pqm losses take hard labels 0 or 1 (or -100 for padding)",
        );
        expect(() =>
          loss(
            tf.tensor2d([
              [0, 0],
              [0, 0],
            ]),
            tf.tensor2d([
              [1, 1],
              [1, 2],
            ]),
          ),
        ).toThrow("labels[1][1] = 2");
        expect(() => loss(tf.tensor2d([[0, 0, 0]]), tf.tensor2d([[1, 0]]))).toThrow(
          "loss 'pqm': scores [1, 3] and labels [1, 2] differ in shape",
        );
        expect(() => getLoss("orm")(tf.tensor2d([[0]]), tf.tensor2d([[0.3]]))).toThrow(
          "loss 'orm' takes hard labels",
        );
        expect(() => getLoss("bce")(tf.tensor2d([[0]]), tf.tensor2d([[1.2]]))).toThrow("labels in [0, 1]");
        expect(() => loss(tf.tensor1d([0]) as unknown as tf.Tensor2D, tf.tensor2d([[1]]))).toThrow(
          "must be [batch, steps] matrices, got scores [1] and labels [1, 1]",
        );
      });
      expect(() => getLoss("pqm", { zeta: -0.5 })).toThrow("zeta = -0.5");
      expect(() => getLoss("pqm", { zeta: Number.NaN })).toThrow("zeta = NaN");
      expect(() => getLoss("nce")).toThrow("loss = 'nce': unknown loss");
    });

    it("check labels from their host values when given, without reading the tensor", async () => {
      const loss = getLoss("pqm");
      const labels = [[1, 1, 1, 0]];
      const withValues = tf.tidy(() =>
        loss(tf.tensor2d([[1, 2, 3, -1]]), tf.tensor2d(labels), labels.flat()),
      );
      expect((await withValues.data())[0]).toBeCloseTo(1.898974, 5);
      withValues.dispose();
      tf.tidy(() => {
        // The host values are what is checked (here they disagree with the tensor on purpose).
        expect(() => loss(tf.tensor2d([[0, 0]]), tf.tensor2d([[1, 0]]), [1, 0.5])).toThrow(
          "labels[0][1] = 0.5",
        );
        expect(() => loss(tf.tensor2d([[0, 0]]), tf.tensor2d([[1, 0]]), [1, 0, 1])).toThrow(
          "loss 'pqm': labelValues holds 3 numbers, the labels [1, 2] 2",
        );
      });
      if (backend === "webgpu") {
        // Labels already on the device cannot be read back synchronously: the error says what to pass.
        // (More than the backend's 1,000-element hand-off to the CPU, and never read: it stays there.)
        const onDevice = tf.tidy(() => tf.mul(tf.ones([2, 1024]), 1));
        const scores = tf.zeros([2, 1024]) as tf.Tensor2D;
        expect(() => loss(scores, onDevice as tf.Tensor2D)).toThrow(
          /loss 'pqm': the labels cannot be read back synchronously on this backend .*pass their values as the loss's third argument, labelValues/,
        );
        tf.dispose([onDevice, scores]);
      }
    });
  },
  { webgpu: true },
);

// The fused path of getLoss("pqm"): where the active backend registers PQM_RANKING_LOSS_KERNEL, the
// loss is the kernel's first output and its gradient the kernel's second times the upstream gradient.
// A cpu kernel computing both in float64 (the reference loss, central differences) stands in for a
// backend's here; @pqm/model tests its webgpu kernel against the composed loss.
it("uses a backend's fused PQM loss kernel, and scales its gradient by the upstream one", async () => {
  await tf.setBackend("cpu");
  const batch = {
    scores: [
      [0.5, -1, 2, 0.25],
      [1, 1.5, 0, 0],
    ],
    labels: [
      [1, 0, 1, 0],
      [1, 1, P, P],
    ],
  };
  let calls = 0;
  tf.registerKernel({
    kernelName: PQM_RANKING_LOSS_KERNEL,
    backendName: "cpu",
    kernelFunc: ({ inputs, backend, attrs }) => {
      calls++;
      const cpu = backend as unknown as {
        readSync(dataId: object): Float32Array;
        makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
      };
      const scores = inputs.scores as tf.TensorInfo;
      const [rows, steps] = scores.shape as [number, number];
      const flat = Array.from(cpu.readSync(scores.dataId));
      const labels = Array.from(cpu.readSync((inputs.labels as tf.TensorInfo).dataId));
      const reshape = (values: number[]) =>
        Array.from({ length: rows }, (_, row) => values.slice(row * steps, (row + 1) * steps));
      const lossOf = (values: number[]) =>
        referenceLoss("pqm", reshape(values), reshape(labels), { zeta: attrs?.zeta as number });
      const gradient = flat.map((_, index) => {
        const up = [...flat];
        const down = [...flat];
        up[index]! += 1e-4;
        down[index]! -= 1e-4;
        return (lossOf(up) - lossOf(down)) / 2e-4;
      });
      return [
        cpu.makeTensorInfo([1], "float32", Float32Array.of(lossOf(flat))),
        cpu.makeTensorInfo([rows, steps], "float32", Float32Array.from(gradient)),
      ];
    },
  });
  try {
    const scores = tf.tensor2d(batch.scores);
    const labels = tf.tensor2d(batch.labels);
    const loss = getLoss("pqm", { zeta: 2 });
    const { value, grads } = tf.valueAndGrads((input: tf.Tensor) =>
      tf.mul(loss(input as tf.Tensor2D, labels), 3),
    )([scores]);
    expect(calls).toBe(1);
    const expectedLoss = referenceLoss("pqm", batch.scores, batch.labels, { zeta: 2 });
    expect((await value.data())[0]).toBeCloseTo(3 * expectedLoss, 5);
    const gradient = Array.from(await (grads[0] as tf.Tensor).data());
    // Unregistered, the same gradient from the composed loss.
    tf.unregisterKernel(PQM_RANKING_LOSS_KERNEL, "cpu");
    const composed = Array.from(
      await (
        tf.grad((input: tf.Tensor) => tf.mul(loss(input as tf.Tensor2D, labels), 3))(scores) as tf.Tensor
      ).data(),
    );
    expect(calls).toBe(1);
    for (const [index, g] of gradient.entries()) expect(g).toBeCloseTo(composed[index] as number, 3);
    expect(gradient.some((g) => Math.abs(g) > 0.01)).toBe(true);
    tf.dispose([scores, labels, value, ...grads]);
  } finally {
    if (tf.getKernel(PQM_RANKING_LOSS_KERNEL, "cpu") !== undefined)
      tf.unregisterKernel(PQM_RANKING_LOSS_KERNEL, "cpu");
  }
});
