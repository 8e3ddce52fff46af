import type { DecoderConfig } from "./decoder-config.js";
import { ConfigReader } from "./decoder-config.js";
import { resolveLlamaConfig, resolveMistralConfig } from "./llama/llama-config.js";
import { ModelLoadError } from "./model-load-error.js";
import { resolveQwen2Config } from "./qwen2/qwen2-config.js";

/** An architecture: how its config.json resolves to the shared decoder's configuration. */
export interface DecoderArchitecture {
  /** The Hugging Face class this mirrors, for messages. */
  className: string;
  /** Resolves and validates config.json. @throws ModelLoadError naming the field. */
  resolveConfig(reader: ConfigReader): DecoderConfig;
}

// Mistral is Llama's code with a sliding attention window on every layer; Qwen2 adds q/k/v biases
// and, when switched on, a window on some layers. The decoder applies the windows in its masks.
const architectures: Record<string, DecoderArchitecture> = {
  llama: { className: "LlamaForCausalLM", resolveConfig: resolveLlamaConfig },
  mistral: { className: "MistralForCausalLM", resolveConfig: resolveMistralConfig },
  qwen2: { className: "Qwen2ForCausalLM", resolveConfig: resolveQwen2Config },
};

/** The `model_type` values `loadPretrained` and `createRandomDecoder` accept, sorted. */
export function knownModelTypes(): string[] {
  return Object.keys(architectures).sort();
}

/**
 * Resolves a config.json object through the registry keyed by its `model_type`.
 * @param file the config's path, for error messages.
 * @throws ModelLoadError for an unknown `model_type` (listing the known ones) or a bad field.
 */
export function resolveDecoderConfig(raw: Readonly<Record<string, unknown>>, file: string): DecoderConfig {
  const modelType = raw.model_type;
  const architecture = typeof modelType === "string" ? architectures[modelType] : undefined;
  if (architecture === undefined) {
    throw new ModelLoadError(
      file,
      "model_type",
      `unknown model_type ${JSON.stringify(modelType)}; known: ${knownModelTypes().join(", ")}`,
    );
  }
  return architecture.resolveConfig(new ConfigReader(raw, file));
}
