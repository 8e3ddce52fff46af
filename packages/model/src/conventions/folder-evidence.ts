import { existsSync, statSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { ModelLoadError } from "../backbone/model-load-error.js";
import { readSafetensorsHeader } from "../backbone/safetensors/read-safetensors.js";
import { HF_EXPORT_INFO_FILE } from "../export/hf-token-classification.js";
import { loadTokenizer } from "../tokenizer/hf-tokenizer.js";
import type { PrmTokenizer } from "../tokenizer/prm-tokenizer.js";

/** A tensor's header entry, read without the tensor's bytes. */
export interface TensorHeader {
  shape: number[];
  dtype: string;
  /** The file it is in. */
  file: string;
}

/** What a model folder shows about itself, read cheaply (JSON files and safetensors headers only). */
export interface FolderEvidence {
  /** The folder given. */
  folder: string;
  /** `config.json`, or null when the folder has none (PQM's release is a bare state dict). */
  config: Record<string, unknown> | null;
  /** The folder holding the weights (the folder itself, or its one `zeta-*`-like subfolder). */
  weightsFolder: string;
  /** Every tensor of the weights, by name. */
  tensors: Map<string, TensorHeader>;
  /** `tokenizer_config.json`, or null when absent. */
  tokenizerConfig: Record<string, unknown> | null;
  /** The added tokens of `tokenizer.json` and `tokenizer_config.json` (their contents). */
  addedTokens: string[];
  /** Whether `tokenizer.json`'s vocabulary has the entry, by entry text. */
  vocabularyHas: (entry: string) => boolean;
  /** Whether the folder holds `pqm_export.json` (written by pqm's Hugging Face export). */
  hasPqmExport: boolean;
  /** The tokenizer, loaded (and so checked) where the tokenizer folder has tokenizer files; else null. */
  tokenizer: PrmTokenizer | null;
}

async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (cause) {
    throw new ModelLoadError(path, undefined, "not valid JSON", { cause });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new ModelLoadError(path, undefined, "not a JSON object");
  return raw as Record<string, unknown>;
}

/**
 * The tensor names, shapes and dtypes of one safetensors file, from its header alone (a 7B model's
 * weights are never read to look at them), checked as the loader checks it.
 * @throws ModelLoadError naming the file, the tensor and the byte range of a bad header.
 */
export async function readWeightFileHeader(path: string): Promise<Map<string, TensorHeader>> {
  const { entries } = await readSafetensorsHeader(path);
  const out = new Map<string, TensorHeader>();
  for (const [name, entry] of entries) out.set(name, { shape: entry.shape, dtype: entry.dtype, file: path });
  return out;
}

/**
 * Where a folder's weights are: `model.safetensors` or a sharded index in the folder itself, or else in
 * its only subfolder that has them (PQM's release keeps `zeta-2/model.safetensors`, `zeta-4/...`).
 * @throws ModelLoadError naming the folder when there are none, or listing the subfolders to choose from.
 */
export async function resolveWeightsFolder(folder: string): Promise<string> {
  const hasWeights = (dir: string) =>
    existsSync(join(dir, "model.safetensors")) || existsSync(join(dir, "model.safetensors.index.json"));
  if (hasWeights(folder)) return folder;
  const entries = existsSync(folder) ? await readdir(folder, { withFileTypes: true }) : [];
  const candidates = entries
    .filter((entry) => entry.isDirectory() && hasWeights(join(folder, entry.name)))
    .map((entry) => join(folder, entry.name))
    .sort();
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length > 1) {
    throw new ModelLoadError(
      folder,
      undefined,
      `holds several weight folders; pass one of: ${candidates.join(", ")}`,
    );
  }
  throw new ModelLoadError(
    folder,
    undefined,
    "no model.safetensors or model.safetensors.index.json here or in a subfolder",
  );
}

/** Every tensor header of the weights in `weightsFolder` (single file or shards). */
export async function readWeightHeaders(weightsFolder: string): Promise<Map<string, TensorHeader>> {
  const indexPath = join(weightsFolder, "model.safetensors.index.json");
  if (!existsSync(indexPath)) return readWeightFileHeader(join(weightsFolder, "model.safetensors"));
  const index = await readJsonObject(indexPath);
  const weightMap = index.weight_map;
  if (typeof weightMap !== "object" || weightMap === null)
    throw new ModelLoadError(indexPath, "weight_map", "missing or not an object");
  const out = new Map<string, TensorHeader>();
  const shards = new Set(Object.values(weightMap as Record<string, unknown>).map(String));
  for (const shard of shards) {
    if (shard !== basename(shard))
      throw new ModelLoadError(
        indexPath,
        "weight_map",
        `expected shard file names, got ${JSON.stringify(shard)}`,
      );
    for (const [name, entry] of await readWeightFileHeader(join(weightsFolder, shard))) out.set(name, entry);
  }
  return out;
}

function addedTokenContents(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value
      .map((entry) => (typeof entry === "string" ? entry : (entry as { content?: unknown } | null)?.content))
      .filter((content): content is string => typeof content === "string");
  }
  if (typeof value === "object" && value !== null) {
    return Object.values(value)
      .map((entry) => (entry as { content?: unknown } | null)?.content)
      .filter((content): content is string => typeof content === "string");
  }
  return [];
}

/**
 * Reads what detection and loading look at: `config.json`, the weights' headers, and the tokenizer's
 * added tokens and vocabulary entries. `tokenizerFolder` is where the tokenizer files are (default the
 * folder itself; PQM's release keeps them in the backbone folder).
 * @throws ModelLoadError naming the folder or file that is missing or malformed.
 */
export async function readFolderEvidence(folder: string, tokenizerFolder = folder): Promise<FolderEvidence> {
  if (!existsSync(folder) || !statSync(folder).isDirectory())
    throw new ModelLoadError(folder, undefined, "no such model folder");
  const configPath = join(folder, "config.json");
  const config = existsSync(configPath) ? await readJsonObject(configPath) : null;
  // Where tokenizer files are, load them first, as loadCheckpoint does, so that a broken or missing
  // tokenizer file is named before the weights are looked at.
  const hasTokenizerFiles = ["tokenizer.json", "tokenizer_config.json"].some((name) =>
    existsSync(join(tokenizerFolder, name)),
  );
  const tokenizer = hasTokenizerFiles ? await loadTokenizer(tokenizerFolder) : null;
  const weightsFolder = await resolveWeightsFolder(folder);
  const tensors = await readWeightHeaders(weightsFolder);
  const tokenizerConfigPath = join(tokenizerFolder, "tokenizer_config.json");
  const tokenizerConfig = existsSync(tokenizerConfigPath) ? await readJsonObject(tokenizerConfigPath) : null;
  const tokenizerJsonPath = join(tokenizerFolder, "tokenizer.json");
  const tokenizerJson = existsSync(tokenizerJsonPath) ? await readJsonObject(tokenizerJsonPath) : null;
  const added = new Set<string>([
    ...addedTokenContents(tokenizerJson?.added_tokens),
    ...addedTokenContents(tokenizerConfig?.added_tokens_decoder),
    ...addedTokenContents(tokenizerConfig?.additional_special_tokens),
  ]);
  const vocab = (tokenizerJson?.model as { vocab?: unknown } | undefined)?.vocab;
  const entries = new Set<string>(
    Array.isArray(vocab)
      ? vocab.map((pair) => (Array.isArray(pair) ? String(pair[0]) : ""))
      : typeof vocab === "object" && vocab !== null
        ? Object.keys(vocab)
        : [],
  );
  return {
    folder,
    config,
    weightsFolder,
    tensors,
    tokenizerConfig,
    addedTokens: [...added],
    vocabularyHas: (entry) => entries.has(entry),
    hasPqmExport: existsSync(join(folder, HF_EXPORT_INFO_FILE)),
    tokenizer,
  };
}
