import { join } from "node:path";
import { ModelLoadError } from "../backbone/model-load-error.js";
import type { TensorHeader } from "./folder-evidence.js";

const EMBED = "embed_tokens.weight";

/**
 * Where a checkpoint keeps the decoder and its heads. `decoder` replaces the leading `model.` of the
 * Hugging Face names the decoder asks for (`model.layers.0...` → `${decoder}layers.0...`); `outer` is
 * put before the heads' names (`lm_head`, `score`, `v_head`).
 *
 * Seen layouts: the Hugging Face one (`model.layers...`, `lm_head`, `score...`); TRL's value-head models
 * (`pretrained_model.model.layers...`, `v_head.summary...`); a wrapper's bare state dict holding the
 * causal LM as `model` (`model.model.layers...`); a bare base model (`layers...`).
 */
export interface WeightLayout {
  decoder: string;
  outer: string;
}

/**
 * Finds the decoder's prefix among the tensor names: the prefix `p` with `${p}embed_tokens.weight` and
 * `${p}norm.weight`, preferring `model.`, then the shortest.
 * @throws ModelLoadError naming the weights file when there is no embedding table.
 */
export function findWeightLayout(
  tensors: ReadonlyMap<string, TensorHeader>,
  weightsFolder: string,
): WeightLayout {
  const prefixes = [...tensors.keys()]
    .filter((name) => name.endsWith(EMBED))
    .map((name) => name.slice(0, name.length - EMBED.length))
    .filter((prefix) => prefix === "" || prefix.endsWith("."))
    .filter((prefix) => tensors.has(`${prefix}norm.weight`))
    .sort((a, b) => (a === "model." ? -1 : b === "model." ? 1 : a.length - b.length));
  const decoder = prefixes[0];
  if (decoder === undefined) {
    throw new ModelLoadError(
      join(weightsFolder, "model.safetensors"),
      `model.${EMBED}`,
      "no embedding table (a tensor named ...embed_tokens.weight beside ...norm.weight): not a Llama-family decoder",
    );
  }
  const outer = decoder.endsWith("model.") ? decoder.slice(0, decoder.length - "model.".length) : decoder;
  return { decoder, outer };
}

/** The stored name of a decoder weight (`model.layers.0...` as the decoder asks for it). */
export function decoderTensorName(layout: WeightLayout, name: string): string {
  return name.startsWith("model.")
    ? `${layout.decoder}${name.slice("model.".length)}`
    : `${layout.outer}${name}`;
}

/**
 * The stored name of a head tensor, e.g. `v_head.summary.weight`: under the layout's outer prefix, else
 * the one tensor whose name ends with `.${name}` or equals it; undefined when absent.
 */
export function findHeadTensor(
  tensors: ReadonlyMap<string, TensorHeader>,
  layout: WeightLayout | null,
  name: string,
): string | undefined {
  if (layout !== null && tensors.has(`${layout.outer}${name}`)) return `${layout.outer}${name}`;
  if (tensors.has(name)) return name;
  const matches = [...tensors.keys()].filter((stored) => stored.endsWith(`.${name}`));
  return matches.length === 1 ? matches[0] : undefined;
}
