import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { JsonValue, LabeledTrajectory } from "@pqm/core";
import type { SavedTrainingState, TrainingConfig } from "@pqm/model";
import {
  buildWordTokenizer,
  checkpointFolderStep,
  countParameters,
  DEFAULT_STEP_FORMAT,
  formatSteps,
  loadCheckpoint,
  ProcessRewardModel,
  promptTemplateNames,
  readPqmMetadata,
  resolvePromptTemplate,
  resolveTrainingConfig,
  selectBackend,
  trainPrm,
} from "@pqm/model";
import { CliError, withFileRole } from "../../shared/cli-error.js";
import { progressStyle } from "../../shared/progress-views.js";
import { describeSkipped, type SkippedRows } from "../../shared/skipped-rows.js";
import type { BackboneSource } from "./train-backbone.js";
import { downloadHubBackbone, parseBackbone } from "./train-backbone.js";
import type { TrainCommandConfig, TrainConfigLayer } from "./train-config.js";
import {
  checkConfigLayer,
  mergeConfigLayers,
  readTrainConfigFile,
  resolveTrainCommandConfig,
} from "./train-config.js";
import { TrainProgressView } from "./train-progress.js";

/** Options of `pqm train`. */
export interface TrainCommandOptions {
  /** A YAML or JSON config file (the middle layer). */
  configFile?: string;
  /** The layer the flags make (the last one). */
  flags: TrainConfigLayer;
  /** The flag that sets each dotted field, for error messages (`training.zeta` -> `--zeta`). */
  flagNames: Readonly<Record<string, string>>;
  /** A checkpoint folder whose model and training state the run continues from. */
  resume?: string;
  /** Progress lines and the training bar on stderr. */
  progress: boolean;
  /**
   * Start over in an output folder that holds a run: its checkpoints, `metrics.jsonl` and
   * `train-config.json` are deleted first. Without it such a folder is resumed from its latest
   * checkpoint, or refused when it has none.
   */
  overwrite?: boolean;
  /** Aborting it stops training after the step in flight, with a checkpoint (`stoppedBy: "interrupted"`). */
  signal?: AbortSignal;
  /** Called just before the training loop starts (after the data and the model are ready). */
  onTrainingStart?: () => void;
}

/** What `pqm train` did: what `--json` prints. */
export interface TrainCommandResult {
  /** Folder of the checkpoints, `metrics.jsonl` and `train-config.json`. */
  outputDir: string;
  /** The last checkpoint written (the trained model), or null when none was. */
  checkpoint: string | null;
  checkpoints: string[];
  metrics: string;
  /** Optimizer steps done in total, resumed ones included. */
  steps: number;
  /** The step the run resumed from, or null for a fresh run. */
  resumedFromStep: number | null;
  stoppedBy: "steps" | "time" | "stop-after-step" | "interrupted";
  /** Seconds of this run's training loop. */
  elapsedSeconds: number;
  /** Real (unpadded) tokens per second over this run. */
  tokensPerSecond: number;
  /** Validation at the end: mean loss, step-level AUROC (null in JSON when a class is absent). */
  validation: { loss: number; auroc: number; steps: number } | null;
  /** The TF.js backend that ran. */
  backend: string;
  model: { backbone: string; hiddenSize: number; layers: number; vocabSize: number; parameters: number };
  /**
   * Trajectories read, the rows of each file the reader skipped (counted; more than
   * `data.maxSkippedShare` of them stops the run), and the trajectories the encoder rejected (too
   * long, tag inside a step...).
   */
  data: {
    train: number;
    validation: number | null;
    skipped: { train: SkippedRows; validation: SkippedRows | null };
    rejected: { train: number; validation: number };
  };
  /** The configuration after layering, with every training field resolved. */
  config: Omit<TrainCommandConfig, "training"> & { training: TrainingConfig };
}

/** A results folder with the time in its name, safe on every file system: `pqm-runs/train-2026-11-26T10-12-00`. */
export function defaultRunFolder(now = new Date()): string {
  return `pqm-runs/train-${now.toISOString().slice(0, 19).replace(/:/g, "-")}`;
}

async function readLabeled(
  path: string,
  what: string,
  data: { strict: boolean; maxSkippedShare: number },
): Promise<{ trajectories: LabeledTrajectory[]; skipped: SkippedRows }> {
  if (!existsSync(path)) {
    // The same one-line message as every other command's missing file (describeFileSystemError).
    await withFileRole({ path, role: `the ${what}` }, () => stat(path));
  }
  // @pqm/data takes seconds to import (its answer checker), so it loads after the cheap checks pass.
  const { createReadStats, readLabeledTrajectories } = await import("@pqm/data");
  const stats = createReadStats();
  const trajectories: LabeledTrajectory[] = [];
  for await (const trajectory of readLabeledTrajectories(path, { stats, strict: data.strict })) {
    trajectories.push(trajectory);
  }
  const skipped: SkippedRows = {
    rows: stats.seen - stats.blankLines,
    skipped: stats.skipped,
    skippedByReason: { ...stats.skippedByReason },
  };
  if (skipped.rows > 0 && skipped.skipped / skipped.rows > data.maxSkippedShare) {
    const first = stats.examples[0];
    throw new CliError(
      `${path}: ${describeSkipped(skipped)}, more than the ${100 * data.maxSkippedShare}% allowed (the ${what})` +
        (first ? `; first: ${first.message}` : "") +
        "; fix the file (pqm data inspect --strict names each row), or raise --max-skipped-share",
    );
  }
  if (trajectories.length === 0)
    throw new CliError(`${path}: no labeled trajectories in the file (the ${what})`);
  return { trajectories, skipped };
}

/**
 * The word tokenizer's corpus: every question and its steps as the template will write them, and the
 * template's fixed text, so no word the model reads becomes `[UNK]`.
 */
function tokenizerCorpus(
  trajectories: readonly LabeledTrajectory[],
  template: string,
  stepTag: string,
): string[] {
  const texts = trajectories.map(
    (trajectory) =>
      `${trajectory.question.text}\n${formatSteps(trajectory.steps, stepTag, DEFAULT_STEP_FORMAT)}`,
  );
  try {
    const layout = resolvePromptTemplate(template).layout(buildWordTokenizer([]));
    texts.push(layout.head, layout.middle, layout.tail);
  } catch (error) {
    throw new CliError(
      `field 'encoding.template': '${template}' cannot be used with a preset backbone's word tokenizer ` +
        `(${error instanceof Error ? error.message : error})`,
      2,
    );
  }
  return texts;
}

function checkTemplate(template: string | null): void {
  if (template !== null && !promptTemplateNames.includes(template)) {
    throw new CliError(
      `field 'encoding.template': unknown template '${template}' (known: ${promptTemplateNames.join(", ")})`,
      2,
    );
  }
}

/** The training fields a checkpoint was trained with (`pqm.json`), checked like any other layer. */
function savedTrainingLayer(
  training: { [key: string]: JsonValue } | null | undefined,
  folder: string,
): { training: TrainConfigLayer["training"]; checkpointEvery: number | undefined } {
  if (training === null || training === undefined) return { training: {}, checkpointEvery: undefined };
  const { checkpointEvery, ...rest } = training;
  const layer = checkConfigLayer({ training: rest }, join(folder, "pqm.json"));
  return {
    training: layer.training,
    checkpointEvery: typeof checkpointEvery === "number" ? checkpointEvery : undefined,
  };
}

interface BuiltModel {
  model: ProcessRewardModel;
  description: string;
  resume: SavedTrainingState | undefined;
  resumedFromStep: number | null;
}

async function buildModel(
  config: TrainCommandConfig,
  source: BackboneSource | null,
  resumeFolder: string | undefined,
  corpus: readonly LabeledTrajectory[],
  log: (line: string) => void,
  progress: boolean,
): Promise<BuiltModel> {
  const { encoding } = config;
  const common = {
    seed: config.model.seed,
    ...(encoding.maxLength === null ? {} : { maxLength: encoding.maxLength }),
    overflow: encoding.overflow,
    addBos: encoding.addBos,
  };
  if (resumeFolder !== undefined) {
    const loaded = await loadCheckpoint(resumeFolder, { onWarning: (message) => log(`warning: ${message}`) });
    if (loaded.trainingState === null) {
      loaded.model.dispose();
      throw new CliError(
        `${resumeFolder}: the checkpoint has no training-state/ folder, so training cannot resume from it`,
      );
    }
    log(
      `resuming from ${resumeFolder} at step ${loaded.trainingState.state.step} (model and encoding from it)`,
    );
    return {
      model: loaded.model,
      description: `checkpoint ${resumeFolder}`,
      resume: loaded.trainingState,
      resumedFromStep: loaded.trainingState.state.step,
    };
  }
  const fresh = { resume: undefined, resumedFromStep: null };
  if (source === null) throw new Error("a fresh run needs a backbone");
  if (source.kind === "preset") {
    if (encoding.existingStepTag !== null) {
      throw new CliError(
        "field 'encoding.existingStepTag' needs a pretrained backbone; a preset's word tokenizer has the tag already",
        2,
      );
    }
    const template = encoding.template ?? "plain";
    const tokenizer = buildWordTokenizer(tokenizerCorpus(corpus, template, encoding.stepTag), {
      stepTag: encoding.stepTag,
    });
    log(`tokenizer: built-in word tokenizer, ${tokenizer.vocabSize} ids`);
    const model = ProcessRewardModel.fromScratch(source.preset, tokenizer, {
      ...common,
      template,
      stepTag: encoding.stepTag,
    });
    return { model, description: `preset:${source.preset}`, ...fresh };
  }
  const folder =
    source.kind === "folder" ? source.folder : await downloadHubBackbone(source.uri, { progress });
  if (source.kind === "hub") log(`backbone ${source.uri} downloaded to ${folder}`);
  const { model, report } = await ProcessRewardModel.fromPretrained(folder, {
    ...common,
    template: encoding.template ?? "pqm-alpaca",
    ...(encoding.existingStepTag === null
      ? { stepTag: encoding.stepTag }
      : { existingStepTag: encoding.existingStepTag }),
  });
  log(
    `backbone ${source.kind === "hub" ? source.uri : folder}: step tag id ${report.stepTagId}, ` +
      `${report.addedTokens} embedding row(s) added`,
  );
  return { model, description: source.kind === "hub" ? source.uri : resolve(folder), ...fresh };
}

/** The files of a run in an output folder that `--overwrite` deletes (nothing else in it is touched). */
async function runFiles(outputDir: string): Promise<{ checkpoints: string[]; others: string[] }> {
  if (!existsSync(outputDir)) return { checkpoints: [], others: [] };
  const entries = await readdir(outputDir);
  const checkpoints = entries
    .filter((entry) => checkpointFolderStep(entry) !== null)
    .sort((a, b) => (checkpointFolderStep(a) ?? 0) - (checkpointFolderStep(b) ?? 0));
  const others = entries.filter((entry) => entry === "metrics.jsonl" || entry === "train-config.json");
  return { checkpoints, others };
}

/** {@link previousRun}'s answer for a folder whose run logged steps but wrote no checkpoint yet. */
const NO_CHECKPOINT_YET = Symbol("no checkpoint yet");

/**
 * Where a run without `--resume` starts in `outputDir`: fresh when it holds no run (or `overwrite`
 * cleared it), else from its latest checkpoint. A run that logged steps but wrote no checkpoint (one
 * killed before its first) is {@link NO_CHECKPOINT_YET}: see {@link restartUnsavedRun}.
 */
async function previousRun(
  outputDir: string,
  overwrite: boolean,
  log: (line: string) => void,
): Promise<string | typeof NO_CHECKPOINT_YET | undefined> {
  const { checkpoints, others } = await runFiles(outputDir);
  if (overwrite) {
    if (checkpoints.length + others.length > 0) {
      log(
        `--overwrite: deleting the previous run in ${outputDir} (${[...checkpoints, ...others].join(", ")})`,
      );
      for (const entry of [...checkpoints, ...others])
        await rm(join(outputDir, entry), { recursive: true, force: true });
    }
    return undefined;
  }
  const latest = checkpoints.at(-1);
  if (latest !== undefined) {
    const folder = join(outputDir, latest);
    log(`${outputDir} holds a run: resuming from its latest checkpoint ${folder} (--overwrite starts over)`);
    return folder;
  }
  if (others.includes("metrics.jsonl")) return NO_CHECKPOINT_YET;
  return undefined;
}

/**
 * A folder whose run logged steps but wrote no checkpoint (killed before its first): the same command
 * (the same resolved configuration in its `train-config.json`) starts it over, there being nothing to
 * resume from and nothing of another run to lose; anything else is refused.
 */
async function restartUnsavedRun(
  outputDir: string,
  resolved: JsonValue,
  log: (line: string) => void,
): Promise<void> {
  const refuse = () =>
    new CliError(
      `${outputDir} already holds a run (metrics.jsonl) but no checkpoint to resume from; ` +
        "start over with --overwrite, or choose another --out",
    );
  let recorded: unknown;
  try {
    recorded = JSON.parse(await readFile(join(outputDir, "train-config.json"), "utf8"));
  } catch {
    throw refuse();
  }
  if (JSON.stringify(recorded) !== JSON.stringify(resolved)) throw refuse();
  log(
    `${outputDir} holds this run, stopped before its first checkpoint: starting it over (nothing was kept to resume from)`,
  );
}

/**
 * Trains a process reward model: layers the configuration (defaults, the config file, the flags; on
 * `--resume` the checkpoint's training fields come between the defaults and the file), reads the labeled
 * data, builds the model (a preset from scratch with the built-in word tokenizer, a local or Hub
 * backbone, or the checkpoint being resumed), runs @pqm/model's `trainPrm` and writes checkpoints,
 * `metrics.jsonl` and `train-config.json` into the output folder. An output folder that already holds a run
 * is resumed from its latest checkpoint (the same command run again continues where it stopped), or
 * refused when it has none; `overwrite` starts over. `options.signal` stops after the step in flight.
 * @throws CliError (exit 2) for a bad field or flag (naming it and its file), an unknown backbone form or
 *   template; CliError (exit 1) for missing data or a checkpoint that cannot resume; the errors of
 *   @pqm/data (naming file, line and field), of the Hub client and of @pqm/model (load, memory,
 *   divergence) otherwise.
 */
export async function runTrain(options: TrainCommandOptions): Promise<TrainCommandResult> {
  const log = (line: string) => {
    if (options.progress) process.stderr.write(`${line}\n`);
  };
  const fileLayer = options.configFile === undefined ? {} : await readTrainConfigFile(options.configFile);
  const flagLayer = checkConfigLayer(
    options.flags,
    "command line",
    (field) => options.flagNames[field] ?? `field '${field}'`,
  );
  const config = resolveTrainCommandConfig(mergeConfigLayers(fileLayer, flagLayer));
  checkTemplate(config.encoding.template);
  if (options.resume !== undefined && !existsSync(join(options.resume, "pqm.json"))) {
    throw new CliError(`--resume ${options.resume}: not a pqm checkpoint folder (no pqm.json)`);
  }
  if (options.resume !== undefined && options.overwrite === true) {
    throw new CliError("--overwrite starts over and --resume continues: give one of them", 2);
  }
  const outputDir =
    config.output.dir ?? (options.resume === undefined ? defaultRunFolder() : dirname(options.resume));
  const previous = options.resume ?? (await previousRun(outputDir, options.overwrite === true, log));
  const resumeFolder = previous === NO_CHECKPOINT_YET ? undefined : previous;
  if (resumeFolder !== undefined && !existsSync(join(resumeFolder, "pqm.json"))) {
    throw new CliError(
      `${resumeFolder}: the latest checkpoint in ${outputDir} has no pqm.json (a save cut short?); ` +
        "delete it to resume from the one before, or start over with --overwrite",
    );
  }
  // Everything that can be checked is checked before anything slow starts: the backbone's form, the
  // training fields (on --resume the checkpoint's own come under the file's and the flags'), the data.
  const source = resumeFolder === undefined ? parseBackbone(config.model.backbone) : null;
  const saved =
    resumeFolder === undefined
      ? { training: {}, checkpointEvery: undefined }
      : savedTrainingLayer((await readPqmMetadata(resumeFolder)).training, resumeFolder);
  let trainingConfig: TrainingConfig;
  try {
    trainingConfig = resolveTrainingConfig({
      ...saved.training,
      ...config.training,
      checkpointEvery: config.output.checkpointEvery ?? saved.checkpointEvery ?? 0,
    });
  } catch (error) {
    throw new CliError(
      `training configuration: ${error instanceof Error ? error.message : String(error)}`,
      2,
    );
  }
  const resolvedConfig = {
    ...config,
    output: { ...config.output, dir: outputDir, checkpointEvery: trainingConfig.checkpointEvery },
    training: trainingConfig,
  };
  const recordedConfig = JSON.parse(
    JSON.stringify({ ...resolvedConfig, resumedFrom: resumeFolder ?? null }),
  ) as JsonValue;
  if (previous === NO_CHECKPOINT_YET) await restartUnsavedRun(outputDir, recordedConfig, log);
  const trainRead = await readLabeled(config.data.train, "training data", config.data);
  const validationRead =
    config.data.validation === null
      ? undefined
      : await readLabeled(config.data.validation, "validation data", config.data);
  const train = trainRead.trajectories;
  const validation = validationRead?.trajectories;
  for (const [read, file] of [
    [trainRead, config.data.train],
    [validationRead, config.data.validation],
  ] as const) {
    if (read !== undefined && read.skipped.skipped > 0)
      log(`data: ${file}: ${describeSkipped(read.skipped)}`);
  }

  const selection = await selectBackend({
    ...(config.run.backend === "auto" ? {} : { backend: config.run.backend }),
    onWarning: (message) => log(`warning: ${message}`),
  });
  log(`training on ${selection.description}${selection.advice === null ? "" : `; ${selection.advice}`}`);
  log(
    `data: ${train.length} training trajectories from ${config.data.train}` +
      (validation === undefined ? "" : `, ${validation.length} validation from ${config.data.validation}`),
  );
  const built = await buildModel(
    config,
    source,
    resumeFolder,
    [...train, ...(validation ?? [])],
    log,
    options.progress,
  );
  const { model } = built;
  try {
    await mkdir(outputDir, { recursive: true });
    // Atomic: a kill mid-write must not leave a torn file that would make the same command refuse.
    const { writeFileAtomic } = await import("@pqm/data");
    await writeFileAtomic(
      join(outputDir, "train-config.json"),
      `${JSON.stringify(recordedConfig, null, 2)}\n`,
    );
    const backbone = model.backbone.config;
    log(
      `model: ${built.description}, hidden ${backbone.hiddenSize}, ${backbone.numHiddenLayers} layers, ` +
        `vocabulary ${backbone.vocabSize}; loss ${trainingConfig.loss}; output ${outputDir}`,
    );
    const view = new TrainProgressView(progressStyle(options.progress));
    options.onTrainingStart?.();
    let result: Awaited<ReturnType<typeof trainPrm>>;
    try {
      result = await trainPrm({
        model,
        train,
        ...(validation === undefined ? {} : { validation }),
        config: trainingConfig,
        run: {
          outputDir,
          ...(config.run.timeBudgetSeconds === null
            ? {}
            : { timeBudgetSeconds: config.run.timeBudgetSeconds }),
          onProgress: view.onProgress,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          ...(built.resume === undefined ? {} : { resume: built.resume }),
        },
      });
    } finally {
      view.close();
    }
    return {
      outputDir,
      checkpoint: result.checkpoints.at(-1) ?? null,
      checkpoints: result.checkpoints,
      metrics: join(outputDir, "metrics.jsonl"),
      steps: result.steps,
      resumedFromStep: built.resumedFromStep,
      stoppedBy: result.stoppedBy,
      elapsedSeconds: result.elapsedSeconds,
      tokensPerSecond: result.tokensPerSecond,
      validation: result.validation,
      backend: selection.tfBackend,
      model: {
        backbone: built.description,
        hiddenSize: backbone.hiddenSize,
        layers: backbone.numHiddenLayers,
        vocabSize: backbone.vocabSize,
        parameters: countParameters(backbone),
      },
      data: {
        train: train.length,
        validation: validation?.length ?? null,
        skipped: { train: trainRead.skipped, validation: validationRead?.skipped ?? null },
        rejected: result.rejected,
      },
      config: resolvedConfig,
    };
  } finally {
    model.dispose();
  }
}
