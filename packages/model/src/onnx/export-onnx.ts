import { writeFileAtomic } from "@pqm/data";
import type { DecoderBackbone } from "../backbone/decoder-backbone.js";
import { MODEL_PACKAGE_VERSION } from "../checkpoint/package-version.js";
import type { ProcessRewardModel } from "../prm/process-reward-model.js";
import type { ValueHeadWeights } from "./decoder-onnx-graph.js";
import { buildDecoderGraph } from "./decoder-onnx-graph.js";

/** The file name `OnnxPrmScorer.load` looks for in a checkpoint folder. */
export const ONNX_MODEL_FILE = "model.onnx";
/** Value of the `pqm.format` metadata entry of exported files. */
export const PQM_ONNX_FORMAT = "pqm-onnx/1";
/** The default-domain opset of exported graphs. */
export const ONNX_EXPORT_OPSET = 17;
/** `ModelProto.ir_version` matching opset 17. */
const ONNX_IR_VERSION = 8;

/** Options of {@link exportBackboneToOnnx} and {@link exportPrmToOnnx}. */
export interface OnnxExportOptions {
  /** Also output `logits` `[batch, seq, vocab]` (default false: scoring never reads them). */
  logits?: boolean;
}

/** What an export wrote. */
export interface OnnxExportResult {
  /** The file written. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** The graph's outputs, in order. */
  outputs: string[];
  opset: number;
}

/**
 * The ONNX bytes of a backbone, optionally with a value head, without writing a file (what
 * `OnnxPrmScorer.fromModel` opens when no path is given).
 * @throws OnnxExportError for an unsupported model type or weights over 2 GiB.
 */
export function decoderOnnxBytes(
  backbone: DecoderBackbone,
  valueHead: ValueHeadWeights | undefined,
  options: OnnxExportOptions = {},
  metadata: Record<string, string> = {},
): { bytes: Uint8Array; outputs: string[] } {
  const graph = buildDecoderGraph(backbone, { valueHead, logits: options.logits === true });
  const config = backbone.config;
  const bytes = graph.toModelBytes({
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
      ...metadata,
    },
  });
  const outputs = [
    "hidden_states",
    ...(valueHead === undefined ? [] : ["values"]),
    ...(options.logits === true ? ["logits"] : []),
  ];
  return { bytes, outputs };
}

/**
 * Exports a decoder backbone to an ONNX file: inputs `input_ids` and `attention_mask` (int64
 * `[batch, sequence]`, left or right padding), output `hidden_states` `[batch, sequence, hidden]` after the
 * final norm (and `logits` when asked). What a frozen-backbone setup needs: hidden states for training a
 * value head on (see `extractTagHiddenStates`). LoRA adapters are merged in.
 * @throws OnnxExportError for an unsupported model type or weights over 2 GiB; Error from the file system.
 */
export async function exportBackboneToOnnx(
  backbone: DecoderBackbone,
  path: string,
  options: OnnxExportOptions = {},
): Promise<OnnxExportResult> {
  const { bytes, outputs } = decoderOnnxBytes(backbone, undefined, options);
  await writeFileAtomic(path, bytes);
  return { path, bytes: bytes.byteLength, outputs, opset: ONNX_EXPORT_OPSET };
}

/** The value head of a PRM as plain numbers. */
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
 * `model.onnx` (after `saveCheckpoint`, which replaces the folder) for `OnnxPrmScorer.load`.
 * @throws OnnxExportError for an unsupported model type or weights over 2 GiB; Error from the file system.
 */
export async function exportPrmToOnnx(
  model: ProcessRewardModel,
  path: string,
  options: OnnxExportOptions = {},
): Promise<OnnxExportResult> {
  const { bytes, outputs } = decoderOnnxBytes(model.backbone, valueHeadWeights(model), options, {
    "pqm.encoding": JSON.stringify(model.spec),
    "pqm.step_tag_id": String(model.stepTag.id),
  });
  await writeFileAtomic(path, bytes);
  return { path, bytes: bytes.byteLength, outputs, opset: ONNX_EXPORT_OPSET };
}
