import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecoderBackbone } from "../backbone/decoder-backbone.js";
import { resolveDecoderConfig } from "../backbone/model-registry.js";
import { buildDecoderGraph } from "./decoder-onnx-graph.js";
import { exportBackboneToOnnx } from "./export-onnx.js";
import { OnnxDecoderSession } from "./onnx-decoder-session.js";
import { OnnxExportError } from "./onnx-export-error.js";
import { decodeOnnxModel } from "./onnx-schema.js";

let scratch = "";
beforeAll(async () => {
  await useBackend("cpu");
  scratch = mkdtempSync(join(tmpdir(), "pqm-onnx-graph-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Large random weights (as the golden fixtures use) so that a wrong convention shows; biases non-zero. */
function randomBackbone(json: Record<string, unknown>): DecoderBackbone {
  const config = resolveDecoderConfig(json, "<test config>");
  let seed = 1;
  return new DecoderBackbone(config, (name, shape) =>
    name.includes("norm")
      ? tf.add(1, tf.randomNormal(shape, 0, 0.1, "float32", seed++))
      : tf.randomNormal(shape, 0, 0.2, "float32", seed++),
  );
}

const base = { vocab_size: 97, max_position_embeddings: 64, rms_norm_eps: 1e-5 };
const variants: Record<string, Record<string, unknown>> = {
  "llama, biases everywhere, llama3 RoPE scaling, head_dim != hidden/heads, untied": {
    ...base,
    model_type: "llama",
    hidden_size: 48,
    intermediate_size: 80,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    attention_bias: true,
    mlp_bias: true,
    tie_word_embeddings: false,
    rope_theta: 500000,
    rope_scaling: {
      rope_type: "llama3",
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8,
    },
  },
  "mistral, sliding window 4, tied": {
    ...base,
    model_type: "mistral",
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    sliding_window: 4,
    tie_word_embeddings: true,
  },
  "qwen2, sliding window 3 on layers 1 and 2 only (use_sliding_window, max_window_layers 1)": {
    ...base,
    model_type: "qwen2",
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 3,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    use_sliding_window: true,
    sliding_window: 3,
    max_window_layers: 1,
    tie_word_embeddings: true,
  },
  "qwen2, one query head per kv head, linear RoPE scaling": {
    ...base,
    model_type: "qwen2",
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 2,
    rope_scaling: { type: "linear", factor: 2 },
  },
};

const lengths = [9, 5, 12];

function paddedBatch(side: "left" | "right", vocab: number) {
  const sequence = Math.max(...lengths);
  const inputIds = new Int32Array(lengths.length * sequence);
  const attentionMask = new Int32Array(lengths.length * sequence);
  const positionIds = new Int32Array(lengths.length * sequence);
  lengths.forEach((length, row) => {
    const offset = side === "left" ? sequence - length : 0;
    for (let index = 0; index < length; index++) {
      const at = row * sequence + offset + index;
      inputIds[at] = 1 + ((row * 31 + index * 17) % (vocab - 1));
      attentionMask[at] = 1;
      positionIds[at] = index;
    }
  });
  return { batch: lengths.length, sequence, inputIds, attentionMask, positionIds };
}

describe("decoder graph vs the TF.js decoder", () => {
  for (const [title, json] of Object.entries(variants)) {
    for (const side of ["right", "left"] as const) {
      it(`${title}, ${side} padding`, async () => {
        const backbone = randomBackbone(json);
        const path = join(
          scratch,
          `${json.model_type as string}-${Object.keys(variants).indexOf(title)}-${side}.onnx`,
        );
        await exportBackboneToOnnx(backbone, path, { logits: true });
        const batch = paddedBatch(side, backbone.config.vocabSize);
        const shape: [number, number] = [batch.batch, batch.sequence];
        const inputs = {
          inputIds: tf.tensor2d(batch.inputIds, shape, "int32"),
          attentionMask: tf.tensor2d(batch.attentionMask, shape, "int32"),
          positionIds: tf.tensor2d(batch.positionIds, shape, "int32"),
        };
        const { hiddenStates, logits } = backbone.forwardSync(inputs);
        tf.dispose(Object.values(inputs));
        const wantHidden = hiddenStates.dataSync();
        const wantLogits = logits.dataSync();
        tf.dispose([hiddenStates, logits]);
        const { hiddenSize, vocabSize } = backbone.config;
        backbone.dispose();

        const session = await OnnxDecoderSession.open(path, { threads: 2 });
        const got = await session.run(batch, ["hidden_states", "logits"]);
        await session.release();
        let hiddenWorst = 0;
        let logitWorst = 0;
        let largest = 0;
        for (let token = 0; token < batch.batch * batch.sequence; token++) {
          if (batch.attentionMask[token] === 0) continue;
          for (let h = 0; h < hiddenSize; h++) {
            const at = token * hiddenSize + h;
            hiddenWorst = Math.max(hiddenWorst, Math.abs(got.hidden_states.data[at]! - wantHidden[at]!));
          }
          for (let v = 0; v < vocabSize; v++) {
            const at = token * vocabSize + v;
            largest = Math.max(largest, Math.abs(wantLogits[at]!));
            logitWorst = Math.max(
              logitWorst,
              Math.abs(got.logits.data[at]! - wantLogits[at]!) / Math.max(1, Math.abs(wantLogits[at]!)),
            );
          }
        }
        expect(largest).toBeGreaterThan(1); // the comparison is not of near-zero numbers
        expect(hiddenWorst).toBeLessThanOrEqual(1e-4);
        expect(logitWorst).toBeLessThanOrEqual(1e-3);
      });
    }
  }
});

describe("the exported file", () => {
  it("is an opset-17 ModelProto with dynamic batch and sequence axes and float32 raw_data initializers", async () => {
    const backbone = randomBackbone(variants["mistral, sliding window 4, tied"]!);
    const path = join(scratch, "decoded.onnx");
    const result = await exportBackboneToOnnx(backbone, path);
    const embedding = backbone.namedWeights().get("model.embed_tokens.weight")!;
    const embeddingValues = embedding.dataSync();
    embedding.dispose();
    backbone.dispose();
    const model = decodeOnnxModel(readFileSync(path)) as {
      irVersion: number;
      opsetImport: { version: number }[];
      metadataProps: { key: string; value: string }[];
      graph: {
        input: { name: string; type: { tensorType: { elemType: number; shape: { dim: object[] } } } }[];
        output: { name: string }[];
        initializer: { name: string; dims: number[]; dataType: number; rawData: Uint8Array }[];
      };
    };
    expect(result.bytes).toBe(readFileSync(path).byteLength);
    expect(model.irVersion).toBe(8);
    expect(model.opsetImport.map((entry) => entry.version)).toEqual([17]);
    expect(model.graph.input.map((input) => input.name)).toEqual(["input_ids", "attention_mask"]);
    expect(model.graph.input[0]!.type.tensorType.elemType).toBe(7); // int64
    expect(model.graph.input[0]!.type.tensorType.shape.dim).toEqual([
      { dimParam: "batch" },
      { dimParam: "sequence" },
    ]);
    expect(model.graph.output.map((output) => output.name)).toEqual(["hidden_states"]);
    expect(Object.fromEntries(model.metadataProps.map((entry) => [entry.key, entry.value]))).toMatchObject({
      "pqm.format": "pqm-onnx/1",
      "pqm.model_type": "mistral",
      "pqm.hidden_size": "32",
    });
    const table = model.graph.initializer.find((entry) => entry.name === "model.embed_tokens.weight")!;
    expect(table.dims).toEqual([97, 32]);
    expect(table.dataType).toBe(1);
    const stored = new Float32Array(Uint8Array.from(table.rawData).buffer);
    expect(Array.from(stored)).toEqual(Array.from(embeddingValues));
  });

  it("consumes the weights it is given layer by layer, so their arrays can be freed during the build", () => {
    const backbone = randomBackbone(variants["mistral, sliding window 4, tied"]!);
    const weights = new Map<string, Float32Array>();
    for (const [name, tensor] of backbone.namedWeights()) {
      weights.set(name, tensor.dataSync() as Float32Array);
      tensor.dispose();
    }
    const layerNames = [...weights.keys()].filter((name) => name.startsWith("model.layers."));
    expect(layerNames.length).toBeGreaterThan(0);
    const graph = buildDecoderGraph(backbone, { weights });
    backbone.dispose();
    // What the graph shares as is (the embedding table, the final norm) may stay; no layer's source array does.
    expect([...weights.keys()].filter((name) => name.startsWith("model.layers."))).toEqual([]);
    expect(graph.weightBytes).toBeGreaterThan(0);
  });

  it("refuses a model type the export does not handle, naming it, and writes nothing", async () => {
    const config = resolveDecoderConfig(
      { ...variants["mistral, sliding window 4, tied"]!, model_type: "llama" },
      "<t>",
    );
    const backbone = new DecoderBackbone({ ...config, modelType: "gemma" }, (_, shape) => tf.zeros(shape));
    const path = join(scratch, "gemma.onnx");
    const attempt = exportBackboneToOnnx(backbone, path);
    await expect(attempt).rejects.toThrow(OnnxExportError);
    await expect(attempt).rejects.toThrow(/model_type 'gemma'.*supported: llama, mistral, qwen2/);
    backbone.dispose();
    expect(existsSync(path)).toBe(false);
  });

  it("a session refuses a file that is not an exported decoder, and bad batches, naming the problem", async () => {
    await expect(OnnxDecoderSession.open(Uint8Array.of(1, 2, 3, 4))).rejects.toThrow(
      /<memory>: ONNX Runtime cannot load/,
    );
    const backbone = randomBackbone(variants["qwen2, one query head per kv head, linear RoPE scaling"]!);
    const path = join(scratch, "bad-input.onnx");
    await exportBackboneToOnnx(backbone, path);
    backbone.dispose();
    const session = await OnnxDecoderSession.open(path);
    await expect(
      session.run({ batch: 1, sequence: 3, inputIds: [1, 2], attentionMask: [1, 1, 1] }, ["hidden_states"]),
    ).rejects.toThrow(/batch x sequence = 3 values, got 2 and 3/);
    await expect(
      session.run({ batch: 1, sequence: 2, inputIds: [1, 2], attentionMask: [1, 1] }, ["logits"]),
    ).rejects.toThrow(/no output 'logits'/);
    await expect(
      session.run({ batch: 1, sequence: 2, inputIds: [1, 500], attentionMask: [1, 1] }, ["hidden_states"]),
    ).rejects.toThrow(/bad-input\.onnx: ONNX Runtime failed on a \[1, 2\] batch/);
    await session.release();
  });
});
