// The work the PyTorch peer times, done with @pqm/model: a Qwen2-style decoder of one of the peer's
// shapes with a scalar value head read at 8 step tags per sequence; a training step is forward, PQM
// loss (zeta 4), backward, global-norm clip, AdamW (lr 1e-4); a scoring pass is forward and head only.
// Random tokens, monotone labels (correct up to a random first mistake), as the peer draws them.
// Shared by bench/run.ts (speed, loss agreement) and bench/levers.ts (kernel profile).
import { getLoss, mulberry32 } from "@pqm/core";
import * as tf from "@tensorflow/tfjs-core";
import type { DecoderBackbone } from "../src/backbone/decoder-backbone.js";
import type { OnnxDecoderTrainer } from "../src/onnx/onnx-training-step.js";
import { stableName } from "../src/prm/process-reward-model.js";
import { ValueHead } from "../src/prm/value-head.js";
import { AdamW } from "../src/training/adamw.js";
import { clipFactor, globalNormTensor } from "../src/training/clip-gradients.js";
import { CONFIGS, type ConfigName, type PeerShape, peerDecoder } from "./peer-configs.js";

export const TAGS_PER_SEQUENCE = 8;

/** One batch as tensors. */
export interface StepBatch {
  inputIds: tf.Tensor2D;
  tagPositions: tf.Tensor2D;
  labels: tf.Tensor2D;
  /** The labels on the host, which the loss checks instead of reading the tensor back. */
  labelValues: Float32Array;
}

/** A model of one peer shape, its optimizer and a few fixed batches. */
export interface StepHarness {
  shape: PeerShape;
  backbone: DecoderBackbone;
  head: ValueHead;
  parameters: number;
  /** Train the decoder through this ONNX Runtime pass (undefined: TF.js's own gradients). */
  useTrainer(trainer: OnnxDecoderTrainer | undefined): void;
  /**
   * One training step on batch `index % batches`; resolves to the loss once the step is finished (one
   * asynchronous read per step, the losses and the gradient norm together, as trainPrm reads them).
   */
  train(index: number): Promise<number>;
  /** One scoring pass on batch `index % batches`; resolves once the scores are read back. */
  score(index: number): Promise<Float32Array>;
  dispose(): void;
}

/** Deterministic batches: the same on every backend (mulberry32, seed 12345). */
export function makeBatches(shape: PeerShape, count: number): StepBatch[] {
  const random = mulberry32(12345);
  return Array.from({ length: count }, () => {
    const ids = Int32Array.from({ length: shape.batch * shape.seq }, () =>
      Math.floor(random() * shape.vocab),
    );
    const tags = new Int32Array(shape.batch * TAGS_PER_SEQUENCE);
    const labels = new Float32Array(shape.batch * TAGS_PER_SEQUENCE);
    for (let row = 0; row < shape.batch; row++) {
      const firstWrong = Math.floor(random() * (TAGS_PER_SEQUENCE + 1));
      for (let step = 0; step < TAGS_PER_SEQUENCE; step++) {
        tags[row * TAGS_PER_SEQUENCE + step] = Math.floor(((step + 1) * shape.seq) / TAGS_PER_SEQUENCE) - 1;
        labels[row * TAGS_PER_SEQUENCE + step] = step < firstWrong ? 1 : 0;
      }
    }
    return {
      inputIds: tf.tensor2d(ids, [shape.batch, shape.seq], "int32"),
      tagPositions: tf.tensor2d(tags, [shape.batch, TAGS_PER_SEQUENCE], "int32"),
      labels: tf.tensor2d(labels, [shape.batch, TAGS_PER_SEQUENCE]),
      labelValues: labels,
    };
  });
}

/**
 * Builds the harness on the active backend. `overrides` shrinks a shape (the loss-agreement check
 * runs S's architecture on a smaller batch so that the pure-JS cpu backend finishes).
 */
export function createStepHarness(
  name: ConfigName,
  overrides: Partial<PeerShape> = {},
  options: { microBatches?: number } = {},
): StepHarness {
  const shape: PeerShape = { ...CONFIGS[name], ...overrides };
  const backbone = peerDecoder(name, shape.seq);
  const head = ValueHead.create(shape.hidden, 1);
  const parameters = new Map<string, tf.Variable>();
  for (const variable of backbone.trainableVariables) parameters.set(stableName(variable.name), variable);
  parameters.set("v_head.summary.weight", head.weight);
  parameters.set("v_head.summary.bias", head.bias);
  const list = [...parameters.values()];
  const loss = getLoss("pqm", { zeta: 4 });
  const optimizer = new AdamW();
  const batches = makeBatches(shape, 3);
  const microBatches = options.microBatches ?? 1;
  if (shape.batch % microBatches !== 0)
    throw new Error(`${microBatches} micro-batches do not divide a batch of ${shape.batch}`);
  const rowsPerMicroBatch = shape.batch / microBatches;
  let trainer: OnnxDecoderTrainer | undefined;
  return {
    shape,
    backbone,
    head,
    parameters: backbone.parameterCount() + head.hiddenSize + 1,
    useTrainer(onnx) {
      trainer = onnx;
    },
    async train(index) {
      const batch = batches[index % batches.length]!;
      // The loss is a mean over rows, so the mean of micro-batch gradients is the batch gradient.
      const losses: tf.Tensor[] = [];
      let summed = new Map<string, tf.Tensor>();
      for (let part = 0; part < microBatches; part++) {
        const rows = (tensor: tf.Tensor2D) =>
          microBatches === 1
            ? tensor
            : tf.slice(tensor, [part * rowsPerMicroBatch, 0], [rowsPerMicroBatch, tensor.shape[1]]);
        const labelValues =
          microBatches === 1
            ? batch.labelValues
            : batch.labelValues.subarray(
                part * rowsPerMicroBatch * TAGS_PER_SEQUENCE,
                (part + 1) * rowsPerMicroBatch * TAGS_PER_SEQUENCE,
              );
        let value: tf.Scalar;
        const gradients = new Map<string, tf.Tensor>();
        if (trainer?.lossInGraph === true) {
          // The whole step in one ONNX Runtime run: decoder, value head, PQM loss and their gradients.
          const result = trainer.step({
            inputIds: rows(batch.inputIds),
            tagPositions: rows(batch.tagPositions),
            labels: labelValues,
            head: { weight: head.weight, bias: head.bias },
          });
          for (const [key, gradient] of result.gradients) gradients.set(key, gradient);
          gradients.set("v_head.summary.weight", result.headGradients.weight);
          gradients.set("v_head.summary.bias", result.headGradients.bias);
          value = result.loss;
        } else if (trainer !== undefined) {
          // The decoder on ONNX Runtime: forward, the head and loss in TF.js (their gradients and the
          // hidden state's), then the decoder's backward.
          const pass = trainer.forward({ inputIds: rows(batch.inputIds) });
          const result = tf
            .engine()
            .gradients(
              () => loss(head.apply(pass.hidden, rows(batch.tagPositions)), rows(batch.labels), labelValues),
              [pass.hidden, head.weight, head.bias],
            );
          const [hiddenGradient, weightGradient, biasGradient] = result.grads as [
            tf.Tensor,
            tf.Tensor,
            tf.Tensor,
          ];
          for (const [key, gradient] of trainer.backward(pass, hiddenGradient)) gradients.set(key, gradient);
          tf.dispose([pass.hidden, hiddenGradient]);
          gradients.set("v_head.summary.weight", weightGradient);
          gradients.set("v_head.summary.bias", biasGradient);
          value = result.value;
        } else {
          const result = tf.variableGrads(() => {
            const hidden = backbone.forwardHidden({ inputIds: rows(batch.inputIds) });
            // No dropout: the value head's dropout would draw differently on each backend.
            return loss(head.apply(hidden, rows(batch.tagPositions)), rows(batch.labels), labelValues);
          }, list);
          for (const [variableName, gradient] of Object.entries(result.grads))
            if (gradient !== null) gradients.set(stableName(variableName), gradient);
          value = result.value;
        }
        losses.push(tf.reshape(value, [1]));
        value.dispose();
        for (const [key, gradient] of gradients) {
          const previous = summed.get(key);
          if (previous === undefined) summed.set(key, gradient);
          else {
            summed.set(key, tf.add(previous, gradient));
            tf.dispose([previous, gradient]);
          }
        }
      }
      if (microBatches > 1) {
        const averaged = new Map<string, tf.Tensor>();
        for (const [key, gradient] of summed) {
          averaged.set(key, tf.div(gradient, microBatches));
          gradient.dispose();
        }
        summed = averaged;
      }
      const readBack = tf.tidy(() => tf.concat([...losses, tf.reshape(globalNormTensor(summed), [1])]));
      tf.dispose(losses);
      const values = await readBack.data();
      readBack.dispose();
      let lossSum = 0;
      for (let part = 0; part < microBatches; part++) lossSum += values[part] as number;
      // Clipped to norm 1 as the optimizer updates (the same arithmetic as clipToGlobalNorm's).
      optimizer.applyGradients(parameters, summed, 1e-4, {
        gradientScale: clipFactor(1, values[microBatches] as number),
      });
      tf.dispose([...summed.values()]);
      return lossSum / microBatches;
    },
    async score(index) {
      const batch = batches[index % batches.length]!;
      const scores = tf.tidy(() =>
        head.apply(backbone.forwardHidden({ inputIds: batch.inputIds }), batch.tagPositions),
      );
      const values = (await scores.data()) as Float32Array;
      scores.dispose();
      return values;
    },
    dispose() {
      optimizer.dispose();
      backbone.dispose();
      head.dispose();
      for (const batch of batches) tf.dispose([batch.inputIds, batch.tagPositions, batch.labels]);
    },
  };
}
