import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeEachBackend, useBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandomDecoder } from "./create-random-decoder.js";
import type { DecoderBackbone } from "./decoder-backbone.js";
import { goldenDecoderPath } from "./golden-decoders.test-helper.js";
import { loadPretrained } from "./load-pretrained.js";
import { assertFitsMemory, countParameters, estimateMemory, MemoryLimitError } from "./memory-estimate.js";
import { resolveDecoderConfig } from "./model-registry.js";
import { parseSafetensors } from "./safetensors/read-safetensors.js";
import type { Float32TensorData } from "./safetensors/write-safetensors.js";
import { serializeSafetensors, writeSafetensors } from "./safetensors/write-safetensors.js";
import { presetDecoderConfig } from "./size-presets.js";

// A Qwen2-shaped config (biases, untied head, GQA) small enough for quick gradients.
const qwenConfig = {
  model_type: "qwen2",
  vocab_size: 40,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  tie_word_embeddings: false,
  initializer_range: 0.3,
  pad_token_id: 0,
};
const llamaConfig = {
  ...presetDecoderConfig("tiny", 40),
  hidden_size: 16,
  intermediate_size: 24,
  initializer_range: 0.3,
};

const batchInputs = (): { inputIds: tf.Tensor; attentionMask: tf.Tensor } => ({
  inputIds: tf.tensor2d(
    [
      [0, 0, 5, 9, 17, 3],
      [4, 8, 15, 16, 23, 39],
    ],
    undefined,
    "int32",
  ),
  attentionMask: tf.tensor2d(
    [
      [0, 0, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1],
    ],
    undefined,
    "int32",
  ),
});

/** A loss touching hidden states and logits, with fixed pseudo-random weights. */
function loss(backbone: DecoderBackbone): tf.Scalar {
  const { hiddenStates, logits } = backbone.forwardSync(batchInputs());
  const hiddenWeights = tf.sin(tf.reshape(tf.range(0, hiddenStates.size), hiddenStates.shape));
  const logitWeights = tf.cos(tf.reshape(tf.range(0, logits.size), logits.shape));
  return tf.add(
    tf.sum(tf.mul(hiddenStates, hiddenWeights)),
    tf.mul(tf.sum(tf.mul(logits, logitWeights)), 0.1),
  );
}

/** Gradients of `loss` by variable name (scope prefix stripped), as arrays. */
function gradients(backbone: DecoderBackbone): Map<string, Float32Array> {
  const { value, grads } = tf.variableGrads(() => loss(backbone), backbone.trainableVariables);
  value.dispose();
  const out = new Map<string, Float32Array>();
  for (const [name, gradient] of Object.entries(grads)) {
    out.set(name.slice(name.indexOf("/") + 1), gradient.dataSync() as Float32Array);
    gradient.dispose();
  }
  return out;
}

describeEachBackend("DecoderBackbone training", () => {
  for (const [title, config] of [
    ["qwen2 (biases, untied head)", qwenConfig],
    ["llama (tied head)", llamaConfig],
  ] as const) {
    it(`${title}: every trainable variable gets a finite, non-zero gradient`, () => {
      const backbone = createRandomDecoder(config, 7);
      const before = tf.memory().numTensors;
      const grads = gradients(backbone);
      expect(tf.memory().numTensors).toBe(before);
      expect(grads.size).toBe(backbone.trainableVariables.length);
      expect(grads.size).toBe(backbone.allVariables().length);
      for (const [name, values] of grads) {
        expect(values.every(Number.isFinite), name).toBe(true);
        expect(
          values.some((value) => value !== 0),
          name,
        ).toBe(true);
      }
      backbone.dispose();
    });
  }

  it("an SGD step through optimizer.minimize lowers the loss", () => {
    const backbone = createRandomDecoder(qwenConfig, 3);
    const optimizer = tf.train.sgd(0.01);
    const first = tf.tidy(() => loss(backbone).dataSync()[0] as number);
    optimizer.minimize(() => loss(backbone), false, backbone.trainableVariables);
    const second = tf.tidy(() => loss(backbone).dataSync()[0] as number);
    expect(second).toBeLessThan(first);
    optimizer.dispose();
    backbone.dispose();
  });

  it("LoRA: only adapters train, B starts at zero, merged weights equal W + A·B·alpha/rank", () => {
    const base = createRandomDecoder(qwenConfig, 5, { mode: "frozen" });
    const adapted = createRandomDecoder(qwenConfig, 5, {
      lora: { rank: 2, alpha: 4, targetModules: ["q_proj", "down_proj"] },
    });
    expect(base.trainableVariables).toEqual([]);
    expect(adapted.mode).toBe("lora");
    const trainable = adapted.trainableVariables.map((variable) =>
      variable.name.slice(variable.name.indexOf("/") + 1),
    );
    expect(trainable.sort()).toEqual(
      [0, 1].flatMap((layer) =>
        ["mlp.down_proj", "self_attn.q_proj"].flatMap((module) => [
          `model.layers.${layer}.${module}.weight.lora_A`,
          `model.layers.${layer}.${module}.weight.lora_B`,
        ]),
      ),
    );
    tf.tidy(() => {
      const inputs = batchInputs();
      const difference = tf.max(tf.abs(tf.sub(base.forwardHidden(inputs), adapted.forwardHidden(inputs))));
      expect(difference.dataSync()[0]).toBe(0);
    });
    const grads = gradients(adapted);
    for (const [name, values] of grads) {
      // With B = 0 the gradient reaches B only; A's is zero until B moves.
      expect(
        values.some((value) => value !== 0),
        name,
      ).toBe(name.endsWith("lora_B"));
    }
    for (const variable of adapted.trainableVariables) {
      if (variable.name.endsWith("lora_B"))
        variable.assign(tf.randomNormal(variable.shape, 0, 0.5, "float32", 1));
    }
    for (const [name, values] of gradients(adapted)) {
      expect(
        values.some((value) => value !== 0),
        name,
      ).toBe(true);
    }
    const merged = adapted.namedWeights();
    const plain = base.namedWeights();
    const query = "model.layers.0.self_attn.q_proj.weight";
    tf.tidy(() => {
      const a = adapted.trainableVariables.find((v) => v.name.endsWith(`${query}.lora_A`)) as tf.Variable;
      const b = adapted.trainableVariables.find((v) => v.name.endsWith(`${query}.lora_B`)) as tf.Variable;
      const want = tf.add(plain.get(query) as tf.Tensor, tf.transpose(tf.mul(tf.matMul(a, b), 2)));
      expect(tf.max(tf.abs(tf.sub(merged.get(query) as tf.Tensor, want))).dataSync()[0]).toBeLessThan(1e-6);
      const untouched = "model.layers.0.self_attn.k_proj.weight";
      expect(
        tf
          .max(tf.abs(tf.sub(merged.get(untouched) as tf.Tensor, plain.get(untouched) as tf.Tensor)))
          .dataSync()[0],
      ).toBe(0);
    });
    tf.dispose([...merged.values(), ...plain.values()]);
    base.dispose();
    adapted.dispose();
  });

  it("namedWeights saved as safetensors reload to the same outputs", async () => {
    const folder = mkdtempSync(join(tmpdir(), "pqm-decoder-"));
    const original = createRandomDecoder(qwenConfig, 11);
    const named = original.namedWeights();
    const tensors = new Map<string, Float32TensorData>();
    for (const [name, tensor] of named)
      tensors.set(name, { shape: tensor.shape, data: tensor.dataSync() as Float32Array });
    expect(tensors.has("lm_head.weight")).toBe(true);
    expect(tensors.get("model.layers.0.self_attn.k_proj.weight")?.shape).toEqual([8, 16]);
    await writeSafetensors(join(folder, "model.safetensors"), tensors);
    writeFileSync(join(folder, "config.json"), JSON.stringify(original.config.raw));
    const reloaded = await loadPretrained(folder);
    tf.tidy(() => {
      const inputs = batchInputs();
      const first = original.forwardSync(inputs);
      const second = reloaded.forwardSync(inputs);
      expect(tf.max(tf.abs(tf.sub(first.logits, second.logits))).dataSync()[0]).toBe(0);
    });
    tf.dispose([...named.values()]);
    original.dispose();
    reloaded.dispose();
  });

  it("rejects token ids outside the vocabulary and mismatched masks", () => {
    const backbone = createRandomDecoder(llamaConfig, 1, { mode: "frozen" });
    const ids = tf.tensor2d([[1, 40]], undefined, "int32");
    expect(() => backbone.forwardHidden({ inputIds: ids })).toThrow(
      /inputIds must lie in \[0, 40\), got values from 1 to 40/,
    );
    const mask = tf.tensor2d([[1, 1, 1]], undefined, "int32");
    expect(() =>
      backbone.forwardHidden({ inputIds: tf.tensor2d([[1, 2]], undefined, "int32"), attentionMask: mask }),
    ).toThrow(/attentionMask must be int32 \[1, 2\]/);
    backbone.dispose();
    expect(() => backbone.forwardHidden({ inputIds: tf.tensor2d([[1, 2]], undefined, "int32") })).toThrow(
      /after dispose/,
    );
  });
});

describe("DecoderBackbone gradients agree across backends", () => {
  it("wasm (fast matmul, scatter embedding gradient) equals cpu to 1e-4 relative", async () => {
    const collect = async (backend: "cpu" | "wasm"): Promise<Map<string, Float32Array>> => {
      await useBackend(backend);
      const backbone = createRandomDecoder(qwenConfig, 21);
      const grads = gradients(backbone);
      backbone.dispose();
      return grads;
    };
    const cpu = await collect("cpu");
    const wasm = await collect("wasm");
    expect([...wasm.keys()].sort()).toEqual([...cpu.keys()].sort());
    for (const [name, values] of cpu) {
      const other = wasm.get(name) as Float32Array;
      const scale = Math.max(...values.map(Math.abs), 1e-6);
      let worst = 0;
      for (let index = 0; index < values.length; index++) {
        worst = Math.max(worst, Math.abs((values[index] as number) - (other[index] as number)) / scale);
      }
      expect(worst, name).toBeLessThan(1e-4);
    }
  });
});

describe("loading errors", () => {
  const golden = goldenDecoderPath("qwen2-tiny");
  let folder: string;

  beforeAll(async () => {
    await useBackend("cpu");
  });
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), "pqm-broken-"));
    cpSync(golden, folder, { recursive: true });
  });
  afterAll(() => undefined);

  /** Rewrites the copied checkpoint with `edit` applied to its tensors. */
  function rewrite(edit: (tensors: Map<string, Float32TensorData>) => void): void {
    const file = parseSafetensors(new Uint8Array(readFileSync(join(golden, "model.safetensors"))), "golden");
    const tensors = new Map<string, Float32TensorData>();
    for (const [name, entry] of file.entries)
      tensors.set(name, { shape: entry.shape, data: file.float32(name) });
    edit(tensors);
    writeFileSync(join(folder, "model.safetensors"), serializeSafetensors(tensors, { format: "pt" }));
  }

  it("names a missing tensor", async () => {
    rewrite((tensors) => tensors.delete("model.layers.1.self_attn.k_proj.bias"));
    const before = tf.memory().numTensors;
    await expect(loadPretrained(folder)).rejects.toThrow(
      /'model.layers.1.self_attn.k_proj.bias': tensor not found/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it("names a tensor of the wrong shape", async () => {
    rewrite((tensors) => {
      const weight = tensors.get("lm_head.weight") as Float32TensorData;
      tensors.set("lm_head.weight", { shape: [32, 64], data: weight.data });
    });
    await expect(loadPretrained(folder)).rejects.toThrow(
      /'lm_head.weight': expected shape \[64, 32\], got \[32, 64\]/,
    );
  });

  it("lists the known model types for an unknown one", async () => {
    rewrite(() => undefined);
    const config = JSON.parse(readFileSync(join(golden, "config.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(folder, "config.json"), JSON.stringify({ ...config, model_type: "gpt2" }));
    await expect(loadPretrained(folder)).rejects.toThrow(
      /config.json: 'model_type': unknown model_type "gpt2"; known: llama, mistral, qwen2/,
    );
    writeFileSync(join(folder, "config.json"), JSON.stringify({ ...config, num_key_value_heads: 3 }));
    await expect(loadPretrained(folder)).rejects.toThrow(
      /'num_key_value_heads': 3 does not divide num_attention_heads 4/,
    );
  });
});

describe("sliding window configuration (as transformers' configs resolve it)", () => {
  const shape = {
    vocab_size: 32,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 3,
    num_attention_heads: 4,
  };
  const windows = (json: Record<string, unknown>) => {
    const config = resolveDecoderConfig({ ...shape, ...json }, "config.json");
    return { slidingWindow: config.slidingWindow, layers: config.layerSlidingWindows };
  };

  it("Mistral: every layer; sliding_window null switches it off, absent means MistralConfig's 4096", () => {
    expect(windows({ model_type: "mistral", sliding_window: 6 })).toEqual({
      slidingWindow: 6,
      layers: [6, 6, 6],
    });
    expect(windows({ model_type: "mistral", sliding_window: null })).toEqual({
      slidingWindow: null,
      layers: [null, null, null],
    });
    expect(windows({ model_type: "mistral" })).toEqual({ slidingWindow: 4096, layers: [4096, 4096, 4096] });
    // Mistral ignores layer_types (transformers only warns about it).
    expect(
      windows({ model_type: "mistral", sliding_window: 6, layer_types: ["full_attention"] }).layers,
    ).toEqual([6, 6, 6]);
  });

  it("Llama: never, even with a sliding_window field", () => {
    expect(windows({ model_type: "llama", sliding_window: 6 })).toEqual({
      slidingWindow: null,
      layers: [null, null, null],
    });
  });

  it("Qwen2: only with use_sliding_window, on layers max_window_layers and up, or as layer_types says", () => {
    const none = { slidingWindow: null, layers: [null, null, null] };
    expect(windows({ model_type: "qwen2", sliding_window: 6 })).toEqual(none); // use_sliding_window defaults to false
    expect(
      windows({ model_type: "qwen2", use_sliding_window: false, sliding_window: 6, max_window_layers: 0 }),
    ).toEqual(none);
    expect(
      windows({ model_type: "qwen2", use_sliding_window: true, sliding_window: 6, max_window_layers: 1 }),
    ).toEqual({
      slidingWindow: 6,
      layers: [null, 6, 6],
    });
    expect(
      windows({ model_type: "qwen2", use_sliding_window: true, sliding_window: 6, max_window_layers: 0 })
        .layers,
    ).toEqual([6, 6, 6]);
    // max_window_layers defaults to 28: no layer of a 3-layer model.
    expect(windows({ model_type: "qwen2", use_sliding_window: true, sliding_window: 6 })).toEqual(none);
    expect(windows({ model_type: "qwen2", use_sliding_window: true, max_window_layers: 2 }).layers).toEqual([
      null,
      null,
      4096,
    ]);
    expect(
      windows({
        model_type: "qwen2",
        use_sliding_window: true,
        sliding_window: 5,
        max_window_layers: 0,
        layer_types: ["sliding_attention", "full_attention", "sliding_attention"],
      }).layers,
    ).toEqual([5, null, 5]);
    // Saved by recent transformers with the window off: every layer full.
    expect(
      windows({ model_type: "qwen2", layer_types: ["full_attention", "full_attention", "full_attention"] }),
    ).toEqual(none);
  });

  it("refuses bad window fields, naming the file and field", () => {
    expect(() => windows({ model_type: "mistral", sliding_window: 0 })).toThrow(
      /config.json: 'sliding_window': expected a positive integer, got 0/,
    );
    expect(() => windows({ model_type: "qwen2", use_sliding_window: true, max_window_layers: -1 })).toThrow(
      /'max_window_layers': expected a non-negative integer, got -1/,
    );
    expect(() =>
      windows({ model_type: "qwen2", use_sliding_window: true, layer_types: ["full_attention"] }),
    ).toThrow(/'layer_types': expected 3 entries \(num_hidden_layers\)/);
    expect(() =>
      windows({
        model_type: "qwen2",
        layer_types: ["full_attention", "sliding_attention", "full_attention"],
      }),
    ).toThrow(/'layer_types': lists sliding_attention layers, but there is no sliding window/);
  });
});

describe("memory estimate", () => {
  // Qwen2.5-1.5B's shape.
  const qwen15 = resolveDecoderConfig(
    {
      model_type: "qwen2",
      vocab_size: 151936,
      hidden_size: 1536,
      intermediate_size: 8960,
      num_hidden_layers: 28,
      num_attention_heads: 12,
      num_key_value_heads: 2,
      tie_word_embeddings: true,
    },
    "qwen2.5-1.5b",
  );

  it("counts parameters like Qwen2.5-1.5B's published count", () => {
    expect(countParameters(qwen15)).toBe(1543714304);
  });

  it("counts the golden llama's parameters like its safetensors header", () => {
    const llama = resolveDecoderConfig(
      JSON.parse(readFileSync(goldenDecoderPath("llama-tiny", "config.json"), "utf8")),
      "x",
    );
    // The golden file's 29 tensors (tied: no lm_head; head_dim 8 while hidden/heads is 6), summed
    // from its header: 64*24 embeddings + 24 final norm + 3 layers of 6,960 = 22,440.
    const header = parseSafetensors(
      new Uint8Array(readFileSync(goldenDecoderPath("llama-tiny", "model.safetensors"))),
      "x",
    );
    let stored = 0;
    for (const entry of header.entries.values()) stored += entry.shape.reduce((a, b) => a * b, 1);
    expect(stored).toBe(22440);
    expect(countParameters(llama)).toBe(stored);
  });

  // Qwen2.5-0.5B's shape.
  const qwen05 = resolveDecoderConfig(
    {
      ...qwen15.raw,
      hidden_size: 896,
      intermediate_size: 4864,
      num_hidden_layers: 24,
      num_attention_heads: 14,
    },
    "qwen2.5-0.5b",
  );

  it("refuses full training of a 0.5B model on wasm and says what fits", () => {
    expect(countParameters(qwen05)).toBe(494032768);
    const shape = { batchSize: 4, sequenceLength: 512 };
    expect(() => assertFitsMemory(qwen05, "full", "wasm", shape)).toThrow(MemoryLimitError);
    expect(() => assertFitsMemory(qwen05, "full", "wasm", shape)).toThrow(
      /needs about .* GiB in full mode on wasm \(limit 4.00 GiB\).*Would fit: frozen with batch size 4 \(/,
    );
    expect(assertFitsMemory(qwen05, "frozen", "wasm", shape).totalBytes).toBeLessThan(4 * 1024 ** 3);
  });

  it("says nothing fits when the weights alone exceed the limit (1.5B on wasm)", () => {
    expect(() => assertFitsMemory(qwen15, "frozen", "wasm")).toThrow(/No mode fits this backend/);
    const frozen = estimateMemory(qwen15, "frozen", { batchSize: 1, sequenceLength: 512 });
    expect(frozen.gradientBytes).toBe(0);
    expect(frozen.weightBytes).toBe(4 * 1543714304);
  });

  it("loadPretrained refuses before reading weights", async () => {
    await useBackend("wasm");
    const folder = mkdtempSync(join(tmpdir(), "pqm-huge-"));
    writeFileSync(join(folder, "config.json"), JSON.stringify({ ...qwen15.raw }));
    await expect(loadPretrained(folder)).rejects.toThrow(MemoryLimitError);
  });
});
