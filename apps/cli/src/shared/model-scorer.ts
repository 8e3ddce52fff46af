import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { Scorer, Trajectory } from "@pqm/core";
import type { BackendChoice, ProcessRewardModel } from "@pqm/model";
import { CliError } from "./cli-error.js";

/** Options of {@link loadModelScorer}. */
export interface ModelScorerOptions {
  /** TF.js backend; default: the fastest installed (`PQM_BACKEND` applies). */
  backend?: BackendChoice;
  /** Where the backend line (`scoring on wasm (...)`) and backend warnings go; default nowhere. */
  log?: (line: string) => void;
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
  const names = (await readdir(folder)).filter((name) => IDENTITY_FILE.test(name)).sort();
  const hash = createHash("sha256");
  for (const name of names) {
    hash.update(`${name}\0`);
    await hashFile(hash, join(folder, name));
  }
  return hash.digest("hex");
}

/**
 * The scorer of a trained checkpoint folder, for `--model` and `pqm score`. Its `name` is
 * `pqm-prm-<first 16 hex of the checkpoint's SHA-256>-<folder name>`, which keys @pqm/eval's score cache:
 * the same weights reuse their scores, retrained weights in the same folder do not. The model is loaded on
 * the first `scoreSteps` call (so a cached run starts no TF.js): a TF.js backend is started, then the
 * folder is read with @pqm/model's `loadCheckpoint` (a `saveCheckpoint` folder, or a TRL value-head
 * checkpoint); scores are raw logits, one per step.
 * @throws CliError when the folder does not exist or has no `config.json`; the first `scoreSteps` rejects with @pqm/model's
 *   ModelLoadError / EncodingMismatchError (naming the file and field) for a folder that is not a
 *   loadable checkpoint.
 */
export async function loadModelScorer(
  checkpoint: string,
  options: ModelScorerOptions = {},
): Promise<ModelScorer> {
  if (!existsSync(checkpoint) || !statSync(checkpoint).isDirectory()) {
    throw new CliError(`--model ${checkpoint}: no such checkpoint folder`);
  }
  if (!existsSync(join(checkpoint, "config.json"))) {
    throw new CliError(
      `--model ${checkpoint}: not a checkpoint folder (no config.json); pqm train writes checkpoint-<step> folders`,
    );
  }
  const sha256 = await checkpointSha256(checkpoint);
  let loading: Promise<ProcessRewardModel> | undefined;
  let loaded: ProcessRewardModel | undefined;
  const model = (): Promise<ProcessRewardModel> => {
    loading ??= (async () => {
      const { loadCheckpoint, selectBackend } = await import("@pqm/model");
      const log = options.log ?? (() => {});
      const selection = await selectBackend({
        ...(options.backend === undefined ? {} : { backend: options.backend }),
        onWarning: (message) => log(`warning: ${message}`),
      });
      log(`scoring on ${selection.description}${selection.advice === null ? "" : `; ${selection.advice}`}`);
      loaded = (await loadCheckpoint(checkpoint, { onWarning: (message) => log(`warning: ${message}`) }))
        .model;
      return loaded;
    })();
    return loading;
  };
  return {
    name: `pqm-prm-${sha256.slice(0, 16)}-${basename(resolve(checkpoint))}`,
    checkpoint,
    scoreSteps: async (trajectories: readonly Trajectory[]) => (await model()).scoreSteps(trajectories),
    dispose: () => loaded?.dispose(),
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
