import * as tf from "@tensorflow/tfjs-core";
import { installFastWasmMatMul } from "../tfjs-backends/fast-wasm-matmul.js";
import type { DecoderBuildOptions } from "./decoder-backbone.js";
import { DecoderBackbone } from "./decoder-backbone.js";
import { resolveDecoderConfig } from "./model-registry.js";

/**
 * A config.json-style object (snake_case, as Hugging Face writes it) for a new model. `model_type`
 * defaults to `llama`; see `decoderSizePresets` for ready-made sizes.
 */
export type DecoderConfigJson = Readonly<Record<string, unknown>>;

/**
 * A decoder with fresh weights initialized as transformers' `_init_weights` does: every projection
 * and the embedding ~ N(0, initializer_range²) (the embedding's `pad_token_id` row zeroed), biases
 * zero, RMSNorm weights one. Deterministic for a given `seed` and backend. Synchronous: call
 * `selectBackend()` first (or import `@pqm/core`, which registers the gradients) when the model will be trained.
 * @throws ModelLoadError (file `<config>`) for an invalid config, naming the field.
 */
export function createRandomDecoder(
  config: DecoderConfigJson,
  seed: number,
  options: DecoderBuildOptions = {},
): DecoderBackbone {
  const resolved = resolveDecoderConfig({ model_type: "llama", ...config }, "<config>");
  if (tf.getBackend() === "wasm") installFastWasmMatMul();
  let tensorIndex = 0;
  return new DecoderBackbone(
    resolved,
    (name, shape) => {
      tensorIndex++;
      if (name.endsWith("layernorm.weight") || name === "model.norm.weight") return tf.ones(shape);
      if (name.endsWith(".bias")) return tf.zeros(shape);
      const weight = tf.randomNormal(
        shape,
        0,
        resolved.initializerRange,
        "float32",
        seed * 1000 + tensorIndex,
      );
      const pad = resolved.padTokenId;
      if (name === "model.embed_tokens.weight" && pad !== null && pad >= 0 && pad < resolved.vocabSize) {
        const padded = tf.tidy(() => {
          const keep = tf.reshape(tf.oneHot(tf.tensor1d([pad], "int32"), resolved.vocabSize), [
            resolved.vocabSize,
            1,
          ]);
          return tf.mul(weight, tf.sub(1, keep));
        });
        weight.dispose();
        return padded;
      }
      return weight;
    },
    options,
  );
}
