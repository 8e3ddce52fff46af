import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "@pqm/data";
import type { DecoderBackbone } from "../backbone/decoder-backbone.js";
import { MODEL_PACKAGE_VERSION } from "../checkpoint/package-version.js";
import type { ProcessRewardModel } from "../prm/process-reward-model.js";
import type { ScoreHeadWeights, ValueHeadWeights } from "./decoder-onnx-graph.js";
import { buildDecoderGraph } from "./decoder-onnx-graph.js";
import { OnnxExportError } from "./onnx-export-error.js";
import type { OnnxGraphBuilder, OnnxModelInfo, OnnxWeightType } from "./onnx-graph-builder.js";
import { ONNX_EXTERNAL_DATA_THRESHOLD_BYTES } from "./onnx-graph-builder.js";

/** The file name `OnnxPrmScorer.load` looks for in a checkpoint folder. */
export const ONNX_MODEL_FILE = "model.onnx";
/** Value of the `pqm.format` metadata entry of exported files. */
export const PQM_ONNX_FORMAT = "pqm-onnx/1";
/** The default-domain opset of exported graphs. */
export const ONNX_EXPORT_OPSET = 17;
/** `ModelProto.ir_version` matching opset 17. */
const ONNX_IR_VERSION = 8;

/** How the weights are stored: float32, or float16 converted back to float32 inside the graph. */
export type OnnxExportDtype = OnnxWeightType;

/** Options of {@link decoderOnnxBytes} (in memory). */
export interface OnnxExportOptions {
  /** Also output `logits` `[batch, seq, vocab]` (default false: scoring never reads them). */
  logits?: boolean;
  /**
   * `float16` halves the file: every weight matrix (embeddings, projections, LM head) is stored as FLOAT16
   * and turned back into float32 by a `Cast` at the start of the graph, so the arithmetic is float32 and
   * only the weights are rounded (scores move by about 1e-3 of their size; see the README). Norm weights,
   * biases and the value head stay float32. Default `float32`.
   */
  dtype?: OnnxExportDtype;
}

/** Options of {@link exportBackboneToOnnx} and {@link exportPrmToOnnx} (to a file). */
export interface OnnxFileExportOptions extends OnnxExportOptions {
  /**
   * Write the weights to `<file>.data` beside the model (ONNX external data) instead of inside it:
   * `"auto"` (default) does when they exceed `externalDataThreshold`; `true` always, `false` never (then
   * weights over protobuf's 2 GiB limit throw). ONNX Runtime reads the data file when the model is
   * opened from its path (not from bytes); keep the two files together.
   */
  externalData?: boolean | "auto";
  /** Bytes of weights above which `"auto"` writes external data (default 2 GiB − 64 MiB: protobuf's limit). */
  externalDataThreshold?: number;
}

/** What an export wrote. */
export interface OnnxExportResult {
  /** The model file written. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** The external data file (`<path>.data`) when the weights went there, else null. */
  dataPath: string | null;
  /** Its size in bytes (0 without one). */
  dataBytes: number;
  /** How the weights are stored. */
  dtype: OnnxExportDtype;
  /** The graph's outputs, in order. */
  outputs: string[];
  opset: number;
}

/** The default of {@link OnnxFileExportOptions.externalDataThreshold}. */
export const ONNX_EXTERNAL_DATA_DEFAULT_THRESHOLD = ONNX_EXTERNAL_DATA_THRESHOLD_BYTES;

function modelInfo(
  backbone: DecoderBackbone,
  valueHead: ValueHeadWeights | undefined,
  dtype: OnnxExportDtype,
  metadata: Record<string, string>,
): OnnxModelInfo {
  const config = backbone.config;
  return {
    opset: ONNX_EXPORT_OPSET,
    irVersion: ONNX_IR_VERSION,
    producerName: "@pqm/model",
    producerVersion: MODEL_PACKAGE_VERSION,
    docString: `${config.modelType} decoder exported by @pqm/model${valueHead === undefined ? "" : " with a PQM value head"}`,
    metadata: {
      "pqm.format": PQM_ONNX_FORMAT,
      "pqm.model_type": config.modelType,
      "pqm.hidden_size": String(config.hiddenSize),
      "pqm.vocab_size": String(config.vocabSize),
      "pqm.weight_dtype": dtype,
      ...metadata,
    },
  };
}

function outputNames(valueHead: ValueHeadWeights | undefined, options: OnnxExportOptions): string[] {
  return [
    "hidden_states",
    ...(valueHead === undefined ? [] : ["values"]),
    ...(options.logits === true ? ["logits"] : []),
  ];
}

function checkDtype(dtype: string | undefined): OnnxExportDtype {
  if (dtype === undefined || dtype === "float32" || dtype === "float16") return dtype ?? "float32";
  throw new OnnxExportError("dtype", `must be float32 or float16, got ${JSON.stringify(dtype)}`);
}

function buildGraph(
  backbone: DecoderBackbone,
  valueHead: ValueHeadWeights | undefined,
  options: OnnxExportOptions,
  weights?: Map<string, Float32Array>,
): OnnxGraphBuilder {
  return buildDecoderGraph(backbone, {
    valueHead,
    logits: options.logits === true,
    ...(weights === undefined ? {} : { weights }),
  });
}

/**
 * The backbone's named weights read asynchronously, all at once (the file exports use this: a WebGPU
 * backend in Node cannot read synchronously). The tensors `namedWeights()` made are disposed.
 */
async function readBackboneWeights(backbone: DecoderBackbone): Promise<Map<string, Float32Array>> {
  const entries = [...backbone.namedWeights()];
  try {
    const values = await Promise.all(entries.map(([, tensor]) => tensor.data()));
    return new Map(entries.map(([name], index) => [name, values[index] as Float32Array]));
  } finally {
    for (const [, tensor] of entries) tensor.dispose();
  }
}

/**
 * The ONNX bytes of a backbone, optionally with a value head, without writing a file (what
 * `OnnxPrmScorer.fromModel` opens when no path is given). Weights are inside the bytes, so the model
 * must fit protobuf's 2 GiB limit (about 0.5B parameters in float32, 1B in float16); larger ones are
 * written to a file with external data by {@link exportPrmToOnnx} / {@link exportBackboneToOnnx}.
 * @throws OnnxExportError for an unsupported model type, a bad `dtype`, or weights over 2 GiB.
 */
export function decoderOnnxBytes(
  backbone: DecoderBackbone,
  valueHead: ValueHeadWeights | undefined,
  options: OnnxExportOptions = {},
  metadata: Record<string, string> = {},
): { bytes: Uint8Array; outputs: string[] } {
  const dtype = checkDtype(options.dtype);
  const graph = buildGraph(backbone, valueHead, options);
  let bytes: Uint8Array;
  try {
    bytes = graph.toModelBytes(modelInfo(backbone, valueHead, dtype, metadata), { weightType: dtype });
  } catch (cause) {
    throw new OnnxExportError(
      `${backbone.config.modelType} decoder`,
      `${cause instanceof Error ? cause.message : String(cause)}: export to a file with exportPrmToOnnx / exportBackboneToOnnx (external data) and open that path`,
      { cause },
    );
  }
  return { bytes, outputs: outputNames(valueHead, options) };
}

/**
 * Writes a graph to `path` (and `<path>.data` with external data), each atomically; the data file first,
 * so the model file never names a data file that is not there yet. A stale `<path>.data` from an earlier
 * export with external data is removed when the weights now go inside.
 */
async function writeGraph(
  graph: OnnxGraphBuilder,
  path: string,
  info: OnnxModelInfo,
  options: OnnxFileExportOptions,
): Promise<{ bytes: number; dataPath: string | null; dataBytes: number; dtype: OnnxExportDtype }> {
  const dtype = checkDtype(options.dtype);
  const threshold = options.externalDataThreshold ?? ONNX_EXTERNAL_DATA_THRESHOLD_BYTES;
  if (!(threshold >= 0)) {
    throw new OnnxExportError("externalDataThreshold", `must be a number of bytes >= 0, got ${threshold}`);
  }
  const serialized = graph.serialize(info, path, {
    weightType: dtype,
    externalData: options.externalData ?? "auto",
    externalDataThreshold: threshold,
  });
  const staleData = `${path}.data`;
  let dataPath: string | null = null;
  if (serialized.dataFile !== undefined) {
    dataPath = join(dirname(path), serialized.dataFile.location);
    await writeFileAtomic(dataPath, serialized.dataFile.chunks);
  }
  await writeFileAtomic(path, serialized.model);
  if (dataPath === null) await rm(staleData, { force: true });
  return {
    bytes: serialized.model.byteLength,
    dataPath,
    dataBytes: serialized.dataFile?.bytes ?? 0,
    dtype,
  };
}

/**
 * The ONNX bytes (float32 weights) of a backbone with a published PRM's score head: `values` is the
 * head's log-odds at every position. Internal to the package: the convention scorers use it.
 * @throws OnnxExportError for an unsupported model type, a misshapen head or weights over 2 GiB.
 */
export function scoreHeadOnnxBytes(
  backbone: DecoderBackbone,
  scoreHead: ScoreHeadWeights,
  metadata: Record<string, string> = {},
): { bytes: Uint8Array; outputs: string[] } {
  const graph = buildDecoderGraph(backbone, { scoreHead });
  const info = modelInfo(backbone, undefined, "float32", metadata);
  const bytes = graph.toModelBytes({ ...info, docString: `${info.docString} with a PRM score head` });
  return { bytes, outputs: ["hidden_states", "values"] };
}

/**
 * Exports a decoder backbone to an ONNX file: inputs `input_ids` and `attention_mask` (int64
 * `[batch, sequence]`, left or right padding), output `hidden_states` `[batch, sequence, hidden]` after the
 * final norm (and `logits` when asked). What a frozen-backbone setup needs: hidden states for training a
 * value head on (see `extractTagHiddenStates`). LoRA adapters are merged in. Weights past
 * `externalDataThreshold` (2 GiB by default) go to `<path>.data` (ONNX external data).
 * @throws OnnxExportError for an unsupported model type or a bad option; Error from the file system.
 */
export async function exportBackboneToOnnx(
  backbone: DecoderBackbone,
  path: string,
  options: OnnxFileExportOptions = {},
): Promise<OnnxExportResult> {
  const dtype = checkDtype(options.dtype);
  const graph = buildGraph(backbone, undefined, options, await readBackboneWeights(backbone));
  const written = await writeGraph(graph, path, modelInfo(backbone, undefined, dtype, {}), options);
  return { path, ...written, outputs: outputNames(undefined, options), opset: ONNX_EXPORT_OPSET };
}

/**
 * The value head of a PRM as plain numbers, read synchronously (cpu, wasm, tfjs-node; on WebGPU,
 * whose tensors Node cannot read synchronously, `exportPrmToOnnx` reads them asynchronously).
 */
export function valueHeadWeights(model: ProcessRewardModel): ValueHeadWeights {
  return {
    weight: Float32Array.from(model.valueHead.weight.dataSync()),
    bias: model.valueHead.bias.dataSync()[0] as number,
  };
}

/**
 * Exports a PRM (backbone + value head) to an ONNX file: as `exportBackboneToOnnx`, plus `values`
 * `[batch, sequence]`, the value head's raw logit at every position (the caller reads it at the step
 * tags; `OnnxPrmScorer` does). The encoding spec is stored in the metadata (`pqm.encoding`) for reference;
 * the tokenizer still comes from the checkpoint folder. Put the file in the checkpoint folder as
 * `model.onnx` (after `saveCheckpoint`, which replaces the folder) for `OnnxPrmScorer.load`. Weights
 * past `externalDataThreshold` (2 GiB by default) go to `<path>.data` beside it (ONNX external data);
 * `dtype: "float16"` halves both.
 * @throws OnnxExportError for an unsupported model type or a bad option; Error from the file system.
 */
export async function exportPrmToOnnx(
  model: ProcessRewardModel,
  path: string,
  options: OnnxFileExportOptions = {},
): Promise<OnnxExportResult> {
  const dtype = checkDtype(options.dtype);
  const [weight, bias] = await Promise.all([model.valueHead.weight.data(), model.valueHead.bias.data()]);
  const head: ValueHeadWeights = {
    weight: Float32Array.from(weight as Float32Array),
    bias: bias[0] as number,
  };
  const graph = buildGraph(model.backbone, head, options, await readBackboneWeights(model.backbone));
  const info = modelInfo(model.backbone, head, dtype, {
    "pqm.encoding": JSON.stringify(model.spec),
    "pqm.step_tag_id": String(model.stepTag.id),
  });
  const written = await writeGraph(graph, path, info, options);
  return { path, ...written, outputs: outputNames(head, options), opset: ONNX_EXPORT_OPSET };
}
