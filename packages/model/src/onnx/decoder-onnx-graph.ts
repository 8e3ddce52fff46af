import type { DecoderBackbone } from "../backbone/decoder-backbone.js";
import type { DecoderConfig } from "../backbone/decoder-config.js";
import { FLOAT32_MOST_NEGATIVE } from "../backbone/layers/attention-mask.js";
import { ropeInverseFrequencies } from "../backbone/layers/rotary-embedding.js";
import { OnnxExportError } from "./onnx-export-error.js";
import { OnnxGraphBuilder } from "./onnx-graph-builder.js";
import { OnnxDataType } from "./onnx-schema.js";

/** The `model_type`s the ONNX export handles (the Llama family the TF.js decoder implements). */
export const ONNX_EXPORTABLE_MODEL_TYPES = ["llama", "mistral", "qwen2"] as const;

/** Names of the exported graph's inputs and outputs. */
export const ONNX_IO_NAMES = {
  inputIds: "input_ids",
  attentionMask: "attention_mask",
  hiddenStates: "hidden_states",
  values: "values",
  logits: "logits",
} as const;

/** A scalar value head as plain numbers: `value = hidden · weight + bias`. */
export interface ValueHeadWeights {
  /** `[hidden]`. */
  weight: Float32Array;
  bias: number;
}

/**
 * A published PRM's score head as plain numbers, in Hugging Face's `[out, in]` layouts: an optional
 * `Linear(hidden, hidden)` followed by ReLU (Qwen2.5-Math-PRM's `score.0`), then `Linear(hidden, outputs)`;
 * the score is the single output, or output 1 minus output 0 (a two-label head, or an LM head's rows of
 * the negative and the positive answer token).
 */
export interface ScoreHeadWeights {
  /** The first layer and ReLU, when the head has one: weight `[hidden, hidden]`, bias `[hidden]`. */
  hidden?: { weight: Float32Array; bias: Float32Array };
  /** `[outputs, hidden]`. */
  weight: Float32Array;
  /** `[outputs]`. */
  bias: Float32Array;
  outputs: 1 | 2;
}

/** What the decoder graph computes besides `hidden_states`. */
export interface DecoderGraphOptions {
  /** Add a `values` output `[batch, seq]`: this head applied at every position. */
  valueHead?: ValueHeadWeights;
  /** Add a `values` output `[batch, seq]`: this score head (log-odds) at every position (not with `valueHead`). */
  scoreHead?: ScoreHeadWeights;
  /** Add a `logits` output `[batch, seq, vocab]` (LM head, tied or not). Default false. */
  logits?: boolean;
  /**
   * The backbone's `namedWeights()` already read (asynchronously, as the file exports do); without
   * them they are read here synchronously, which a WebGPU backend in Node cannot do. The map is
   * consumed: each layer's entries are deleted once copied into the graph's own layouts, so that their
   * arrays can be freed while the next layers are copied (a copy of the map would keep every source
   * array alive to the end, holding the weights twice over the graph's).
   */
  weights?: Map<string, Float32Array>;
}

/**
 * Checks that the export handles this decoder.
 * @throws OnnxExportError naming the model type when it is not one of {@link ONNX_EXPORTABLE_MODEL_TYPES}.
 */
export function assertExportable(config: DecoderConfig): void {
  if (!(ONNX_EXPORTABLE_MODEL_TYPES as readonly string[]).includes(config.modelType)) {
    throw new OnnxExportError(
      `model_type '${config.modelType}'`,
      `not supported by the ONNX export (supported: ${ONNX_EXPORTABLE_MODEL_TYPES.join(", ")})`,
    );
  }
}

/** `[out, in]` (Hugging Face's nn.Linear layout) rows copied as columns `offset..` of an `[in, width]` matrix, times `scale`. */
function placeTransposed(
  target: Float32Array,
  width: number,
  offset: number,
  source: Float32Array,
  outFeatures: number,
  inFeatures: number,
  scale = 1,
): void {
  for (let out = 0; out < outFeatures; out++) {
    const row = out * inFeatures;
    for (let i = 0; i < inFeatures; i++)
      target[i * width + offset + out] = (source[row + i] as number) * scale;
  }
}

/**
 * Builds the ONNX graph (opset 17, standard operators only) of a Llama-family decoder, following the
 * TF.js decoder convention by convention: RMSNorm as Pow/ReduceMean/Add/Sqrt/Div/Mul (ONNX Runtime fuses
 * this pattern into one kernel), rotate-half RoPE with angles `position · inv_freq` computed in float32
 * from positions `max(cumsum(attention_mask) − 1, 0)`, grouped-query attention without copying k/v (each kv
 * head's group of query heads is stacked into one MatMul), an additive mask of the most negative finite
 * float32 from the causal triangle, the padding mask and each layer's sliding window (one mask per
 * distinct window), SwiGLU, final norm.
 *
 * Two changes that leave the function equal but save work: q, k and v are one MatMul (and gate/up
 * another), and the 1/sqrt(head_dim) attention scale is folded into q's weights and bias (RoPE is linear,
 * so scaling before or after it is the same).
 *
 * Inputs `input_ids`, `attention_mask`: int64 `[batch, sequence]`. Outputs `hidden_states`
 * `[batch, sequence, hidden]` (after the final norm), `values` `[batch, sequence]` with a value head,
 * `logits` `[batch, sequence, vocab]` when asked.
 * @throws OnnxExportError for a model type the export does not handle.
 */
export function buildDecoderGraph(
  backbone: DecoderBackbone,
  options: DecoderGraphOptions = {},
): OnnxGraphBuilder {
  const config = backbone.config;
  assertExportable(config);
  const weights = options.weights ?? new Map<string, Float32Array>();
  if (options.weights === undefined) {
    for (const [name, tensor] of backbone.namedWeights()) {
      weights.set(name, tensor.dataSync() as Float32Array);
      tensor.dispose();
    }
  }
  const weight = (name: string): Float32Array => {
    const data = weights.get(name);
    if (data === undefined)
      throw new OnnxExportError(`weight '${name}'`, "missing from the backbone's namedWeights()");
    return data;
  };
  const {
    hiddenSize,
    intermediateSize,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    vocabSize,
    rmsNormEps,
  } = config;
  const groupSize = numAttentionHeads / numKeyValueHeads;
  const graph = new OnnxGraphBuilder(`pqm_${config.modelType}_decoder`);

  const inputIds = graph.input({
    name: ONNX_IO_NAMES.inputIds,
    dataType: OnnxDataType.INT64,
    shape: ["batch", "sequence"],
  });
  const attentionMask = graph.input({
    name: ONNX_IO_NAMES.attentionMask,
    dataType: OnnxDataType.INT64,
    shape: ["batch", "sequence"],
    docString: "1 for real tokens, 0 for padding (left or right)",
  });

  // Rotary tables from the mask: positions restart at each row's first real token, as collateRows
  // makes them (pads get 0; their outputs are masked as keys and never read).
  const cumulative = graph.node("CumSum", [attentionMask, graph.int64Scalar(1)]); // [batch, seq]
  const positions = graph.node("Max", [
    graph.node("Sub", [cumulative, graph.int64Scalar(1)]),
    graph.int64Scalar(0),
  ]);
  const { cos, signedSin } = rotaryTables(graph, positions, config);

  const additiveMaskFor = additiveMaskBuilder(graph, inputIds, attentionMask, groupSize);

  const rmsNorm = (x: string, weightName: string): string => {
    const meanSquare = graph.node("ReduceMean", [graph.node("Pow", [x, graph.float32Scalar(2)])], {
      axes: [-1],
      keepdims: 1,
    });
    const root = graph.node("Sqrt", [graph.node("Add", [meanSquare, graph.float32Scalar(rmsNormEps)])]);
    const w = weight(weightName);
    return graph.node("Mul", [graph.node("Div", [x, root]), graph.float32(weightName, w, [w.length])]);
  };
  /** `[out, in]` of a projection, by its module name. */
  const hfShape = (module: string): [number, number] => {
    const name = module.slice(module.lastIndexOf(".") + 1);
    const shapes: Record<string, [number, number]> = {
      q_proj: [numAttentionHeads * headDim, hiddenSize],
      k_proj: [numKeyValueHeads * headDim, hiddenSize],
      v_proj: [numKeyValueHeads * headDim, hiddenSize],
      o_proj: [hiddenSize, numAttentionHeads * headDim],
      gate_proj: [intermediateSize, hiddenSize],
      up_proj: [intermediateSize, hiddenSize],
      down_proj: [hiddenSize, intermediateSize],
      lm_head: [vocabSize, hiddenSize],
    };
    return shapes[name] as [number, number];
  };
  /** `x [rows, in] · W + b` from Hugging Face's `[out, in]` weight (a 2-D MatMul + Add that ONNX Runtime fuses into Gemm). */
  const linear = (x: string, module: string, scale = 1): string => {
    const hf = weight(`${module}.weight`);
    const bias = weights.get(`${module}.bias`) ?? null;
    const [outFeatures, inFeatures] = hfShape(module);
    const matrix = new Float32Array(hf.length);
    placeTransposed(matrix, outFeatures, 0, hf, outFeatures, inFeatures, scale);
    const product = graph.node("MatMul", [
      x,
      graph.float32(`${module}.weight_t`, matrix, [inFeatures, outFeatures]),
    ]);
    if (bias === null) return product;
    const scaled = scale === 1 ? bias : bias.map((value) => value * scale);
    return graph.node("Add", [product, graph.float32(`${module}.bias`, scaled, [outFeatures])]);
  };
  const rotary = (x: string): string => {
    const [firstHalf, secondHalf] = graph.nodeWithOutputs("Split", [x], 2, { axis: -1 });
    const swapped = graph.node("Concat", [secondHalf!, firstHalf!], { axis: -1 });
    return graph.node("Add", [graph.node("Mul", [x, cos]), graph.node("Mul", [swapped, signedSin])]);
  };

  // The residual stream stays 2-D [batch*seq, hidden] so every projection is a 2-D MatMul (+ bias);
  // only attention reshapes to heads, with the runtime [batch, seq] taken from input_ids.
  const tokenShape = graph.node("Shape", [inputIds]); // [2]: batch, seq
  const headsShape = (heads: number) =>
    graph.node("Concat", [tokenShape, graph.int64Vector([heads, headDim])], { axis: 0 });
  const queryHeadsShape = headsShape(numAttentionHeads);
  const kvHeadsShape =
    numKeyValueHeads === numAttentionHeads ? queryHeadsShape : headsShape(numKeyValueHeads);
  const embedName = graph.float32("model.embed_tokens.weight", weight("model.embed_tokens.weight"), [
    vocabSize,
    hiddenSize,
  ]);
  let x = graph.node("Reshape", [
    graph.node("Gather", [embedName, inputIds], { axis: 0 }),
    graph.int64Vector([-1, hiddenSize]),
  ]); // [batch*seq, hidden]
  const scale = 1 / Math.sqrt(headDim);
  const queryWidth = numAttentionHeads * headDim;
  for (let index = 0; index < config.numHiddenLayers; index++) {
    const prefix = `model.layers.${index}`;
    const attention = `${prefix}.self_attn`;
    const normed = rmsNorm(x, `${prefix}.input_layernorm.weight`); // [batch*seq, hidden]
    const query = rotary(
      graph.node("Reshape", [linear(normed, `${attention}.q_proj`, scale), queryHeadsShape]),
    ); // [batch, seq, heads, headDim]
    const key = rotary(graph.node("Reshape", [linear(normed, `${attention}.k_proj`), kvHeadsShape])); // [batch, seq, kvHeads, headDim]
    const value = graph.node("Reshape", [linear(normed, `${attention}.v_proj`), kvHeadsShape]); // [batch, seq, kvHeads, headDim]
    // Query head h uses kv head floor(h / group) (repeat_interleave) and heads are contiguous, so a kv
    // head's queries stack into rows of one product and k, v are never copied per query head.
    const groupedQuery = graph.node("Reshape", [
      graph.node("Transpose", [query], { perm: [0, 2, 1, 3] }),
      graph.int64Vector([0, numKeyValueHeads, -1, headDim]),
    ]); // [batch, kvHeads, group*seq, headDim]
    const keyTransposed = graph.node("Transpose", [key], { perm: [0, 2, 3, 1] }); // [batch, kvHeads, headDim, seq]
    const valueHeads = graph.node("Transpose", [value], { perm: [0, 2, 1, 3] }); // [batch, kvHeads, seq, headDim]
    const additiveMask = additiveMaskFor(config.layerSlidingWindows[index] ?? null);
    const scores = graph.node("Add", [graph.node("MatMul", [groupedQuery, keyTransposed]), additiveMask]); // [batch, kvHeads, group*seq, seq]
    const context = graph.node("MatMul", [graph.node("Softmax", [scores], { axis: -1 }), valueHeads]); // [batch, kvHeads, group*seq, headDim]
    const merged = graph.node("Reshape", [
      graph.node(
        "Transpose",
        [graph.node("Reshape", [context, graph.int64Vector([0, numAttentionHeads, -1, headDim])])],
        {
          perm: [0, 2, 1, 3],
        },
      ),
      graph.int64Vector([-1, queryWidth]),
    ]); // [batch*seq, heads*headDim]
    x = graph.node("Add", [x, linear(merged, `${attention}.o_proj`)]);

    const mlp = `${prefix}.mlp`;
    const mlpInput = rmsNorm(x, `${prefix}.post_attention_layernorm.weight`);
    const gate = linear(mlpInput, `${mlp}.gate_proj`); // [batch*seq, intermediate]
    const activated = graph.node("Mul", [
      graph.node("Mul", [gate, graph.node("Sigmoid", [gate])]),
      linear(mlpInput, `${mlp}.up_proj`),
    ]); // silu(gate) · up
    x = graph.node("Add", [x, linear(activated, `${mlp}.down_proj`)]);
    // Free each layer's source arrays once copied into the graph's own layouts.
    for (const name of [...weights.keys()]) if (name.startsWith(`${prefix}.`)) weights.delete(name);
  }
  const hidden = rmsNorm(x, "model.norm.weight"); // [batch*seq, hidden]
  const perToken = (value: string, trailing: number[]) =>
    graph.node("Reshape", [
      value,
      trailing.length === 0
        ? tokenShape
        : graph.node("Concat", [tokenShape, graph.int64Vector(trailing)], { axis: 0 }),
    ]);
  graph.output(perToken(hidden, [hiddenSize]), {
    name: ONNX_IO_NAMES.hiddenStates,
    dataType: OnnxDataType.FLOAT,
    shape: ["batch", "sequence", hiddenSize],
    docString: "last hidden state, after the final RMSNorm",
  });

  if (options.valueHead !== undefined) {
    const head = options.valueHead;
    if (head.weight.length !== hiddenSize) {
      throw new OnnxExportError(
        "value head",
        `weight has ${head.weight.length} values, the hidden size is ${hiddenSize}`,
      );
    }
    const values = graph.node("Add", [
      graph.node("MatMul", [hidden, graph.float32("v_head.summary.weight_t", head.weight, [hiddenSize, 1])]),
      graph.float32("v_head.summary.bias", Float32Array.of(head.bias), [1]),
    ]); // [batch*seq, 1]
    graph.output(perToken(values, []), {
      name: ONNX_IO_NAMES.values,
      dataType: OnnxDataType.FLOAT,
      shape: ["batch", "sequence"],
      docString: "value head (raw logit) at every position; read it at the step tags",
    });
  }

  if (options.scoreHead !== undefined) {
    if (options.valueHead !== undefined)
      throw new OnnxExportError("score head", "give a value head or a score head, not both");
    graph.output(perToken(scoreHeadValues(graph, hidden, options.scoreHead, hiddenSize), []), {
      name: ONNX_IO_NAMES.values,
      dataType: OnnxDataType.FLOAT,
      shape: ["batch", "sequence"],
      docString: "the score head's log-odds at every position; read it where the convention scores",
    });
  }

  if (options.logits === true) {
    // Tied: a Transpose of the embedding initializer, which ONNX Runtime folds at load.
    const logits = config.tieWordEmbeddings
      ? graph.node("MatMul", [hidden, graph.node("Transpose", [embedName], { perm: [1, 0] })])
      : linear(hidden, "lm_head");
    graph.output(perToken(logits, [vocabSize]), {
      name: ONNX_IO_NAMES.logits,
      dataType: OnnxDataType.FLOAT,
      shape: ["batch", "sequence", vocabSize],
    });
  }
  return graph;
}

/**
 * Rotate-half RoPE tables `[batch, seq, 1, headDim]` from int64 positions `[batch, seq]`, as the TF.js
 * decoder computes them: angles `position · inv_freq` in float32, `cos`, and `sin` with rotate-half's
 * sign folded in (x·cos + rotate_half(x)·sin = x·cos + swap_halves(x)·(sign·sin)).
 */
export function rotaryTables(
  graph: OnnxGraphBuilder,
  positions: string,
  config: DecoderConfig,
): { cos: string; signedSin: string } {
  const { headDim } = config;
  const inverse = ropeInverseFrequencies(headDim, config.ropeTheta, config.ropeScaling);
  const half = headDim / 2;
  const doubled = new Float32Array(headDim);
  const signs = new Float32Array(headDim);
  for (let j = 0; j < half; j++) {
    doubled[j] = inverse[j] as number;
    doubled[j + half] = inverse[j] as number;
    signs[j] = -1;
    signs[j + half] = 1;
  }
  const positionsFloat = graph.node("Unsqueeze", [
    graph.node("Cast", [positions], { to: OnnxDataType.FLOAT }),
    graph.int64Vector([2]),
  ]); // [batch, seq, 1]
  const angles = graph.node("Mul", [
    positionsFloat,
    graph.float32("rope.inv_freq_doubled", doubled, [headDim]),
  ]); // [batch, seq, headDim]
  const cos = graph.node("Unsqueeze", [graph.node("Cos", [angles]), graph.int64Vector([2])]);
  const signedSin = graph.node("Unsqueeze", [
    graph.node("Mul", [
      graph.node("Sin", [angles]),
      graph.float32("rope.rotate_half_signs", signs, [headDim]),
    ]),
    graph.int64Vector([2]),
  ]);
  return { cos, signedSin };
}

/**
 * Additive attention masks `[batch, 1, group*seq, seq]` (`[batch, 1, seq, seq]` tiled over the query
 * heads of a kv head), one per distinct layer window, built when a layer first asks: key s is visible
 * from query t iff s <= t, s is real (`attentionMask`), and (with a sliding window W) t - s < W, t and s
 * being indices into the padded row (see DecoderConfig.slidingWindow). Hidden keys get the most negative
 * finite float32.
 */
export function additiveMaskBuilder(
  graph: OnnxGraphBuilder,
  inputIds: string,
  attentionMask: string,
  groupSize: number,
): (window: number | null) => string {
  const sequenceLength = graph.node("Gather", [graph.node("Shape", [inputIds]), graph.int64Scalar(1)], {
    axis: 0,
  });
  const range = graph.node("Range", [graph.int64Scalar(0), sequenceLength, graph.int64Scalar(1)]); // [seq]
  const queryIndex = graph.node("Unsqueeze", [range, graph.int64Vector([1])]); // [seq, 1]
  const keyIndex = graph.node("Unsqueeze", [range, graph.int64Vector([0])]); // [1, seq]
  const causal = graph.node("LessOrEqual", [keyIndex, queryIndex]); // [seq, seq]
  const realKeys = graph.node("Cast", [graph.node("Unsqueeze", [attentionMask, graph.int64Vector([1, 2])])], {
    to: OnnxDataType.BOOL,
  }); // [batch, 1, 1, seq]
  const masks = new Map<number | null, string>();
  return (window) => {
    const built = masks.get(window);
    if (built !== undefined) return built;
    let visible = causal;
    if (window !== null) {
      const earliest = graph.node("Sub", [queryIndex, graph.int64Scalar(window)]); // [seq, 1]
      visible = graph.node("And", [visible, graph.node("Greater", [keyIndex, earliest])]);
    }
    let mask = graph.node("Where", [
      graph.node("And", [visible, realKeys]),
      graph.float32Scalar(0),
      graph.float32Scalar(FLOAT32_MOST_NEGATIVE),
    ]); // [batch, 1, seq, seq]
    if (groupSize > 1) mask = graph.node("Tile", [mask, graph.int64Vector([1, 1, groupSize, 1])]);
    masks.set(window, mask);
    return mask;
  };
}

/** The score head on `hidden` `[rows, hidden]`: `[rows, 1]` (one output) or `[rows]` (output 1 − output 0). */
function scoreHeadValues(
  graph: OnnxGraphBuilder,
  hidden: string,
  head: ScoreHeadWeights,
  hiddenSize: number,
): string {
  if (head.weight.length !== head.outputs * hiddenSize || head.bias.length !== head.outputs) {
    throw new OnnxExportError(
      "score head",
      `weight has ${head.weight.length} values and bias ${head.bias.length} for ${head.outputs} outputs of hidden size ${hiddenSize}`,
    );
  }
  let x = hidden;
  if (head.hidden !== undefined) {
    if (head.hidden.weight.length !== hiddenSize * hiddenSize || head.hidden.bias.length !== hiddenSize)
      throw new OnnxExportError("score head", `its first layer is not [${hiddenSize}, ${hiddenSize}]`);
    const first = new Float32Array(hiddenSize * hiddenSize);
    placeTransposed(first, hiddenSize, 0, head.hidden.weight, hiddenSize, hiddenSize);
    x = graph.node("Relu", [
      graph.node("Add", [
        graph.node("MatMul", [
          x,
          graph.float32("score_head.hidden.weight_t", first, [hiddenSize, hiddenSize]),
        ]),
        graph.float32("score_head.hidden.bias", head.hidden.bias, [hiddenSize]),
      ]),
    ]);
  }
  const last = new Float32Array(hiddenSize * head.outputs);
  placeTransposed(last, head.outputs, 0, head.weight, head.outputs, hiddenSize);
  const outputs = graph.node("Add", [
    graph.node("MatMul", [x, graph.float32("score_head.weight_t", last, [hiddenSize, head.outputs])]),
    graph.float32("score_head.bias", head.bias, [head.outputs]),
  ]); // [rows, outputs]
  if (head.outputs === 1) return outputs;
  const column = (index: number) => graph.node("Gather", [outputs, graph.int64Scalar(index)], { axis: 1 });
  return graph.node("Sub", [column(1), column(0)]); // [rows]
}
