import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { DecoderSizePreset } from "@pqm/model";
import { decoderSizePresets } from "@pqm/model";
import { CliError } from "../../shared/cli-error.js";
import { progressStyle, withDownloadProgress } from "../../shared/progress-views.js";

/** Where a backbone comes from, as `model.backbone` / `--backbone` names it. */
export type BackboneSource =
  | { kind: "preset"; preset: DecoderSizePreset }
  | { kind: "folder"; folder: string }
  | { kind: "hub"; uri: string };

/**
 * Reads a backbone value: `preset:<tiny|small|medium|large>`, `hf://owner/name[@revision][/subfolder]`
 * (a model repository on the Hub) or a local folder holding `config.json`.
 * @throws CliError (exit 2) naming the value and what each form needs when it is none of them.
 */
export function parseBackbone(value: string): BackboneSource {
  if (value.startsWith("preset:")) {
    const name = value.slice("preset:".length);
    const preset = decoderSizePresets.find((known) => known === name);
    if (preset === undefined) {
      throw new CliError(
        `--backbone '${value}': unknown size preset '${name}' (known: ${decoderSizePresets.map((known) => `preset:${known}`).join(", ")})`,
        2,
      );
    }
    return { kind: "preset", preset };
  }
  if (value.startsWith("hf://")) {
    if (value.startsWith("hf://datasets/")) {
      throw new CliError(`--backbone '${value}': a backbone is a model repository, not a dataset`, 2);
    }
    const uri = value.replace(/\/+$/, "");
    // The form only: @pqm/data's stricter parser runs when the download starts (importing it is slow).
    if (!/^hf:\/\/[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*(@[^/]+)?(\/[^/]+)*$/.test(uri)) {
      throw new CliError(`--backbone '${value}': expected hf://owner/name[@revision][/subfolder]`, 2);
    }
    return { kind: "hub", uri };
  }
  if (!existsSync(value) || !statSync(value).isDirectory()) {
    throw new CliError(
      `--backbone '${value}': no such folder; give a model folder (config.json, model.safetensors, tokenizer.json), ` +
        `hf://owner/name, or preset:${decoderSizePresets.join("|")}`,
      2,
    );
  }
  if (!existsSync(join(value, "config.json"))) {
    throw new CliError(
      `--backbone '${value}': the folder has no config.json, so it is not a model folder`,
      2,
    );
  }
  return { kind: "folder", folder: value };
}

/** The files of a Hub model folder that loading a backbone reads (besides the weights). */
export const HUB_BACKBONE_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json"] as const;

/** Options of {@link downloadHubBackbone}. */
export interface DownloadHubBackboneOptions {
  /** Download progress on stderr. */
  progress: boolean;
}

/**
 * Downloads a Hub model folder through @pqm/data's cache (huggingface_hub's layout, resumable, verified):
 * `config.json`, `tokenizer.json`, `tokenizer_config.json`, then `model.safetensors`, or when the
 * repository has none, `model.safetensors.index.json` and every shard its `weight_map` names. Returns the
 * local snapshot folder. `HF_ENDPOINT`, `HF_HOME` / `HF_HUB_CACHE`, `HF_TOKEN` and `HF_HUB_OFFLINE` apply.
 * @throws CliError naming the repository when it has neither weights file or an index names a bad shard;
 *   HubError (not found, access denied, network) from the download.
 */
export async function downloadHubBackbone(uri: string, options: DownloadHubBackboneOptions): Promise<string> {
  const { HubError, hfDownload, parseHfUri } = await import("@pqm/data");
  const isNotFound = (error: unknown) => error instanceof HubError && error.code === "not-found";
  try {
    // A model folder URI names no file; checking one inside it checks the owner, name and revision.
    parseHfUri(`${uri}/config.json`);
  } catch (error) {
    throw new CliError(`--backbone '${uri}': ${error instanceof Error ? error.message : error}`, 2);
  }
  const download = (file: string) =>
    withDownloadProgress(progressStyle(options.progress), (hub) => hfDownload(`${uri}/${file}`, hub));
  const paths: string[] = [];
  for (const file of HUB_BACKBONE_FILES) paths.push(await download(file));
  try {
    paths.push(await download("model.safetensors"));
  } catch (error) {
    if (!isNotFound(error)) throw error;
    let indexPath: string;
    try {
      indexPath = await download("model.safetensors.index.json");
    } catch (indexError) {
      if (!isNotFound(indexError)) throw indexError;
      throw new CliError(
        `--backbone ${uri}: the repository has neither model.safetensors nor model.safetensors.index.json`,
      );
    }
    paths.push(indexPath);
    for (const shard of await shardNames(indexPath, uri)) paths.push(await download(shard));
  }
  // Every file of one revision lands in one snapshot folder; another folder means the revision moved.
  const folders = new Set(paths.map((path) => dirname(path)));
  const folder = dirname(paths[0]!);
  if (folders.size !== 1) {
    throw new CliError(
      `--backbone ${uri}: the files came from different commits (the branch moved during the download); ` +
        "pin a commit with hf://owner/name@<commit>",
    );
  }
  return folder;
}

async function shardNames(indexPath: string, uri: string): Promise<string[]> {
  let index: unknown;
  try {
    index = JSON.parse(await readFile(indexPath, "utf8"));
  } catch (error) {
    throw new CliError(`${uri}/model.safetensors.index.json: not valid JSON (${String(error)})`);
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) {
    throw new CliError(`${uri}/model.safetensors.index.json: field 'weight_map': expected an object`);
  }
  const shards = new Set<string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    // A shard name becomes part of a download path: only plain file names in the folder are accepted.
    if (typeof shard !== "string" || !/^[A-Za-z0-9._-]+\.safetensors$/.test(shard)) {
      throw new CliError(
        `${uri}/model.safetensors.index.json: field 'weight_map.${tensor}': expected a .safetensors file name, got ${JSON.stringify(shard)}`,
      );
    }
    shards.add(shard);
  }
  return [...shards];
}
