import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { Scorer, Trajectory } from "@pqm/core";
import type { BackendChoice } from "@pqm/model";
import { CliError } from "./cli-error.js";

/** Options of {@link loadModelScorer}. */
export interface ModelScorerOptions {
  /** TF.js backend; default: the fastest installed (`PQM_BACKEND` applies). */
  backend?: BackendChoice;
  /** Where the backend line (`scoring on wasm (...)`) and backend warnings go; default nowhere. */
  log?: (line: string) => void;
  /**
   * The published PRM convention of the folder (`--convention`, one of @pqm/model's
   * `scoringConventionNames`); default: a folder with `pqm.json` is a pqm checkpoint, any other is
   * detected.
   */
  convention?: string;
  /** The base model's folder of PQM's released state dict (`--backbone`, convention `pqm-release`). */
  backbone?: string;
}

/** A checkpoint's scorer: @pqm/core's `Scorer`, plus what it was loaded from and a way to free it. */
export interface ModelScorer extends Scorer {
  /** The checkpoint folder. */
  readonly checkpoint: string;
  /** Frees the model's tensors. */
  dispose(): void;
}

// What identifies a checkpoint's scores: its weights, config, tokenizer and encoding. Hashing the bytes
// (not the path or mtime) keeps the score cache right when a folder is overwritten by a later save.
const IDENTITY_FILE =
  /^(config\.json|pqm\.json|tokenizer\.json|tokenizer_config\.json|.*\.safetensors|model\.safetensors\.index\.json)$/;

async function hashFile(hash: ReturnType<typeof createHash>, path: string): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/**
 * The SHA-256 (hex) of a checkpoint folder's model files (config, weights and shards, tokenizer,
 * `pqm.json`; not `training-state/`), each preceded by its name, in name order.
 */
export async function checkpointSha256(folder: string): Promise<string> {
  const hash = createHash("sha256");
  await hashFolder(hash, folder, "");
  return hash.digest("hex");
}

/**
 * Hashes a folder's identity files, each preceded by `prefix` + its name. A folder whose weights are in
 * subfolders (PQM's release: `zeta-2/model.safetensors`) has those subfolders' files hashed too.
 */
async function hashFolder(
  hash: ReturnType<typeof createHash>,
  folder: string,
  prefix: string,
): Promise<void> {
  const entries = await readdir(folder, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isFile() && IDENTITY_FILE.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  for (const name of names) {
    hash.update(`${prefix}${name}\0`);
    await hashFile(hash, join(folder, name));
  }
  if (names.some((name) => name.endsWith(".safetensors"))) return;
  for (const entry of entries
    .filter((item) => item.isDirectory())
    .sort((a, b) => a.name.localeCompare(b.name))) {
    const sub = join(folder, entry.name);
    if (existsSync(join(sub, "model.safetensors")) || existsSync(join(sub, "model.safetensors.index.json")))
      await hashFolder(hash, sub, `${prefix}${entry.name}/`);
  }
}

/** The SHA-256 (hex) of a backbone folder's config and tokenizer files (what PQM's release reads of it). */
async function backboneSha256(folder: string): Promise<string> {
  const hash = createHash("sha256");
  for (const name of ["config.json", "tokenizer.json", "tokenizer_config.json"]) {
    if (!existsSync(join(folder, name))) continue;
    hash.update(`${name}\0`);
    await hashFile(hash, join(folder, name));
  }
  return hash.digest("hex");
}

/**
 * The scorer of a model folder, for `--model` and `pqm score`: a checkpoint of `pqm train` (a folder with
 * `pqm.json`, loaded by @pqm/model's `loadCheckpoint`; scores are raw logits), or a published PRM's Hugging
 * Face folder (any other folder, or any folder with `options.convention`: @pqm/model's
 * `loadConventionScorer`, the convention detected when not named; scores are log-odds). Either way one
 * score per step, sigmoid = the probability that the step is correct.
 *
 * Its `name`, which keys @pqm/eval's score cache, is `pqm-prm-<first 16 hex of the folder's SHA-256>-<folder
 * name>` for a pqm checkpoint and `<convention>-<16 hex>-<folder name>` for a published PRM (the
 * hash covers the backbone folder's config and tokenizer too): the same weights reuse their scores,
 * retrained weights in the same folder do not. The model is loaded on the first `scoreSteps` call (so a
 * cached run starts no TF.js): a TF.js backend is started, then the folder is read.
 * @throws CliError when the folder (or `--backbone`) does not exist, for an unknown `--convention`, or
 *   for a folder without `config.json` given no `--backbone`; @pqm/model's ModelLoadError, listing what it
 *   saw, for a folder whose convention no detection rule decides; the first `scoreSteps` rejects with
 *   @pqm/model's ModelLoadError / EncodingMismatchError (naming the file and field) for a folder that
 *   cannot be loaded, or that does not fit the named convention.
 */
export async function loadModelScorer(
  checkpoint: string,
  options: ModelScorerOptions = {},
): Promise<ModelScorer> {
  if (!existsSync(checkpoint) || !statSync(checkpoint).isDirectory()) {
    throw new CliError(`--model ${checkpoint}: no such checkpoint folder`);
  }
  if (
    options.backbone !== undefined &&
    (!existsSync(options.backbone) || !statSync(options.backbone).isDirectory())
  ) {
    throw new CliError(`--backbone ${options.backbone}: no such folder`);
  }
  const pqmCheckpoint = options.convention === undefined && existsSync(join(checkpoint, "pqm.json"));
  if (pqmCheckpoint && options.backbone !== undefined) {
    throw new CliError(
      `--backbone goes with PQM's released state dict, but ${checkpoint} is a pqm train checkpoint (it has pqm.json)`,
      2,
    );
  }
  if (!pqmCheckpoint) {
    if (options.convention !== undefined) {
      const { isScoringConventionName, scoringConventionNames } = await import("@pqm/model");
      if (!isScoringConventionName(options.convention)) {
        throw new CliError(
          `--convention: unknown convention '${options.convention}' (known: ${scoringConventionNames.join(", ")})`,
          2,
        );
      }
    }
    if (options.backbone === undefined && !existsSync(join(checkpoint, "config.json"))) {
      throw new CliError(
        `--model ${checkpoint}: not a checkpoint folder (no config.json); pqm train writes checkpoint-<step> folders, ` +
          "and PQM's released state dict needs --backbone <base model folder>",
      );
    }
  }
  const sha256 = await checkpointSha256(checkpoint);
  const log = options.log ?? (() => {});
  const startBackend = async () => {
    const { selectBackend } = await import("@pqm/model");
    const selection = await selectBackend({
      ...(options.backend === undefined ? {} : { backend: options.backend }),
      onWarning: (message) => log(`warning: ${message}`),
    });
    log(`scoring on ${selection.description}${selection.advice === null ? "" : `; ${selection.advice}`}`);
  };
  let loading: Promise<Scorer & { dispose(): unknown }> | undefined;
  let loaded: (Scorer & { dispose(): unknown }) | undefined;
  const model = (): Promise<Scorer & { dispose(): unknown }> => {
    loading ??= (async () => {
      await startBackend();
      if (pqmCheckpoint) {
        const { loadCheckpoint } = await import("@pqm/model");
        loaded = (await loadCheckpoint(checkpoint, { onWarning: (message) => log(`warning: ${message}`) }))
          .model;
        return loaded;
      }
      const { loadConventionScorer } = await import("@pqm/model");
      const scorer = await loadConventionScorer(checkpoint, {
        ...(options.convention === undefined ? {} : { convention: options.convention }),
        ...(options.backbone === undefined ? {} : { backbone: options.backbone }),
      });
      log(
        `convention ${scorer.convention.name}${scorer.detection === null ? "" : ` (detected: ${scorer.detection.reason})`}`,
      );
      loaded = scorer;
      return scorer;
    })();
    return loading;
  };
  const folderName = basename(resolve(checkpoint));
  let name: string;
  if (pqmCheckpoint) {
    name = `pqm-prm-${sha256.slice(0, 16)}-${folderName}`;
  } else {
    const hash = createHash("sha256").update(sha256);
    if (options.backbone !== undefined) hash.update(await backboneSha256(options.backbone));
    // Detection reads only config.json, the tokenizer files and the safetensors headers.
    let convention = options.convention;
    if (convention === undefined) {
      const { detectScoringConventionWithReason } = await import("@pqm/model");
      convention = (await detectScoringConventionWithReason(checkpoint)).convention;
    }
    name = `${convention}-${hash.digest("hex").slice(0, 16)}-${folderName}`;
  }
  return {
    name,
    checkpoint,
    scoreSteps: async (trajectories: readonly Trajectory[]) => (await model()).scoreSteps(trajectories),
    dispose: () => {
      void loaded?.dispose();
    },
  };
}

/**
 * Runs `work` with the scorer of `checkpoint` (see {@link loadModelScorer}; the backend is the fastest
 * installed, or `PQM_BACKEND`, unless `options.backend`) and frees the model afterwards, whatever `work`
 * does. `options.log` receives the backend line and warnings.
 */
export async function scoreWithModel<T>(
  checkpoint: string,
  work: (scorer: ModelScorer) => Promise<T>,
  options: ModelScorerOptions = {},
): Promise<T> {
  const scorer = await loadModelScorer(checkpoint, options);
  try {
    return await work(scorer);
  } finally {
    scorer.dispose();
  }
}
