import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, open, readFile, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { writeFileAtomic } from "@pqm/data";
import { readDecoderConfig } from "../backbone/load-pretrained.js";
import { ModelLoadError } from "../backbone/model-load-error.js";
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from "../backbone/safetensors/half-float.js";
import { readSafetensorsHeader, type SafetensorsHeader } from "../backbone/safetensors/read-safetensors.js";
import type { PqmMetadata } from "../checkpoint/checkpoint-format.js";
import { CHECKPOINT_FILES } from "../checkpoint/checkpoint-format.js";
import { readPqmMetadata } from "../checkpoint/load-checkpoint.js";
import { MODEL_PACKAGE_VERSION } from "../checkpoint/package-version.js";
import { saveCheckpoint } from "../checkpoint/save-checkpoint.js";
import { verifyCheckpointFiles } from "../checkpoint/verify-checkpoint.js";
import { ProcessRewardModel } from "../prm/process-reward-model.js";
import { renderPrompt } from "../tokenizer/prompt-templates.js";
import type { StreamedTensor } from "./safetensors-stream.js";
import { safetensorsChunks } from "./safetensors-stream.js";

/** The file describing an export: step tag, prompt format, score bias, how to serve it. */
export const HF_EXPORT_INFO_FILE = "pqm_export.json";
/** Value of `pqm_export.json`'s `format` field. */
export const HF_TOKEN_CLASSIFICATION_FORMAT = "pqm-hf-token-classification/1";

/** The token-classification class of each backbone `model_type` the export handles. */
export const HF_TOKEN_CLASSIFICATION_ARCHITECTURES: Readonly<Record<string, string>> = Object.freeze({
  llama: "LlamaForTokenClassification",
  mistral: "MistralForTokenClassification",
  qwen2: "Qwen2ForTokenClassification",
});

/**
 * Who loads the folder. transformers' `*ForTokenClassification` has `score = Linear(hidden, num_labels)`
 * with a bias, so `transformers` writes pqm's value-head bias as `score.bias` and the logit is exact.
 * vLLM's pooling runner turns `*ForTokenClassification` into its own classifier whose `score` has no
 * bias, and refuses a checkpoint holding `score.bias` ("There is no module or parameter named
 * 'score.bias'"): `vllm` leaves the tensor out and records the bias in `pqm_export.json`
 * (`score_bias.value`), to be added to vLLM's logit. Nothing else differs.
 */
export type HfExportTarget = "transformers" | "vllm";

/** Options of {@link exportHuggingFaceTokenClassification}. */
export interface HfTokenClassificationExportOptions {
  /** Default `transformers` (see {@link HfExportTarget}). */
  target?: HfExportTarget;
  /**
   * For a checkpoint folder: check its files against the sizes and digests in `pqm.json` first
   * (default true, as `loadCheckpoint`).
   */
  verify?: boolean;
  /** A question and steps rendered into `pqm_export.json` as an example of the prompt (default: a short one). */
  example?: { question: string; steps: string[] };
}

/** What {@link exportHuggingFaceTokenClassification} wrote. */
export interface HfTokenClassificationExport {
  folder: string;
  /** `LlamaForTokenClassification`, `Qwen2ForTokenClassification` or `MistralForTokenClassification`. */
  architecture: string;
  target: HfExportTarget;
  /** The step tag: its text and id; the score is read at every position holding this id. */
  stepTag: { text: string; id: number };
  /** The value head's bias, and where it went: `score.bias` or `pqm_export.json` only. */
  scoreBias: { value: number; in: "score.bias" | typeof HF_EXPORT_INFO_FILE };
  /** Files written, relative to `folder`. */
  files: string[];
  /** A `vllm serve` command line for the folder (STEP pooling at the tag). */
  vllmCommand: string;
}

/** `pqm_export.json`. */
export interface HfTokenClassificationInfo {
  format: typeof HF_TOKEN_CLASSIFICATION_FORMAT;
  architecture: string;
  target: HfExportTarget;
  /** The reading convention (see @pqm/model's `conventions`): num_labels 1, the raw logit. */
  convention: "pqm-export";
  score: string;
  step_tag: { text: string; id: number; mode: string };
  score_bias: { value: number; in: "score.bias" | typeof HF_EXPORT_INFO_FILE; note: string };
  prompt: {
    template: string;
    head: string;
    middle: string;
    tail: string;
    step_format: { number_steps: boolean; tag_separator: string; step_separator: string };
    add_bos: boolean;
    bos_token_id: number | null;
    rule: string;
    example: { question: string; steps: string[]; text: string };
  };
  vllm: { command: string; pooler_config: Record<string, unknown>; readout: string };
  source: { loss: string | null; zeta: number | null; step: number; "@pqm/model": string };
}

const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "chat_template.jinja",
];

const DEFAULT_EXAMPLE = {
  question: "Tom has 3 apples and buys 4 more. How many apples does he have?",
  steps: ["Tom starts with 3 apples.", "3 + 4 = 7. The answer is: 7"],
};

/**
 * Exports a PRM trained by pqm to the layout Hugging Face transformers and vLLM's pooling runner load: a
 * token-classification model with one label (`LlamaForTokenClassification`, `Qwen2ForTokenClassification`
 * or `MistralForTokenClassification`, after the backbone's `model_type`). The folder holds:
 *
 * - `config.json`: the checkpoint's config with `architectures`, `num_labels: 1`, `id2label`, `label2id`;
 * - `model.safetensors`: the backbone under its published names (`model.*`, as stored, LM head left out)
 *   and the value head as `score.weight` `[1, hidden]` (+ `score.bias` `[1]` for transformers);
 * - the tokenizer files, with the step tag as an added special token;
 * - `pqm_export.json`: the step tag and its id, the prompt format, the score bias, the vLLM command.
 *
 * The value at each step tag is the raw logit, which is pqm's value head output (log-odds that the step
 * is correct); pqm reads it back as the `pqm-export` scoring convention. Tensors are copied from the
 * checkpoint's safetensors 16 MiB at a time, in their stored dtype, so no TF.js and no full copy in
 * memory is needed for a folder; a model object is first saved to a temporary checkpoint.
 * @param source a pqm checkpoint folder (with `pqm.json`) or a ProcessRewardModel.
 * @param outFolder written atomically (an existing folder is replaced).
 * @throws ModelLoadError naming the file and field (no `pqm.json`, a model type without a token
 *   classification class, a missing tensor or tag); CheckpointIntegrityError for altered files.
 */
export async function exportHuggingFaceTokenClassification(
  source: string | ProcessRewardModel,
  outFolder: string,
  options: HfTokenClassificationExportOptions = {},
): Promise<HfTokenClassificationExport> {
  if (source instanceof ProcessRewardModel) {
    const scratch = await mkdtemp(join(tmpdir(), "pqm-hf-export-"));
    try {
      const checkpoint = join(scratch, "checkpoint");
      await saveCheckpoint(checkpoint, source);
      return await exportFolder(checkpoint, outFolder, { ...options, verify: false });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  return exportFolder(source, outFolder, options);
}

async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  } catch (cause) {
    throw new ModelLoadError(path, undefined, "missing or not valid JSON", { cause });
  }
}

function scalarValue(bytes: Buffer, dtype: string, file: string): number {
  if (dtype === "F32") return bytes.readFloatLE(0);
  if (dtype === "F16") return float16BitsToFloat32(bytes.readUInt16LE(0));
  if (dtype === "BF16") return bfloat16BitsToFloat32(bytes.readUInt16LE(0));
  throw new ModelLoadError(file, "v_head.summary.bias", `dtype ${dtype} is not a float type`);
}

async function readTensorBytes(path: string, header: SafetensorsHeader, name: string): Promise<Buffer> {
  const entry = header.entries.get(name);
  if (entry === undefined) throw new ModelLoadError(path, name, "missing");
  const [begin, end] = entry.dataOffsets;
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(end - begin);
    await handle.read(buffer, 0, end - begin, header.dataStart + begin);
    return buffer;
  } finally {
    await handle.close();
  }
}

/**
 * Writes files (the weights streamed) into a temporary sibling of `folder`, each fsynced, then puts it in
 * `folder`'s place (an existing folder is moved aside first and removed after), so a reader never sees
 * half an export.
 */
async function writeFolderReplacing(
  folder: string,
  contents: ReadonlyMap<string, string | AsyncIterable<Uint8Array>>,
): Promise<void> {
  const sibling = (kind: string) =>
    join(dirname(folder), `.${basename(folder)}.${kind}-${process.pid}-${randomBytes(4).toString("hex")}`);
  const temporary = sibling("tmp");
  try {
    for (const [name, content] of contents) await writeFileAtomic(join(temporary, name), content);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error;
  }
  if (existsSync(folder)) {
    const old = sibling("old");
    await rename(folder, old);
    await rename(temporary, folder);
    await rm(old, { recursive: true, force: true });
  } else {
    await rename(temporary, folder);
  }
}

/** The `vllm serve` command for an exported folder. */
export function vllmServeCommand(folder: string, stepTagId: number): string {
  const pooler = JSON.stringify({ pooling_type: "STEP", step_tag_id: stepTagId });
  return `vllm serve ${folder} --runner pooling --convert classify --pooler-config '${pooler}'`;
}

async function exportFolder(
  folder: string,
  outFolder: string,
  options: HfTokenClassificationExportOptions,
): Promise<HfTokenClassificationExport> {
  const target = options.target ?? "transformers";
  if (target !== "transformers" && target !== "vllm") {
    throw new ModelLoadError(
      folder,
      undefined,
      `target must be transformers or vllm, got ${JSON.stringify(target)}`,
    );
  }
  const metadataPath = join(folder, CHECKPOINT_FILES.pqm);
  if (!existsSync(metadataPath)) {
    throw new ModelLoadError(
      metadataPath,
      undefined,
      "not found: the export needs a pqm checkpoint (pqm.json holds the step tag and the prompt format)",
    );
  }
  const metadata: PqmMetadata = await readPqmMetadata(folder);
  if (options.verify !== false) await verifyCheckpointFiles(folder, metadata);
  const configPath = join(folder, CHECKPOINT_FILES.config);
  const config = await readJsonFile(configPath);
  const modelType = String(config.model_type);
  const architecture = HF_TOKEN_CLASSIFICATION_ARCHITECTURES[modelType];
  if (architecture === undefined) {
    throw new ModelLoadError(
      configPath,
      "model_type",
      `${JSON.stringify(config.model_type)} has no token-classification export (supported: ${Object.keys(HF_TOKEN_CLASSIFICATION_ARCHITECTURES).join(", ")})`,
    );
  }
  const hidden = Number(config.hidden_size);

  // Weights: the backbone as stored, the value head renamed to score.
  const weightsPath = join(folder, CHECKPOINT_FILES.weights);
  const header = await readSafetensorsHeader(weightsPath);
  const tensors = new Map<string, StreamedTensor>();
  for (const [name, entry] of header.entries) {
    const copy = {
      dtype: entry.dtype,
      shape: entry.shape,
      source: {
        file: weightsPath,
        begin: header.dataStart + entry.dataOffsets[0],
        end: header.dataStart + entry.dataOffsets[1],
      },
    };
    if (name.startsWith("model.")) tensors.set(name, copy);
    else if (name === "v_head.summary.weight") {
      if (entry.shape.length !== 2 || entry.shape[0] !== 1 || entry.shape[1] !== hidden) {
        throw new ModelLoadError(
          weightsPath,
          name,
          `expected shape [1, ${hidden}], got [${entry.shape.join(", ")}]`,
        );
      }
      tensors.set("score.weight", copy);
    } else if (name === "v_head.summary.bias") {
      if (entry.shape.length !== 1 || entry.shape[0] !== 1) {
        throw new ModelLoadError(weightsPath, name, `expected shape [1], got [${entry.shape.join(", ")}]`);
      }
      if (target === "transformers") tensors.set("score.bias", copy);
    } else if (name !== "lm_head.weight") {
      throw new ModelLoadError(
        weightsPath,
        name,
        "not a tensor of a pqm checkpoint (model.*, lm_head, v_head.summary.*)",
      );
    }
  }
  if (!tensors.has("score.weight")) {
    throw new ModelLoadError(
      weightsPath,
      "v_head.summary.weight",
      "missing: the checkpoint has no value head",
    );
  }
  if (!tensors.has("model.embed_tokens.weight")) {
    throw new ModelLoadError(weightsPath, "model.embed_tokens.weight", "missing");
  }
  const biasEntry = header.entries.get("v_head.summary.bias");
  const biasValue =
    biasEntry === undefined
      ? 0
      : scalarValue(
          await readTensorBytes(weightsPath, header, "v_head.summary.bias"),
          biasEntry.dtype,
          weightsPath,
        );

  // Tokenizer: copied; the step tag must be an added special token with the saved id.
  const { stepTag, encoding } = metadata;
  const tokenizerFiles = new Map<string, string>();
  for (const name of TOKENIZER_FILES) {
    const path = join(folder, name);
    if (existsSync(path)) tokenizerFiles.set(name, await readFile(path, "utf8"));
  }
  const tokenizerJson = tokenizerFiles.get("tokenizer.json");
  if (tokenizerJson === undefined)
    throw new ModelLoadError(join(folder, "tokenizer.json"), undefined, "not found");
  const addedTokens = (
    JSON.parse(tokenizerJson) as { added_tokens?: { id: number; content: string; special?: boolean }[] }
  ).added_tokens;
  if (stepTag.mode === "special") {
    const added = addedTokens?.find((token) => token.content === stepTag.text);
    if (added === undefined || added.id !== stepTag.id || added.special !== true) {
      throw new ModelLoadError(
        join(folder, "tokenizer.json"),
        "added_tokens",
        `the step tag ${JSON.stringify(stepTag.text)} (id ${stepTag.id}) is not an added special token there`,
      );
    }
  }
  const tokenizerConfig = JSON.parse(tokenizerFiles.get("tokenizer_config.json") ?? "{}") as Record<
    string,
    unknown
  >;
  const bosToken = tokenizerConfig.bos_token;
  const bosTokenId =
    typeof bosToken === "string"
      ? (addedTokens?.find((token) => token.content === bosToken)?.id ?? null)
      : null;

  // config.json: every field pqm resolved is written out, so a loader's own defaults (which differ:
  // transformers' Mistral defaults to a 4096-token window) cannot change the model.
  const resolved = await readDecoderConfig(folder);
  const explicit: Record<string, unknown> = {
    hidden_act: "silu",
    num_key_value_heads: resolved.numKeyValueHeads,
    head_dim: resolved.headDim,
    rms_norm_eps: resolved.rmsNormEps,
    rope_theta: resolved.ropeTheta,
    rope_scaling: null,
    max_position_embeddings: resolved.maxPositionEmbeddings,
    initializer_range: resolved.initializerRange,
    tie_word_embeddings: resolved.tieWordEmbeddings,
    torch_dtype: "float32",
    ...(modelType === "llama" ? { attention_bias: resolved.qkvBias, mlp_bias: resolved.mlpBias } : {}),
    ...(modelType === "mistral" ? { sliding_window: resolved.slidingWindow } : {}),
    ...(modelType === "qwen2" ? { use_sliding_window: false } : {}),
  };
  const outConfig: Record<string, unknown> = {
    ...explicit,
    ...config,
    architectures: [architecture],
    num_labels: 1,
    id2label: { "0": "LABEL_0" },
    label2id: { LABEL_0: 0 },
  };

  const example = options.example ?? DEFAULT_EXAMPLE;
  const { layout, stepFormat, name: templateName } = encoding.template;
  const exampleText = renderPrompt(layout, stepFormat, example.question, example.steps, stepTag.text).text;
  const command = vllmServeCommand(outFolder, stepTag.id);
  const info: HfTokenClassificationInfo = {
    format: HF_TOKEN_CLASSIFICATION_FORMAT,
    architecture,
    target,
    convention: "pqm-export",
    score:
      "logits[0, t, 0] at every position t whose token id is step_tag.id (plus score_bias.value when score_bias.in is pqm_export.json) = the log-odds that the step ending there is correct; sigmoid gives the probability",
    step_tag: { text: stepTag.text, id: stepTag.id, mode: stepTag.mode },
    score_bias: {
      value: biasValue,
      in: target === "transformers" ? "score.bias" : HF_EXPORT_INFO_FILE,
      note:
        target === "transformers"
          ? "in score.bias: transformers' *ForTokenClassification applies it; vLLM's pooling runner refuses a score.bias tensor (export with target vllm)"
          : "not in the weights (vLLM's converted classifier has no bias): add it to the logit vLLM gives; transformers loads the folder with a zero bias and a warning",
    },
    prompt: {
      template: templateName,
      head: layout.head,
      middle: layout.middle,
      tail: layout.tail,
      step_format: {
        number_steps: stepFormat.numberSteps,
        tag_separator: stepFormat.tagSeparator,
        step_separator: stepFormat.stepSeparator,
      },
      add_bos: encoding.addBos,
      bos_token_id: encoding.addBos ? bosTokenId : null,
      rule: "text = head + question + middle + steps + tail, where steps = each step trimmed, written 'Step k: <step>' when number_steps (a leading 'Step n:' in the step is replaced), followed by tag_separator and the step tag, the steps joined by step_separator. The whole text is tokenized at once without special tokens; when add_bos, bos_token_id is put first.",
      example: { question: example.question, steps: [...example.steps], text: exampleText },
    },
    vllm: {
      command,
      pooler_config: { pooling_type: "STEP", step_tag_id: stepTag.id },
      readout:
        "vLLM applies a sigmoid to the single label: a row [p] per step tag gives log-odds log(p) - log(1 - p)" +
        (target === "vllm" ? " + score_bias.value" : "") +
        ". Send the prompt text with add_special_tokens " +
        (encoding.addBos ? "false and bos_token_id first as a token list, or as token ids" : "false") +
        ". Older vLLM (before 0.10): --task classify --override-pooler-config with the same JSON.",
    },
    source: {
      loss: metadata.loss,
      zeta: metadata.zeta,
      step: metadata.step,
      "@pqm/model": MODEL_PACKAGE_VERSION,
    },
  };

  const files = ["config.json", "model.safetensors", ...tokenizerFiles.keys(), HF_EXPORT_INFO_FILE];
  const contents = new Map<string, string | AsyncIterable<Uint8Array>>([
    ["config.json", `${JSON.stringify(outConfig, null, 2)}\n`],
    ["model.safetensors", safetensorsChunks(tensors)],
    ...tokenizerFiles,
    [HF_EXPORT_INFO_FILE, `${JSON.stringify(info, null, 2)}\n`],
  ]);
  await writeFolderReplacing(outFolder, contents);
  return {
    folder: outFolder,
    architecture,
    target,
    stepTag: { text: stepTag.text, id: stepTag.id },
    scoreBias: { value: biasValue, in: info.score_bias.in },
    files,
    vllmCommand: command,
  };
}
