import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { registerGradients } from "@pqm/core";
import * as tf from "@tensorflow/tfjs-core";
import { DecoderBackbone } from "../backbone/decoder-backbone.js";
import type { DecoderConfig } from "../backbone/decoder-config.js";
import type { ActivationShape } from "../backbone/memory-estimate.js";
import { assertFitsMemory } from "../backbone/memory-estimate.js";
import { ModelLoadError } from "../backbone/model-load-error.js";
import { resolveDecoderConfig } from "../backbone/model-registry.js";
import type { SafetensorsCheckpoint } from "../backbone/safetensors/read-safetensors.js";
import { openSafetensorsCheckpoint } from "../backbone/safetensors/read-safetensors.js";
import { HF_EXPORT_INFO_FILE } from "../export/hf-token-classification.js";
import type { ScoreHeadWeights } from "../onnx/decoder-onnx-graph.js";
import { installFastWasmMatMul } from "../tfjs-backends/fast-wasm-matmul.js";
import { loadTokenizer } from "../tokenizer/hf-tokenizer.js";
import type { PrmTokenizer } from "../tokenizer/prm-tokenizer.js";
import { ConventionEncodingError } from "./anchored-encoding.js";
import { getScoringConvention, PQM_RELEASE_STEP_TAG } from "./convention-catalog.js";
import type { ConventionEncoder, ConventionEncoderOptions } from "./convention-encoder.js";
import { createConventionEncoder } from "./convention-encoder.js";
import type { ConventionDetection } from "./detect-convention.js";
import { bindConvention, conventionFromEvidence, describeEvidence } from "./detect-convention.js";
import type { FolderEvidence, TensorHeader } from "./folder-evidence.js";
import { readFolderEvidence } from "./folder-evidence.js";
import type { PqmExportFormat } from "./pqm-export.js";
import type { ScoringConvention, ScoringConventionName } from "./scoring-convention.js";
import type { WeightLayout } from "./weight-names.js";
import { decoderTensorName, findHeadTensor, findWeightLayout } from "./weight-names.js";

/** Options of {@link loadConventionModel}. */
export interface LoadConventionModelOptions extends ConventionEncoderOptions {
  /** The convention (a name of `scoringConventionNames`); default: detected from the folder. */
  convention?: string;
  /**
   * `pqm-release` only: the base model's folder, whose `config.json` and tokenizer files go with the state
   * dict (its own weights are not read).
   */
  backbone?: string;
  /** Batch shape the memory check assumes (default batch 1, sequence 512). */
  memoryShape?: ActivationShape;
  /** Skip the memory check. */
  skipMemoryCheck?: boolean;
}

/** A published PRM loaded for scoring: frozen backbone, score head, tokenizer and encoder. */
export interface ConventionModel {
  convention: ScoringConvention;
  /** How the convention was chosen: named by the caller, or detected (and from what). */
  detection: ConventionDetection | null;
  /** The model folder given. */
  folder: string;
  /** The backbone folder given (pqm-release), else null. */
  backboneFolder: string | null;
  config: DecoderConfig;
  /** The frozen decoder, without its LM head (the heads are read separately). */
  backbone: DecoderBackbone;
  head: ScoreHeadWeights;
  tokenizer: PrmTokenizer;
  encoder: ConventionEncoder;
}

type HeadKind = "value" | "qwen-score" | "token-pair" | "token-classification";

const HEAD_KIND: Record<ScoringConventionName, HeadKind> = {
  "pqm-release": "value",
  "qwen2.5-math-prm": "qwen-score",
  "math-shepherd": "token-pair",
  "skywork-prm": "value",
  "rlhflow-prm": "token-pair",
  "trl-value-head": "value",
  "trl-token-classification": "token-classification",
  "pqm-export": "token-classification",
};

/** The tensors each head cannot do without (the LM head is the embedding table when tied). */
const HEAD_TENSORS: Record<HeadKind, readonly string[]> = {
  value: ["v_head.summary.weight", "v_head.summary.bias"],
  "qwen-score": ["score.0.weight", "score.0.bias", "score.2.weight", "score.2.bias"],
  "token-pair": ["lm_head.weight"],
  "token-classification": ["score.weight"],
};

async function readConfigJson(path: string): Promise<Record<string, unknown>> {
  if (!existsSync(path)) throw new ModelLoadError(path, undefined, "not found");
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

/** What a wrong convention looks like in a message: what detection makes of the folder instead. */
function detectedHint(evidence: FolderEvidence): string {
  const detected = conventionFromEvidence(evidence);
  return detected === null
    ? ` (saw ${describeEvidence(evidence)})`
    : `; this folder looks like ${detected.convention} (${detected.reason})`;
}

/** One weights folder: its tensor headers, its layout, and its data (read on first use). */
class WeightSet {
  private opened: Promise<SafetensorsCheckpoint> | undefined;

  constructor(
    readonly weightsFolder: string,
    readonly headers: ReadonlyMap<string, TensorHeader>,
    readonly layout: WeightLayout,
  ) {}

  /** The file named in messages. */
  get fileName(): string {
    const single = join(this.weightsFolder, "model.safetensors");
    return existsSync(single) ? single : join(this.weightsFolder, "model.safetensors.index.json");
  }

  has(name: string | undefined): name is string {
    return name !== undefined && this.headers.has(name);
  }

  shape(name: string): number[] | undefined {
    return this.headers.get(name)?.shape;
  }

  checkpoint(): Promise<SafetensorsCheckpoint> {
    this.opened ??= openSafetensorsCheckpoint(this.weightsFolder);
    return this.opened;
  }
}

/**
 * Reads a stored tensor as float32 after checking its shape.
 * @throws ModelLoadError naming the file and tensor when absent or misshapen (`wanted` is the name the
 *   convention looks for, `hint` says what the folder looks like instead).
 */
async function readTensor(
  set: WeightSet,
  name: string | undefined,
  wanted: string,
  shape: readonly number[],
  hint: string,
): Promise<Float32Array> {
  if (!set.has(name)) throw new ModelLoadError(set.fileName, wanted, `tensor not found${hint}`);
  const stored = set.shape(name)!;
  if (!tf.util.arraysEqual(stored, [...shape])) {
    throw new ModelLoadError(
      set.headers.get(name)!.file,
      name,
      `expected shape [${shape.join(", ")}], got [${stored.join(", ")}]`,
    );
  }
  return (await set.checkpoint()).float32(name);
}

async function readHead(
  kind: HeadKind,
  set: WeightSet,
  config: DecoderConfig,
  encoder: ConventionEncoder,
  configPath: string,
  hint: string,
): Promise<ScoreHeadWeights> {
  const h = config.hiddenSize;
  const find = (name: string) => findHeadTensor(set.headers, set.layout, name);
  switch (kind) {
    case "value": {
      const weightName = find("v_head.summary.weight");
      const weight = await readTensor(set, weightName, "v_head.summary.weight", [1, h], hint);
      const bias = await readTensor(
        set,
        weightName?.replace(/weight$/, "bias"),
        "v_head.summary.bias",
        [1],
        hint,
      );
      return { weight, bias, outputs: 1 };
    }
    case "qwen-score": {
      const read = (name: string, shape: number[]) => readTensor(set, find(name), name, shape, hint);
      return {
        hidden: { weight: await read("score.0.weight", [h, h]), bias: await read("score.0.bias", [h]) },
        weight: await read("score.2.weight", [2, h]),
        bias: await read("score.2.bias", [2]),
        outputs: 2,
      };
    }
    case "token-classification": {
      const weightName = find("score.weight");
      if (!set.has(weightName))
        throw new ModelLoadError(set.fileName, "score.weight", `tensor not found${hint}`);
      const rows = set.shape(weightName)![0];
      if (rows !== 1 && rows !== 2) {
        throw new ModelLoadError(
          set.headers.get(weightName)!.file,
          weightName,
          `a PRM token classifier has 1 or 2 labels, this one has ${rows} rows`,
        );
      }
      const id2label = config.raw.id2label;
      const numLabels =
        config.raw.num_labels ??
        (typeof id2label === "object" && id2label !== null ? Object.keys(id2label).length : undefined);
      if (numLabels !== undefined && numLabels !== rows) {
        throw new ModelLoadError(
          configPath,
          config.raw.num_labels === undefined ? "id2label" : "num_labels",
          `${JSON.stringify(numLabels)} labels, but ${weightName} has ${rows} rows`,
        );
      }
      const weight = await readTensor(set, weightName, "score.weight", [rows, h], hint);
      const biasName = weightName.replace(/weight$/, "bias");
      const bias = set.has(biasName)
        ? await readTensor(set, biasName, "score.bias", [rows], hint)
        : new Float32Array(rows);
      return { weight, bias, outputs: rows };
    }
    case "token-pair": {
      const { positive, negative } = encoder.tokenIds as { positive: number; negative: number };
      const lmName = find("lm_head.weight");
      const tied = config.raw.tie_word_embeddings === true;
      if (lmName === undefined && !tied)
        throw new ModelLoadError(
          set.fileName,
          "lm_head.weight",
          `tensor not found and tie_word_embeddings is not true${hint}`,
        );
      const tableName = lmName ?? decoderTensorName(set.layout, "model.embed_tokens.weight");
      const rows = set.shape(tableName)?.[0] ?? 0;
      const table = await readTensor(set, tableName, tableName, [rows, h], hint);
      for (const [role, id] of [
        ["'+'", positive],
        ["'-'", negative],
      ] as const) {
        if (id >= rows)
          throw new ModelLoadError(
            set.fileName,
            tableName,
            `the ${role} token id ${id} is outside its ${rows} rows`,
          );
      }
      // Rows [negative, positive]: the head's output 1 − output 0 is logit('+') − logit('-').
      const weight = new Float32Array(2 * h);
      weight.set(table.subarray(negative * h, (negative + 1) * h), 0);
      weight.set(table.subarray(positive * h, (positive + 1) * h), h);
      return { weight, bias: new Float32Array(2), outputs: 2 };
    }
  }
}

/**
 * pqm-export's head: one label (pqm's value head), its bias where the export put it. A `transformers`
 * export holds `score.bias`; a `vllm` one holds none and records the value in `pqm_export.json`, which is
 * then the head's bias, so the logit is pqm's own score either way.
 * @throws ModelLoadError naming the file and tensor when the head has two labels, or when the bias is
 *   missing from where `pqm_export.json` says it is, or present in both places.
 */
function pqmExportHead(head: ScoreHeadWeights, format: PqmExportFormat, set: WeightSet): ScoreHeadWeights {
  const biasName = findHeadTensor(set.headers, set.layout, "score.bias");
  if (head.outputs !== 1) {
    throw new ModelLoadError(
      set.fileName,
      "score.weight",
      `${head.outputs} rows: pqm's export has one label`,
    );
  }
  if (format.scoreBias.in === "score.bias") {
    if (!set.has(biasName))
      throw new ModelLoadError(
        set.fileName,
        "score.bias",
        `tensor not found, but ${format.file} says the bias is there (score_bias.in)`,
      );
    return head;
  }
  if (set.has(biasName)) {
    throw new ModelLoadError(
      set.fileName,
      biasName,
      `present, but ${format.file} records the bias itself (score_bias.in ${JSON.stringify(format.scoreBias.in)}): which one holds?`,
    );
  }
  return { ...head, bias: Float32Array.of(format.scoreBias.value) };
}

/**
 * Loads a published PRM's folder for scoring: the convention (named, or detected), the decoder (frozen,
 * without its LM head) from the weights under whatever prefix they are stored (`model.`,
 * `pretrained_model.model.`, a bare state dict...), the convention's head, the tokenizer and the encoder.
 * `pqm-release` reads `config.json` and the tokenizer from `options.backbone` (the tokenizer gets the
 * `[PRM]` token; the embedding table keeps the state dict's resized rows). `pqm-export` reads the folder's
 * `pqm_export.json` (prompt, step tag, BOS) and takes the head's bias from there when the export put it
 * there; its `convention` is the folder's (see `scoringConventionForFolder`). Call `selectBackend()` first
 * (any TF.js backend; the weights load onto the active one).
 * @throws ModelLoadError naming the file and field or tensor: a missing folder, file or tensor (with what
 *   the folder looks like when a named convention does not fit it), a misshapen tensor, an unknown
 *   `model_type`, a backbone folder missing or given where it does not belong; MemoryLimitError when the
 *   model does not fit the backend; Error for an unknown convention name.
 */
export async function loadConventionModel(
  folder: string,
  options: LoadConventionModelOptions = {},
): Promise<ConventionModel> {
  registerGradients();
  const named = options.convention === undefined ? undefined : getScoringConvention(options.convention);
  const backboneFolder = options.backbone ?? null;
  // The tokenizer (and config) of pqm-release live in the backbone folder.
  const tokenizerFolder = backboneFolder ?? folder;
  const evidence = await readFolderEvidence(folder, tokenizerFolder);
  let detection: ConventionDetection | null = null;
  let name: ScoringConventionName;
  if (named === undefined) {
    detection = conventionFromEvidence(evidence);
    if (detection === null) {
      throw new ModelLoadError(
        folder,
        undefined,
        `cannot tell which PRM convention this folder follows (saw ${describeEvidence(evidence)}); name one`,
      );
    }
    name = detection.convention;
  } else {
    name = named.name;
  }
  const hint = named === undefined ? "" : detectedHint(evidence);
  if (name === "pqm-export" && !evidence.hasPqmExport) {
    throw new ModelLoadError(join(folder, HF_EXPORT_INFO_FILE), undefined, `not found${hint}`);
  }
  // The folder's own convention: pqm-export's prompt and bias, a one-label TRL classifier's readout.
  const bound = await bindConvention(name, evidence);
  const convention: ScoringConvention = bound.convention;
  if (convention.needsBackbone && backboneFolder === null) {
    throw new ModelLoadError(
      folder,
      undefined,
      `${convention.name} is a bare state dict: give the base model's folder (config.json, tokenizer) as the backbone`,
    );
  }
  if (!convention.needsBackbone && backboneFolder !== null) {
    throw new ModelLoadError(
      backboneFolder,
      undefined,
      `a backbone folder belongs to pqm-release only; ${convention.name} loads everything from ${folder}`,
    );
  }
  if (evidence.config === null && !convention.needsBackbone) {
    throw new ModelLoadError(join(folder, "config.json"), undefined, `not found${hint}`);
  }
  const configPath = join(backboneFolder ?? folder, "config.json");
  const raw = backboneFolder === null ? evidence.config! : await readConfigJson(configPath);
  const primary = new WeightSet(
    evidence.weightsFolder,
    evidence.tensors,
    findWeightLayout(evidence.tensors, evidence.weightsFolder),
  );
  const embedName = decoderTensorName(primary.layout, "model.embed_tokens.weight");
  const rows = primary.shape(embedName)![0]!;
  // The decoder is built without an LM head (tie_word_embeddings forced on): only the heads above are read,
  // so a 7B model's vocabulary-sized LM head is never loaded. vocab_size follows the stored table (PQM's
  // release resized it for [PRM]).
  const config = resolveDecoderConfig({ ...raw, vocab_size: rows, tie_word_embeddings: true }, configPath);
  if (options.skipMemoryCheck !== true)
    assertFitsMemory(config, "frozen", tf.getBackend(), options.memoryShape);
  const tokenizer = evidence.tokenizer ?? (await loadTokenizer(tokenizerFolder));
  if (convention.name === "pqm-release") {
    const { id } = tokenizer.addSpecialToken(PQM_RELEASE_STEP_TAG);
    if (id >= rows) {
      throw new ModelLoadError(
        primary.fileName,
        embedName,
        `${rows} rows, but the tokenizer of ${tokenizerFolder} gives ${PQM_RELEASE_STEP_TAG} the id ${id}: ` +
          "the state dict was made with another tokenizer",
      );
    }
  }
  if (tokenizer.vocabSize > rows) {
    throw new ModelLoadError(
      primary.fileName,
      embedName,
      `${rows} rows, fewer than the tokenizer's ${tokenizer.vocabSize} ids`,
    );
  }
  // The head's tensors are looked for before the tokenizer's tokens: a missing head says most plainly
  // that the folder is of another family.
  for (const name of HEAD_TENSORS[HEAD_KIND[convention.name]]) {
    if (name === "lm_head.weight" && raw.tie_word_embeddings === true) continue;
    if (!primary.has(findHeadTensor(primary.headers, primary.layout, name)))
      throw new ModelLoadError(primary.fileName, name, `tensor not found${hint}`);
  }
  let encoder: ConventionEncoder;
  try {
    encoder = createConventionEncoder(convention.name, tokenizer, {
      ...options,
      ...(bound.pqmExport === undefined ? {} : { pqmExport: bound.pqmExport }),
    });
  } catch (error) {
    if (error instanceof ConventionEncodingError)
      throw new ModelLoadError(
        join(tokenizerFolder, "tokenizer.json"),
        undefined,
        `${error.message}${hint}`,
        { cause: error },
      );
    throw error;
  }
  // The head reads config.json as stored (tie_word_embeddings, num_labels), not as resolved above.
  let head = await readHead(
    HEAD_KIND[convention.name],
    primary,
    { ...config, raw },
    encoder,
    configPath,
    hint,
  );
  if (bound.pqmExport !== undefined) head = pqmExportHead(head, bound.pqmExport, primary);
  if (tf.getBackend() === "wasm") installFastWasmMatMul();
  const checkpoint = await primary.checkpoint();
  const backbone = new DecoderBackbone(
    config,
    (name, shape) => {
      const stored = decoderTensorName(primary.layout, name);
      if (!primary.has(stored)) throw new ModelLoadError(primary.fileName, stored, `tensor not found${hint}`);
      const { file, entry } = checkpoint.locate(stored);
      if (!tf.util.arraysEqual(entry.shape, shape)) {
        throw new ModelLoadError(
          file.file,
          stored,
          `expected shape [${shape.join(", ")}], got [${entry.shape.join(", ")}]`,
        );
      }
      return tf.tensor(file.float32(stored), shape, "float32");
    },
    { mode: "frozen" },
  );
  return {
    convention,
    detection,
    folder,
    backboneFolder,
    config,
    backbone,
    head,
    tokenizer,
    encoder,
  };
}
