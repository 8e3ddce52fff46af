import { readFile } from "node:fs/promises";
import { basename, dirname, extname, isAbsolute, resolve } from "node:path";
import { lossNames } from "@pqm/core";
import type { TrainingConfig } from "@pqm/model";
import { parseDocument, visit } from "yaml";
import { z } from "zod";
import { CliError } from "../../shared/cli-error.js";

// Configuration is data: defaults, then the config file, then flags, later ones winning. Every layer is
// checked with the one schema below, so a bad value fails with its dotted field name and where it came
// from. Every field is optional in a layer; `resolveTrainCommandConfig` fills the CLI's own defaults, and
// @pqm/model's `resolveTrainingConfig` those of the `training` section.

const numberAtLeastZero = "expected a number >= 0";
const positiveNumber = "expected a number > 0";
const unitInterval = "expected a number in [0, 1)";
const shareInterval = "expected a number in [0, 1]";
const wholeAtLeastZero = "expected a whole number >= 0";
const wholeAtLeastOne = "expected a whole number >= 1";

function numberField(message: string, check: (value: number) => boolean) {
  return z.number({ error: message }).refine(check, { error: message });
}

function intField(message: string, minimum: number) {
  return z.int({ error: message }).min(minimum, { error: message });
}

function choiceField<const T extends readonly [string, ...string[]]>(choices: T) {
  return z.enum(choices, { error: `expected one of ${choices.join(", ")}` });
}

const text = z.string({ error: "expected a string" }).min(1, { error: "expected a non-empty string" });

/** The TF.js backends `--backend` accepts; `auto` lets @pqm/model choose the fastest installed. */
export const trainBackendChoices = ["auto", "wasm", "cpu", "webgpu", "tensorflow", "tensorflow-gpu"] as const;

/** How over-long rows are handled (`encoding.overflow`), as @pqm/model's encoder names it. */
export const overflowChoices = ["truncate-question", "drop"] as const;

const dataSection = z.strictObject({
  /** Labeled training file: Math-Shepherd, soft-label, PRM800K, ProcessBench or trajectory JSONL/JSON/Parquet. */
  train: text.optional(),
  /** Labeled validation file; null: hold out `training.validationFraction` of the training questions. */
  validation: text.nullable().optional(),
  /** Turn every row the reader would skip (and count) into an error naming its line and reason. */
  strict: z.boolean({ error: "expected true or false" }).optional(),
  /** The largest share of a file's rows that may be skipped before training refuses the file (0.01). */
  maxSkippedShare: numberField(shareInterval, (value) => value >= 0 && value <= 1).optional(),
});

const modelSection = z.strictObject({
  /** A local folder, `hf://owner/name[@revision][/subfolder]`, or `preset:<tiny|small|medium|large>`. */
  backbone: text.optional(),
  /** Seed of the initialization (the whole backbone from a preset; the value head otherwise). */
  seed: intField(wholeAtLeastZero, 0).optional(),
});

const encodingSection = z.strictObject({
  /** Prompt template name; null: `plain` from a preset, `pqm-alpaca` on a pretrained backbone. */
  template: text.nullable().optional(),
  /** Longest row in tokens; null: the backbone's `max_position_embeddings`. */
  maxLength: intField(wholeAtLeastOne, 1).nullable().optional(),
  overflow: choiceField(overflowChoices).optional(),
  /** Put the tokenizer's BOS first. */
  addBos: z.boolean({ error: "expected true or false" }).optional(),
  /** The step tag, added as a special token (default `[PRM]`). */
  stepTag: text.optional(),
  /** Use this existing token as the tag instead (pretrained backbones only); null: add `stepTag`. */
  existingStepTag: text.nullable().optional(),
});

const trainingSection = z.strictObject({
  loss: choiceField(lossNames).optional(),
  zeta: numberField(numberAtLeastZero, (value) => value >= 0).optional(),
  labels: choiceField(["hard", "soft"]).optional(),
  learningRate: numberField(positiveNumber, (value) => value > 0).optional(),
  warmupRatio: numberField(unitInterval, (value) => value >= 0 && value < 1).optional(),
  warmupSteps: intField(wholeAtLeastZero, 0).nullable().optional(),
  decay: choiceField(["linear", "cosine", "constant"]).optional(),
  minLearningRate: numberField(numberAtLeastZero, (value) => value >= 0).optional(),
  weightDecay: numberField(numberAtLeastZero, (value) => value >= 0).optional(),
  beta1: numberField(unitInterval, (value) => value >= 0 && value < 1).optional(),
  beta2: numberField(unitInterval, (value) => value >= 0 && value < 1).optional(),
  epsilon: numberField(positiveNumber, (value) => value > 0).optional(),
  maxGradNorm: numberField(positiveNumber, (value) => value > 0)
    .nullable()
    .optional(),
  gradientAccumulation: intField(wholeAtLeastOne, 1).optional(),
  epochs: numberField(positiveNumber, (value) => value > 0).optional(),
  maxSteps: intField(wholeAtLeastOne, 1).nullable().optional(),
  batchSize: intField(wholeAtLeastOne, 1).nullable().optional(),
  maxTokensPerBatch: intField(wholeAtLeastOne, 1).nullable().optional(),
  seed: intField(wholeAtLeastZero, 0).optional(),
  validationFraction: numberField(unitInterval, (value) => value >= 0 && value < 1).optional(),
  evalEvery: intField(wholeAtLeastZero, 0).optional(),
});

const outputSection = z.strictObject({
  /** Folder of the checkpoints (`checkpoint-<step>`), `metrics.jsonl` and `train-config.json`. */
  dir: text.optional(),
  /** Save a checkpoint every N optimizer steps (and at the end); 0: only at the end. */
  checkpointEvery: intField(wholeAtLeastZero, 0).optional(),
});

const runSection = z.strictObject({
  /** Stop after this many seconds of training (a checkpoint is written at the stop); null: no limit. */
  timeBudgetSeconds: numberField(positiveNumber, (value) => value > 0)
    .nullable()
    .optional(),
  backend: choiceField(trainBackendChoices).optional(),
});

const sections = {
  data: dataSection,
  model: modelSection,
  encoding: encodingSection,
  training: trainingSection,
  output: outputSection,
  run: runSection,
};

/** The schema of one configuration layer (a config file, or the flags): every field optional, no unknown fields. */
export const trainConfigSchema = z.strictObject({
  data: dataSection.optional(),
  model: modelSection.optional(),
  encoding: encodingSection.optional(),
  training: trainingSection.optional(),
  output: outputSection.optional(),
  run: runSection.optional(),
});

/** One configuration layer as read from a file or the flags (every field optional). */
export type TrainConfigLayer = z.infer<typeof trainConfigSchema>;

// Compile-time check: the training section names exactly TrainingConfig's fields (checkpointEvery lives
// in `output`), so a field added to @pqm/model's config fails the CLI's typecheck until it is added here.
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** True when the `training` section covers every TrainingConfig field but `checkpointEvery`. */
export type TrainingSectionIsComplete = SameKeys<
  keyof NonNullable<TrainConfigLayer["training"]>,
  Exclude<keyof TrainingConfig, "checkpointEvery">
>;
const trainingSectionIsComplete: TrainingSectionIsComplete = true;
void trainingSectionIsComplete;

/** The configuration of `pqm train` after layering, with the CLI's defaults filled in. */
export interface TrainCommandConfig {
  data: { train: string; validation: string | null; strict: boolean; maxSkippedShare: number };
  model: { backbone: string; seed: number };
  encoding: {
    template: string | null;
    maxLength: number | null;
    overflow: (typeof overflowChoices)[number];
    addBos: boolean;
    stepTag: string;
    existingStepTag: string | null;
  };
  /** Only the fields some layer set; @pqm/model fills the rest (`resolveTrainingConfig`). */
  training: Partial<TrainingConfig>;
  output: { dir: string | null; checkpointEvery: number | null };
  run: { timeBudgetSeconds: number | null; backend: (typeof trainBackendChoices)[number] };
}

/** The share of a data file's rows that may be skipped (and counted) before `pqm train` refuses it. */
export const DEFAULT_MAX_SKIPPED_SHARE = 0.01;

/** The backbone used when no layer names one: a tiny Llama trained from scratch on the word tokenizer. */
export const DEFAULT_BACKBONE = "preset:tiny";

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function knownKeys(path: readonly PropertyKey[]): string[] {
  if (path.length === 0) return Object.keys(sections);
  const section = sections[String(path[0]) as keyof typeof sections];
  return section === undefined ? [] : Object.keys(section.shape);
}

/** A key as part of a dotted field name: as is when plain, JSON-quoted when it holds white space or control characters. */
function printableKey(key: string): string {
  return /^[^\s\p{C}'"]+$/u.test(key) ? key : JSON.stringify(key);
}

/**
 * One line per problem of a layer: `field 'training.zeta': expected a number >= 0, got "four"`. `name`
 * turns a dotted field into what the person wrote (the field itself in a file, a flag on the command line).
 */
export function describeConfigIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  name: (field: string) => string,
): string[] {
  return issues.map((issue) => {
    const field = issue.path.map((part) => printableKey(String(part))).join(".");
    if (issue.code === "unrecognized_keys") {
      const prefix = field === "" ? "" : `${field}.`;
      const known = knownKeys(issue.path);
      return issue.keys
        .map(
          (key) =>
            `${name(`${prefix}${printableKey(key)}`)}: unknown field (known here: ${known.join(", ")})`,
        )
        .join("; ");
    }
    if (field === "") {
      return `expected a mapping of sections (${Object.keys(sections).join(", ")}), got ${describeValue(input)}`;
    }
    if (issue.code === "invalid_type" && issue.expected === "object") {
      return `${name(field)}: expected a mapping of fields (${knownKeys(issue.path).join(", ")}), got ${describeValue(valueAt(input, issue.path))}`;
    }
    return `${name(field)}: ${issue.message}, got ${describeValue(valueAt(input, issue.path))}`;
  });
}

/** Checks one layer; throws a usage CliError whose message starts with `where` and names every bad field. */
export function checkConfigLayer(
  input: unknown,
  where: string,
  name: (field: string) => string = (field) => `field '${field}'`,
): TrainConfigLayer {
  const parsed = trainConfigSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new CliError(`${where}: ${describeConfigIssues(parsed.error.issues, input, name).join("; ")}`, 2);
}

/** Line and column (1-based) of a character offset. */
function lineAndColumn(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, offset).split("\n");
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

/** The offset V8 names in a JSON.parse message (`... in JSON at position 12`), if any. */
function jsonMessageOffset(message: string): number | null {
  const position = /position (\d+)/.exec(message);
  return position === null ? null : Number(position[1]);
}

/**
 * Where JSON.parse fails in `source`. Some V8 messages carry no position (`Unexpected token '}',
 * "..." is not valid JSON`); then the shortest prefix that already fails before its own end is
 * found by bisection, and the error is its last character.
 */
function jsonErrorOffset(source: string, message: string): number {
  const named = jsonMessageOffset(message);
  if (named !== null) return named;
  const failsInside = (length: number): boolean => {
    try {
      JSON.parse(source.slice(0, length));
      return false;
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      if (text.includes("end of JSON input")) return false;
      const offset = jsonMessageOffset(text);
      return offset === null || offset < length;
    }
  };
  let low = 0;
  let high = source.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (failsInside(middle)) high = middle;
    else low = middle + 1;
  }
  return Math.max(0, low - 1);
}

function parseConfigText(path: string, source: string): unknown {
  const name = basename(path);
  if (extname(path).toLowerCase() === ".json") {
    try {
      return JSON.parse(source) as unknown;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const { line, column } = lineAndColumn(source, jsonErrorOffset(source, message));
      // V8 quotes a piece of the text, line breaks included: the message stays on one line.
      throw new CliError(`${name}:${line}:${column}: not valid JSON: ${message.replace(/\s+/g, " ")}`, 2);
    }
  }
  const document = parseDocument(source);
  const problem = document.errors[0];
  if (problem !== undefined) {
    const where = problem.linePos?.[0];
    const at = where === undefined ? "" : `:${where.line}:${where.col}`;
    // The parser's message ends with " at line L, column C:" and a drawing of the line: the prefix says it.
    const message = (problem.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
    throw new CliError(`${name}${at}: not valid YAML: ${message}`, 2);
  }
  let value: unknown;
  try {
    value = document.toJS();
  } catch (error) {
    // Aliases are resolved here, not by the parser: an alias to no anchor, or so many that the
    // document would explode in memory ("billion laughs"). Point at the first alias.
    let at = "";
    visit(document, {
      Alias(_key, node) {
        if (node.range) {
          const { line, column } = lineAndColumn(source, node.range[0]);
          at = `:${line}:${column}`;
        }
        return visit.BREAK;
      },
    });
    throw new CliError(`${name}${at}: not valid YAML: ${error instanceof Error ? error.message : error}`, 2);
  }
  checkPlainValues(value, name, "");
  return value;
}

/**
 * Refuses the values YAML can hold but a config cannot (`!!binary` bytes, timestamps, sets and maps
 * with complex keys), naming the field, before the schema sees them.
 */
function checkPlainValues(value: unknown, name: string, field: string): void {
  if (value === null || typeof value !== "object") return;
  const where = field === "" ? "the document" : `field '${field}'`;
  const prefix = field === "" ? "" : `${field}.`;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) checkPlainValues(item, name, `${prefix}${index}`);
    return;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) {
    const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? "an unknown value";
    throw new CliError(
      `${name}: ${where}: expected a string, number, boolean, list or mapping, got ${kind}`,
      2,
    );
  }
  for (const [key, item] of Object.entries(value))
    checkPlainValues(item, name, `${prefix}${printableKey(key)}`);
}

function isLocalPath(value: string): boolean {
  return !value.startsWith("hf://") && !value.startsWith("preset:");
}

/**
 * Reads a config file (`.json` as JSON, anything else as YAML), checks it against the schema and makes
 * its relative paths (data files, a local backbone folder, the output folder) relative to the file's
 * folder, so a config file works from any working directory. An empty file is an empty layer.
 * @throws CliError (exit 2) naming the file and the line (syntax) or the dotted field (schema); exit 1
 *   when the file cannot be read.
 */
export async function readTrainConfigFile(path: string): Promise<TrainConfigLayer> {
  let source: string;
  try {
    // A byte-order mark some editors add is not part of the JSON or YAML.
    source = (await readFile(path, "utf8")).replace(/^\uFEFF/, "");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(error);
    throw new CliError(`--config ${path}: ${reason}`);
  }
  const raw = parseConfigText(path, source) ?? {};
  const layer = checkConfigLayer(raw, basename(path));
  const folder = dirname(resolve(path));
  const local = (value: string) => (isAbsolute(value) ? value : resolve(folder, value));
  const data = layer.data;
  if (data?.train !== undefined) data.train = local(data.train);
  if (data?.validation !== undefined && data.validation !== null) data.validation = local(data.validation);
  if (layer.model?.backbone !== undefined && isLocalPath(layer.model.backbone)) {
    layer.model.backbone = local(layer.model.backbone);
  }
  if (layer.output?.dir !== undefined) layer.output.dir = local(layer.output.dir);
  return layer;
}

/** Layers merged section by section; a field a later layer sets (null included) wins, `undefined` does not. */
export function mergeConfigLayers(...layers: readonly TrainConfigLayer[]): TrainConfigLayer {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const layer of layers) {
    for (const [section, fields] of Object.entries(layer)) {
      if (fields === undefined) continue;
      const target = merged[section] ?? {};
      merged[section] = target;
      for (const [field, value] of Object.entries(fields as Record<string, unknown>)) {
        if (value !== undefined) target[field] = value;
      }
    }
  }
  return merged as TrainConfigLayer;
}

/**
 * Fills the CLI's defaults into merged layers. The `training` section stays partial (@pqm/model's
 * `resolveTrainingConfig` owns its defaults).
 * @throws CliError (exit 2) when no layer names the training data.
 */
export function resolveTrainCommandConfig(layer: TrainConfigLayer): TrainCommandConfig {
  const train = layer.data?.train;
  if (train === undefined) {
    throw new CliError("no training data: give --train <file> or data.train in the config file", 2);
  }
  // Zod's inferred fields are each a subset of TrainingConfig's, so this assignment is checked.
  const training: Partial<TrainingConfig> = { ...layer.training };
  return {
    data: {
      train,
      validation: layer.data?.validation ?? null,
      strict: layer.data?.strict ?? false,
      maxSkippedShare: layer.data?.maxSkippedShare ?? DEFAULT_MAX_SKIPPED_SHARE,
    },
    model: { backbone: layer.model?.backbone ?? DEFAULT_BACKBONE, seed: layer.model?.seed ?? 0 },
    encoding: {
      template: layer.encoding?.template ?? null,
      maxLength: layer.encoding?.maxLength ?? null,
      overflow: layer.encoding?.overflow ?? "truncate-question",
      addBos: layer.encoding?.addBos ?? false,
      stepTag: layer.encoding?.stepTag ?? "[PRM]",
      existingStepTag: layer.encoding?.existingStepTag ?? null,
    },
    training,
    output: { dir: layer.output?.dir ?? null, checkpointEvery: layer.output?.checkpointEvery ?? null },
    run: {
      timeBudgetSeconds: layer.run?.timeBudgetSeconds ?? null,
      backend: layer.run?.backend ?? "auto",
    },
  };
}
