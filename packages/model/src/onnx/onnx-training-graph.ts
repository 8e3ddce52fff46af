import { PQM_EPS } from "@pqm/core";
import type { DecoderConfig } from "../backbone/decoder-config.js";
import { additiveMaskBuilder, rotaryTables } from "./decoder-onnx-graph.js";
import { OnnxGraphBuilder } from "./onnx-graph-builder.js";
import { OnnxDataType } from "./onnx-schema.js";

// A decoder's training pass as two ONNX graphs, forward and backward, written out by hand: ONNX Runtime
// has no automatic differentiation in its Node package, so each operation's gradient is spelled here.
//
// The forward graph takes the token ids, positions, padding mask and every weight as inputs (weights
// change every step, so none is an initializer) and returns the last hidden state plus the activations
// the backward needs. The backward graph takes those, the weights and the gradient of the loss with
// respect to the last hidden state, and returns the gradient of every weight but the embedding, whose
// rows' gradients it returns for the caller to scatter (see `embedded_grad`). Whatever comes after the
// hidden state (value head, dropout, loss) stays with TF.js, so any loss of @pqm/core trains this way.
//
// The computation follows the TF.js decoder (DecoderBackbone) operation by operation: RMSNorm with eps
// inside the square root, rotate-half RoPE from float32 angles `position · inv_freq`, the 1/sqrt(head_dim)
// scale applied to the rotated queries, grouped-query attention with each kv head's query heads stacked
// into one product, an additive mask of the most negative finite float32 (causal, padding, and a sliding
// window per layer), SwiGLU. Weights are in the TF.js layout (`[in, out]`).

/** A weight input of the training graphs: the decoder variable's name without its scope, and its shape. */
export interface TrainingWeightSpec {
  name: string;
  shape: number[];
}

/** Graph input and output names shared by both graphs. */
export const TRAINING_IO_NAMES = {
  inputIds: "input_ids",
  positionIds: "position_ids",
  attentionMask: "attention_mask",
  hidden: "hidden",
  hiddenGradient: "hidden_grad",
  /** Backward output: the gradient of each token's embedding row, `[batch*seq, hidden]`. */
  embeddedGradient: "embedded_grad",
} as const;

/**
 * The step graph's inputs beyond the forward graph's (see `buildDecoderStepGraph`). The trainer computes
 * the loss inputs on the host from the labels: they depend on nothing else, which keeps zeta and the
 * label bookkeeping out of the graph.
 */
export const STEP_IO_NAMES = {
  /** `[batch, tags, sequence]`: 1 where tag k of a row sits at that position (a gather as a product). */
  tagOneHot: "tag_onehot",
  /** `[batch, tags, hidden]`: the dropout multiplier of each tag's hidden state (0 or 1/(1−rate); 1 without dropout). */
  dropoutScale: "dropout_scale",
  /** `[batch, tags]`: 1 for a labeled tag, 0 for padding. */
  valid: "loss_valid",
  /** `[batch, tags]`: 1 for a correct step. */
  correct: "loss_correct",
  /** `[batch, tags]`: zeta for a wrong step, else 0. */
  shift: "loss_shift",
  /** `[batch, tags, tags]`: 0 where step s is in the denominator of correct step t's term, else −1e9. */
  include: "loss_include",
  /** `[batch, tags]`: 0 for a wrong step, else −1e9 (the set S of term_0). */
  wrongMask: "loss_wrong_mask",
  /** `[batch, 1]`: 1 when the row has a wrong step (it then has term_0). */
  hasWrong: "loss_has_wrong",
  /** `[batch, 1]`: the row's weight in the mean: valid / (valid rows · the row's term count). */
  rowScale: "loss_row_scale",
  headWeight: "v_head.weight",
  headBias: "v_head.bias",
  /** Output `[1]`. */
  loss: "loss",
} as const;

/** The embedding's weight name, whose gradient the caller scatters from `embedded_grad`. */
export const EMBEDDING = "model.embed_tokens.weight";

/** The two graphs and what flows between them. */
export interface DecoderTrainingGraphs {
  forward: OnnxGraphBuilder;
  backward: OnnxGraphBuilder;
  /** Every weight, in the order of DecoderBackbone.allVariables() (the LM head excluded). */
  weights: TrainingWeightSpec[];
  /** Weights each graph reads (the forward reads all of them; the backward not the embedding or biases). */
  forwardWeights: string[];
  backwardWeights: string[];
  /** Forward outputs the backward takes as inputs under the same names, with their shapes. */
  saved: SavedActivation[];
  /** Backward outputs: `gradientName(weight)` for every weight but the embedding, and `embedded_grad`. */
}

/**
 * An axis of a saved activation: fixed, or the batch's rows, length, rows × length, group × length, the
 * first half of the length (rounded down), or group × that half or × the rest.
 */
export type SavedDim =
  | number
  | "batch"
  | "sequence"
  | "rows"
  | "groupSequence"
  | "half"
  | "groupHalf"
  | "groupRest";

/** A forward output the backward reads. */
export interface SavedActivation {
  name: string;
  dims: SavedDim[];
}

/** A saved activation's shape for a batch of `batch` rows of `sequence` tokens. */
export function savedShape(
  dims: readonly SavedDim[],
  batch: number,
  sequence: number,
  groupSize: number,
): number[] {
  return dims.map((dim) => {
    switch (dim) {
      case "batch":
        return batch;
      case "sequence":
        return sequence;
      case "rows":
        return batch * sequence;
      case "groupSequence":
        return groupSize * sequence;
      case "half":
        return Math.floor(sequence / 2);
      case "groupHalf":
        return groupSize * Math.floor(sequence / 2);
      case "groupRest":
        return groupSize * (sequence - Math.floor(sequence / 2));
      default:
        return dim;
    }
  });
}

/** The backward output holding the gradient of `weight`. */
export function gradientName(weight: string): string {
  return `grad:${weight}`;
}

const FLOAT = OnnxDataType.FLOAT;

/** The weights of the decoder's base model under their variable names, in allVariables() order. */
export function trainingWeightSpecs(config: DecoderConfig): TrainingWeightSpec[] {
  const { hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, headDim } = config;
  const specs: TrainingWeightSpec[] = [
    { name: "model.embed_tokens.weight", shape: [config.vocabSize, hiddenSize] },
  ];
  const linear = (module: string, inFeatures: number, outFeatures: number, bias: boolean) => {
    specs.push({ name: `${module}.weight`, shape: [inFeatures, outFeatures] });
    if (bias) specs.push({ name: `${module}.bias`, shape: [outFeatures] });
  };
  for (let index = 0; index < config.numHiddenLayers; index++) {
    const prefix = `model.layers.${index}`;
    specs.push({ name: `${prefix}.input_layernorm.weight`, shape: [hiddenSize] });
    specs.push({ name: `${prefix}.post_attention_layernorm.weight`, shape: [hiddenSize] });
    linear(`${prefix}.self_attn.q_proj`, hiddenSize, numAttentionHeads * headDim, config.qkvBias);
    linear(`${prefix}.self_attn.k_proj`, hiddenSize, numKeyValueHeads * headDim, config.qkvBias);
    linear(`${prefix}.self_attn.v_proj`, hiddenSize, numKeyValueHeads * headDim, config.qkvBias);
    linear(`${prefix}.self_attn.o_proj`, numAttentionHeads * headDim, hiddenSize, config.outputBias);
    linear(`${prefix}.mlp.gate_proj`, hiddenSize, intermediateSize, config.mlpBias);
    linear(`${prefix}.mlp.up_proj`, hiddenSize, intermediateSize, config.mlpBias);
    linear(`${prefix}.mlp.down_proj`, intermediateSize, hiddenSize, config.mlpBias);
  }
  specs.push({ name: "model.norm.weight", shape: [hiddenSize] });
  return specs;
}

/**
 * Builds the forward and backward graphs of `config`'s decoder (see the file comment).
 * Forward inputs: int64 `input_ids`, `position_ids`, `attention_mask` `[batch, seq]`, then the weights;
 * outputs `hidden` `[batch, seq, hidden]` and the saved activations. Backward inputs: `input_ids` and
 * `position_ids`, the weights it reads, the saved activations and `hidden_grad` `[batch, seq, hidden]`;
 * outputs one gradient per weight but the embedding, and `embedded_grad` `[batch*seq, hidden]`.
 */
export function buildDecoderTrainingGraphs(config: DecoderConfig): DecoderTrainingGraphs {
  return buildGraphs(config, false);
}

/**
 * The training step of a decoder with a scalar value head and the practical PQM loss as ONE graph: the
 * forward, the value head, the loss and its gradient, and the backward, so that no activation leaves ONNX
 * Runtime between the passes (with two sessions every saved activation is copied out of the first run).
 * Inputs: the forward graph's, the value head (`v_head.weight` `[1, hidden]`, `v_head.bias` `[1]`) and
 * the `STEP_IO_NAMES` loss inputs (zeta among them, as each wrong step's shift); outputs `loss` (`[1]`), the backward graph's gradients and the head's
 * (`gradientName("v_head.weight")`, `gradientName("v_head.bias")`). `step.forward` is that graph
 * (`step.backward` is the same builder) and `saved` is empty.
 */
export function buildDecoderStepGraph(config: DecoderConfig): DecoderTrainingGraphs {
  return buildGraphs(config, true);
}

function buildGraphs(config: DecoderConfig, fused: boolean): DecoderTrainingGraphs {
  const step = fused ? {} : null;
  const { hiddenSize, numAttentionHeads, numKeyValueHeads, headDim, rmsNormEps } = config;
  const groupSize = numAttentionHeads / numKeyValueHeads;
  const queryWidth = numAttentionHeads * headDim;
  const scale = 1 / Math.sqrt(headDim);
  const weights = trainingWeightSpecs(config);
  const shapes = new Map(weights.map((spec) => [spec.name, spec.shape]));

  const forward = new OnnxGraphBuilder(`pqm_${config.modelType}_train_forward`);
  const backward = step === null ? new OnnxGraphBuilder(`pqm_${config.modelType}_train_backward`) : forward;
  const tokenInput = (graph: OnnxGraphBuilder, name: string) =>
    graph.input({ name, dataType: OnnxDataType.INT64, shape: ["batch", "sequence"] });
  const inputIds = tokenInput(forward, TRAINING_IO_NAMES.inputIds);
  const positionIds = tokenInput(forward, TRAINING_IO_NAMES.positionIds);
  const attentionMask = tokenInput(forward, TRAINING_IO_NAMES.attentionMask);
  const backwardIds = step === null ? tokenInput(backward, TRAINING_IO_NAMES.inputIds) : inputIds; // for shapes
  const backwardPositions = step === null ? tokenInput(backward, TRAINING_IO_NAMES.positionIds) : positionIds;

  const forwardWeights: string[] = [];
  const backwardWeights: string[] = [];
  const weightIn = (graph: OnnxGraphBuilder, list: string[], name: string): string => {
    if (!list.includes(name)) {
      graph.input({ name, dataType: FLOAT, shape: shapes.get(name) as number[] });
      list.push(name);
    }
    return name;
  };
  const fw = (name: string) => weightIn(forward, forwardWeights, name);
  const bw = (name: string) => (step === null ? weightIn(backward, backwardWeights, name) : fw(name));

  const saved: SavedActivation[] = [];
  const savedByLabel = new Map<string, string>();
  /**
   * Makes forward value `value` a forward output and a backward input under its own name (an output
   * under another name would cost an Identity copy), found again by `label` through `savedValue`.
   */
  const save = (value: string, label: string, dims: SavedDim[]): string => {
    savedByLabel.set(label, value);
    if (step !== null) return value; // one graph: the backward reads the value itself
    const symbolic: Partial<Record<SavedDim, string>> = {
      groupSequence: "group_sequence",
      groupHalf: "group_half",
      groupRest: "group_rest",
    };
    const shape = dims.map((dim) => symbolic[dim] ?? dim);
    forward.output(value, { name: value, dataType: FLOAT, shape });
    backward.input({ name: value, dataType: FLOAT, shape });
    saved.push({ name: value, dims });
    return value;
  };
  const savedValue = (label: string): string => {
    const name = savedByLabel.get(label);
    if (name === undefined) throw new Error(`training graph: nothing saved as ${label}`);
    return name;
  };

  // Rotary tables [batch, seq, 1, headDim] from the positions, in each graph (cheaper than saving them).
  const forwardRope = rotaryTables(forward, positionIds, config);
  const backwardRope = step === null ? rotaryTables(backward, backwardPositions, config) : forwardRope;
  const swapHalves = (graph: OnnxGraphBuilder, x: string) => {
    const [first, second] = graph.nodeWithOutputs("Split", [x], 2, { axis: -1 });
    return graph.node("Concat", [second as string, first as string], { axis: -1 });
  };
  const rotate = (x: string) =>
    forward.node("Add", [
      forward.node("Mul", [x, forwardRope.cos]),
      forward.node("Mul", [swapHalves(forward, x), forwardRope.signedSin]),
    ]);
  // y = x·cos + swap(x)·s: dx = dy·cos + swap(dy·s), swapping halves being its own transpose.
  const rotateBack = (dy: string) =>
    backward.node("Add", [
      backward.node("Mul", [dy, backwardRope.cos]),
      swapHalves(backward, backward.node("Mul", [dy, backwardRope.signedSin])),
    ]);

  // Causal attention in two blocks of queries: the first half of the positions sees only the first half
  // of the keys, so its scores are a quarter of the full square and the block a quarter of the work; the
  // second half sees every key. A quarter of attention's products and of its element-wise passes is
  // skipped. The grouped layout [batch, kvHeads, seq*group, headDim] orders rows by position, then query
  // head, so each block is a contiguous run of rows.
  /** The length, its first half (rounded down), group × half and the rest, as int64 [1] vectors. */
  const blockSizes = (graph: OnnxGraphBuilder, ids: string) => {
    const length = graph.node("Slice", [
      graph.node("Shape", [ids]),
      graph.int64Vector([1]),
      graph.int64Vector([2]),
    ]);
    const half = graph.node("Div", [length, graph.int64Vector([2])]);
    return {
      length,
      half,
      halfRows: graph.node("Mul", [half, graph.int64Vector([groupSize])]),
      rest: graph.node("Sub", [length, half]),
    };
  };
  const forwardBlocks = blockSizes(forward, inputIds);
  const backwardBlocks = step === null ? blockSizes(backward, backwardIds) : forwardBlocks;
  const END = Number.MAX_SAFE_INTEGER;
  /** `x[.., start:end, ..]` along `axis` (start and end int64 [1] vectors). */
  const slice = (graph: OnnxGraphBuilder, x: string, start: string, end: string, axis: number) =>
    graph.node("Slice", [x, start, end, graph.int64Vector([axis])]);
  const startOf = (graph: OnnxGraphBuilder) => graph.int64Vector([0]);
  const endOf = (graph: OnnxGraphBuilder) => graph.int64Vector([END]);
  // Additive masks [batch, 1, seq, seq] (as the export builds them), one per distinct window, then per
  // block: [batch, 1, half*group, half] and [batch, 1, rest*group, seq].
  const squareMask = additiveMaskBuilder(forward, inputIds, attentionMask, 1);
  const blockMasks = new Map<number | null, { first: string; second: string }>();
  const forwardMask = (window: number | null) => {
    const built = blockMasks.get(window);
    if (built !== undefined) return built;
    let mask = squareMask(window);
    if (groupSize > 1)
      mask = forward.node("Reshape", [
        forward.node("Tile", [
          forward.node("Unsqueeze", [mask, forward.int64Vector([3])]),
          forward.int64Vector([1, 1, 1, groupSize, 1]),
        ]),
        forward.node("Concat", [forward.int64Vector([0, 1, -1]), forwardBlocks.length], { axis: 0 }),
      ]); // [batch, 1, seq*group, seq], rows by position then head
    const masks = {
      first: forward.node("Slice", [
        mask,
        forward.int64Vector([0, 0]),
        forward.node("Concat", [forwardBlocks.halfRows, forwardBlocks.half], { axis: 0 }),
        forward.int64Vector([2, 3]),
      ]),
      second: slice(forward, mask, forwardBlocks.halfRows, endOf(forward), 2),
    };
    blockMasks.set(window, masks);
    return masks;
  };
  /** Softmax of `q·kᵀ + mask` over the keys: [batch, kvHeads, group*seq, seq]. */
  const probabilities = (graph: OnnxGraphBuilder, query: string, key: string, mask: string) =>
    graph.node(
      "Softmax",
      [
        graph.node("Add", [
          graph.node("MatMul", [query, graph.node("Transpose", [key], { perm: [0, 1, 3, 2] })]),
          mask,
        ]),
      ],
      { axis: -1 },
    );

  const headsShape = (graph: OnnxGraphBuilder, ids: string, heads: number) =>
    graph.node("Concat", [graph.node("Shape", [ids]), graph.int64Vector([heads, headDim])], { axis: 0 });
  const forwardQueryShape = headsShape(forward, inputIds, numAttentionHeads);
  const forwardKvShape = headsShape(forward, inputIds, numKeyValueHeads);

  // In the one-graph step, forward values the backward would recompute are read instead (`kept`).
  const kept = new Map<string, string>();
  const keep = (value: string, label: string): string => {
    if (step !== null) kept.set(label, value);
    return value;
  };
  /** RMSNorm forward: saves x's inverse root; returns the normed value. */
  const rmsNorm = (x: string, weightName: string, savedName: string) => {
    const meanSquare = forward.node("ReduceMean", [forward.node("Mul", [x, x])], { axes: [-1], keepdims: 1 });
    const inverseRoot = forward.node("Reciprocal", [
      forward.node("Sqrt", [forward.node("Add", [meanSquare, forward.float32Scalar(rmsNormEps)])]),
    ]); // [rows, 1]
    save(inverseRoot, savedName, ["rows", 1]);
    const normalized = keep(forward.node("Mul", [x, inverseRoot]), `${savedName}:normalized`);
    return keep(forward.node("Mul", [normalized, fw(weightName)]), `${savedName}:normed`);
  };
  /** `x·r`: RMSNorm's input over its root mean square (saved as x and r under these labels). */
  const normalizedOf = (xLabel: string, rootLabel: string) =>
    kept.get(`${rootLabel}:normalized`) ?? backward.node("Mul", [savedValue(xLabel), savedValue(rootLabel)]);
  /** `x·r·w`, the normed value, given `normalized` = x·r. */
  const normedOf = (normalized: string, rootLabel: string, weightName: string) =>
    kept.get(`${rootLabel}:normed`) ?? backward.node("Mul", [normalized, bw(weightName)]);
  /**
   * RMSNorm backward: y = x·r·w with r = (mean(x²)+eps)^-1/2, given `normalized` = x·r; returns dx and
   * names dw's output.
   */
  const rmsNormBack = (normalized: string, inverseRoot: string, weightName: string, dy: string): string => {
    gradient(
      backward.node("ReduceSum", [backward.node("Mul", [dy, normalized]), backward.int64Vector([0])], {
        keepdims: 0,
      }),
      weightName,
    );
    const scaled = backward.node("Mul", [dy, bw(weightName)]); // dL/d(x·r)
    const dot = backward.node("ReduceMean", [backward.node("Mul", [scaled, normalized])], {
      axes: [-1],
      keepdims: 1,
    }); // mean over features of (dy·w)·x·r
    // dx = r·(dy·w) − x·r³·mean((dy·w)·x) = r·((dy·w) − (x·r)·mean((dy·w)·(x·r)))
    return backward.node("Mul", [
      inverseRoot,
      backward.node("Sub", [scaled, backward.node("Mul", [normalized, dot])]),
    ]);
  };
  const gradientNames = new Set<string>();
  const gradient = (value: string, weightName: string): void => {
    backward.output(value, {
      name: gradientName(weightName),
      dataType: FLOAT,
      shape: shapes.get(weightName) as number[],
    });
    gradientNames.add(weightName);
  };
  const hasBias = (module: string) => shapes.has(`${module}.bias`);
  const linear = (x: string, module: string) => {
    const product = forward.node("MatMul", [x, fw(`${module}.weight`)]);
    return hasBias(module) ? forward.node("Add", [product, fw(`${module}.bias`)]) : product;
  };
  /** Gradients of `y = x·W + b` given dy; returns dx (null when `needInput` is false). */
  const linearBack = (x: string, module: string, dy: string, needInput = true): string | null => {
    gradient(
      backward.node("MatMul", [backward.node("Transpose", [x], { perm: [1, 0] }), dy]),
      `${module}.weight`,
    );
    if (hasBias(module))
      gradient(
        backward.node("ReduceSum", [dy, backward.int64Vector([0])], { keepdims: 0 }),
        `${module}.bias`,
      );
    if (!needInput) return null;
    return backward.node("MatMul", [
      dy,
      backward.node("Transpose", [bw(`${module}.weight`)], { perm: [1, 0] }),
    ]);
  };

  /**
   * One block's attention backward: from its probabilities P, the gradient dC of its output C = P·V, C
   * itself, and its queries, keys and values, the gradients of the queries, keys and values. Softmax's
   * gradient is P·(dP − Σ_k dP·P), with Σ_k dP·P = Σ_k P·(dC·Vᵀ) = dC·C summed over the head dimension:
   * on [.., headDim] rows instead of two more passes over the scores.
   */
  /** The grouped layout [batch, kvHeads, seq*group, headDim] back to [batch, seq, kvHeads, group, headDim]. */
  const ungrouped = (graph: OnnxGraphBuilder, x: string) =>
    graph.node(
      "Transpose",
      [graph.node("Reshape", [x, graph.int64Vector([0, numKeyValueHeads, -1, groupSize, headDim])])],
      { perm: [0, 2, 1, 3, 4] },
    );
  const headOnes = backward.float32("head_ones", new Float32Array(headDim).fill(1), [headDim, 1]);
  const attentionBack = (
    attention: string,
    dContext: string,
    context: string,
    query: string,
    key: string,
    value: string,
  ) => {
    const transposed = (x: string) => backward.node("Transpose", [x], { perm: [0, 1, 3, 2] });
    const dProbabilities = backward.node("MatMul", [dContext, transposed(value)]);
    const dScores = backward.node("Mul", [
      attention,
      backward.node("Sub", [
        dProbabilities,
        // Summed by a product with ones: ReduceSum keeps the head axis when the block is empty
        // (a one-token sequence), which then fails to broadcast.
        backward.node("MatMul", [backward.node("Mul", [dContext, context]), headOnes]),
      ]),
    ]);
    return {
      dQuery: backward.node("MatMul", [dScores, key]),
      dKey: backward.node("MatMul", [transposed(dScores), query]),
      dValue: backward.node("MatMul", [transposed(attention), dContext]),
    };
  };
  const backwardGroupedShape = backward.node(
    "Concat",
    [backward.node("Shape", [backwardIds]), backward.int64Vector([numKeyValueHeads, groupSize, headDim])],
    { axis: 0 },
  ); // [batch, seq, kvHeads, group, headDim]

  // ---- forward ----
  let x = forward.node("Reshape", [
    forward.node("Gather", [fw("model.embed_tokens.weight"), inputIds], { axis: 0 }),
    forward.int64Vector([-1, hiddenSize]),
  ]); // [batch*seq, hidden]
  for (let index = 0; index < config.numHiddenLayers; index++) {
    const p = `model.layers.${index}`;
    const s = `saved:${index}`;
    save(x, `${s}.x`, ["rows", hiddenSize]);
    const normed = rmsNorm(x, `${p}.input_layernorm.weight`, `${s}.r1`);
    const query = rotate(
      forward.node("Reshape", [linear(normed, `${p}.self_attn.q_proj`), forwardQueryShape]),
    );
    const key = rotate(forward.node("Reshape", [linear(normed, `${p}.self_attn.k_proj`), forwardKvShape]));
    const value = forward.node("Reshape", [linear(normed, `${p}.self_attn.v_proj`), forwardKvShape]);
    const groupedQuery = save(
      forward.node("Reshape", [
        forward.node(
          "Transpose",
          [
            forward.node("Reshape", [
              forward.node("Mul", [query, forward.float32Scalar(scale)]),
              forward.int64Vector([0, 0, numKeyValueHeads, groupSize, headDim]),
            ]),
          ],
          { perm: [0, 2, 1, 3, 4] },
        ),
        forward.int64Vector([0, numKeyValueHeads, -1, headDim]),
      ]),
      `${s}.q`,
      ["batch", numKeyValueHeads, "groupSequence", headDim],
    ); // [batch, kvHeads, seq*group, headDim], rows by position then head
    const keyHeads = save(forward.node("Transpose", [key], { perm: [0, 2, 1, 3] }), `${s}.k`, [
      "batch",
      numKeyValueHeads,
      "sequence",
      headDim,
    ]); // [batch, kvHeads, seq, headDim]
    const valueHeads = save(forward.node("Transpose", [value], { perm: [0, 2, 1, 3] }), `${s}.v`, [
      "batch",
      numKeyValueHeads,
      "sequence",
      headDim,
    ]);
    const masks = forwardMask(config.layerSlidingWindows[index] ?? null);
    const firstQuery = keep(
      slice(forward, groupedQuery, startOf(forward), forwardBlocks.halfRows, 2),
      `${s}.q1`,
    );
    const firstKey = keep(slice(forward, keyHeads, startOf(forward), forwardBlocks.half, 2), `${s}.k1`);
    const firstValue = keep(slice(forward, valueHeads, startOf(forward), forwardBlocks.half, 2), `${s}.v1`);
    const secondQuery = keep(
      slice(forward, groupedQuery, forwardBlocks.halfRows, endOf(forward), 2),
      `${s}.q2`,
    );
    const firstAttention = save(probabilities(forward, firstQuery, firstKey, masks.first), `${s}.p1`, [
      "batch",
      numKeyValueHeads,
      "groupHalf",
      "half",
    ]); // [batch, kvHeads, half*group, half]
    const secondAttention = save(probabilities(forward, secondQuery, keyHeads, masks.second), `${s}.p2`, [
      "batch",
      numKeyValueHeads,
      "groupRest",
      "sequence",
    ]); // [batch, kvHeads, rest*group, seq]
    const context = forward.node(
      "Concat",
      [
        keep(forward.node("MatMul", [firstAttention, firstValue]), `${s}.o1`),
        keep(forward.node("MatMul", [secondAttention, valueHeads]), `${s}.o2`),
      ],
      { axis: 2 },
    ); // [batch, kvHeads, seq*group, headDim]
    const merged = save(
      forward.node("Reshape", [ungrouped(forward, context), forward.int64Vector([-1, queryWidth])]),
      `${s}.merged`,
      ["rows", queryWidth],
    ); // [batch*seq, heads*headDim]
    x = save(forward.node("Add", [x, linear(merged, `${p}.self_attn.o_proj`)]), `${s}.x2`, [
      "rows",
      hiddenSize,
    ]);
    const mlpInput = rmsNorm(x, `${p}.post_attention_layernorm.weight`, `${s}.r2`);
    const gate = save(linear(mlpInput, `${p}.mlp.gate_proj`), `${s}.gate`, ["rows", config.intermediateSize]);
    const sigmoid = forward.node("Sigmoid", [gate]);
    const up = save(linear(mlpInput, `${p}.mlp.up_proj`), `${s}.up`, ["rows", config.intermediateSize]);
    const siluGate = keep(forward.node("Mul", [gate, sigmoid]), `${s}.silu`);
    const activated = keep(forward.node("Mul", [siluGate, up]), `${s}.activated`);
    x = forward.node("Add", [x, linear(activated, `${p}.mlp.down_proj`)]);
  }
  save(x, "saved:final.x", ["rows", hiddenSize]);
  const hidden = rmsNorm(x, "model.norm.weight", "saved:final.r");
  const tokenShape = forward.node(
    "Concat",
    [forward.node("Shape", [inputIds]), forward.int64Vector([hiddenSize])],
    {
      axis: 0,
    },
  );
  let hiddenGradient: string; // [batch*seq, hidden]
  if (step === null) {
    forward.output(forward.node("Reshape", [hidden, tokenShape]), {
      name: TRAINING_IO_NAMES.hidden,
      dataType: FLOAT,
      shape: ["batch", "sequence", hiddenSize],
    });
    hiddenGradient = backward.node("Reshape", [
      backward.input({
        name: TRAINING_IO_NAMES.hiddenGradient,
        dataType: FLOAT,
        shape: ["batch", "sequence", hiddenSize],
      }),
      backward.int64Vector([-1, hiddenSize]),
    ]);
  } else {
    hiddenGradient = valueHeadAndLoss(forward, forward.node("Reshape", [hidden, tokenShape]), hiddenSize);
  }

  // ---- backward ----
  let dx = rmsNormBack(
    normalizedOf("saved:final.x", "saved:final.r"),
    savedValue("saved:final.r"),
    "model.norm.weight",
    hiddenGradient,
  ); // [batch*seq, hidden]
  for (let index = config.numHiddenLayers - 1; index >= 0; index--) {
    const p = `model.layers.${index}`;
    const s = `saved:${index}`;
    // MLP: x3 = x2 + down(silu(gate)·up), with silu and the product recomputed from gate and up (read
    // from the forward in the one-graph step).
    const gate = savedValue(`${s}.gate`);
    const up = savedValue(`${s}.up`);
    const sigmoid = backward.node("Sigmoid", [gate]);
    const siluGate = kept.get(`${s}.silu`) ?? backward.node("Mul", [gate, sigmoid]);
    const activated = kept.get(`${s}.activated`) ?? backward.node("Mul", [siluGate, up]);
    const dActivated = linearBack(activated, `${p}.mlp.down_proj`, dx) as string;
    const dUp = backward.node("Mul", [dActivated, siluGate]);
    // silu'(g) = s·(1 + g·(1 − s)) = s + silu(g)·(1 − s)
    const siluSlope = backward.node("Add", [
      sigmoid,
      backward.node("Mul", [siluGate, backward.node("Sub", [backward.float32Scalar(1), sigmoid])]),
    ]);
    const dGate = backward.node("Mul", [backward.node("Mul", [dActivated, up]), siluSlope]);
    const normalized2 = normalizedOf(`${s}.x2`, `${s}.r2`);
    const mlpInput = normedOf(normalized2, `${s}.r2`, `${p}.post_attention_layernorm.weight`);
    const dMlpInput = backward.node("Add", [
      linearBack(mlpInput, `${p}.mlp.up_proj`, dUp) as string,
      linearBack(mlpInput, `${p}.mlp.gate_proj`, dGate) as string,
    ]);
    const dx2 = backward.node("Add", [
      dx,
      rmsNormBack(normalized2, savedValue(`${s}.r2`), `${p}.post_attention_layernorm.weight`, dMlpInput),
    ]);
    // Attention: x2 = x + o_proj(merged), in the forward's two blocks of queries. Saving the
    // probabilities measured a few percent faster than recomputing them from q and k.
    const dMerged = linearBack(savedValue(`${s}.merged`), `${p}.self_attn.o_proj`, dx2) as string;
    /** [batch*seq, heads*headDim] to the grouped layout [batch, kvHeads, seq*group, headDim]. */
    const grouped = (rows: string) =>
      backward.node("Reshape", [
        backward.node("Transpose", [backward.node("Reshape", [rows, backwardGroupedShape])], {
          perm: [0, 2, 1, 3, 4],
        }),
        backward.int64Vector([0, numKeyValueHeads, -1, headDim]),
      ]);
    const blocks = backwardBlocks;
    const start = startOf(backward);
    const end = endOf(backward);
    const dContext = grouped(dMerged);
    const query = savedValue(`${s}.q`);
    const keyHeads = savedValue(`${s}.k`);
    const valueHeads = savedValue(`${s}.v`);
    // The attention's output P·V per block (the forward's, or the saved merged heads regrouped).
    const context = kept.has(`${s}.o1`) ? null : grouped(savedValue(`${s}.merged`));
    const first = attentionBack(
      savedValue(`${s}.p1`),
      slice(backward, dContext, start, blocks.halfRows, 2),
      kept.get(`${s}.o1`) ?? slice(backward, context as string, start, blocks.halfRows, 2),
      kept.get(`${s}.q1`) ?? slice(backward, query, start, blocks.halfRows, 2),
      kept.get(`${s}.k1`) ?? slice(backward, keyHeads, start, blocks.half, 2),
      kept.get(`${s}.v1`) ?? slice(backward, valueHeads, start, blocks.half, 2),
    );
    const second = attentionBack(
      savedValue(`${s}.p2`),
      slice(backward, dContext, blocks.halfRows, end, 2),
      kept.get(`${s}.o2`) ?? slice(backward, context as string, blocks.halfRows, end, 2),
      kept.get(`${s}.q2`) ?? slice(backward, query, blocks.halfRows, end, 2),
      keyHeads,
      valueHeads,
    );
    // The first block's keys and values are the first half: pad their gradients to the whole length.
    const padRest = backward.node(
      "Concat",
      [backward.int64Vector([0, 0, 0, 0, 0, 0]), blocks.rest, backward.int64Vector([0])],
      { axis: 0 },
    );
    const padded = (x: string) => backward.node("Pad", [x, padRest]);
    const dGroupedQuery = backward.node("Concat", [first.dQuery, second.dQuery], { axis: 2 }); // [batch, kvHeads, seq*group, headDim]
    const dKeyHeads = backward.node("Add", [second.dKey, padded(first.dKey)]); // [batch, kvHeads, seq, headDim]
    const dValueHeads = backward.node("Add", [second.dValue, padded(first.dValue)]);
    const rows = backward.int64Vector([-1, queryWidth]);
    const kvRows = backward.int64Vector([-1, numKeyValueHeads * headDim]);
    const dQuery = backward.node("Reshape", [
      rotateBack(
        backward.node("Mul", [
          backward.node("Reshape", [
            ungrouped(backward, dGroupedQuery),
            backward.int64Vector([0, 0, numAttentionHeads, headDim]),
          ]),
          backward.float32Scalar(scale),
        ]),
      ),
      rows,
    ]);
    const dKey = backward.node("Reshape", [
      rotateBack(backward.node("Transpose", [dKeyHeads], { perm: [0, 2, 1, 3] })),
      kvRows,
    ]);
    const dValue = backward.node("Reshape", [
      backward.node("Transpose", [dValueHeads], { perm: [0, 2, 1, 3] }),
      kvRows,
    ]);
    const normalized1 = normalizedOf(`${s}.x`, `${s}.r1`);
    const normed = normedOf(normalized1, `${s}.r1`, `${p}.input_layernorm.weight`);
    const dNormed = backward.node("Add", [
      backward.node("Add", [
        linearBack(normed, `${p}.self_attn.q_proj`, dQuery) as string,
        linearBack(normed, `${p}.self_attn.k_proj`, dKey) as string,
      ]),
      linearBack(normed, `${p}.self_attn.v_proj`, dValue) as string,
    ]);
    dx = backward.node("Add", [
      dx2,
      rmsNormBack(normalized1, savedValue(`${s}.r1`), `${p}.input_layernorm.weight`, dNormed),
    ]);
  }
  // The embedding lookup's gradient is each token row's gradient added into its token's row. That
  // scatter is left to the caller: ONNX Runtime's ScatterND with reduction "add" races on repeated ids
  // when it runs on several threads (measured: a different gradient on every run).
  backward.output(dx, {
    name: TRAINING_IO_NAMES.embeddedGradient,
    dataType: FLOAT,
    shape: ["rows", hiddenSize],
  });
  for (const spec of weights) {
    if (spec.name !== EMBEDDING && !gradientNames.has(spec.name))
      throw new Error(`training graph: no gradient for ${spec.name}`);
  }
  return { forward, backward, weights, forwardWeights, backwardWeights, saved };
}

/**
 * The value head (dropout multiplier, then `h·wᵀ + b` at each step tag) and the practical PQM loss
 * (`pqm` of @pqm/core) with their gradients, inside the step graph. For a row with correct steps C and
 * wrong steps W (shifted by zeta): term_0 = log(1 + Σ_W e^(r+ζ) + eps) when W is not empty, and for each
 * correct t, log(e^r_t + 1 + eps + Σ_{s<t, s∈C} e^r_s + Σ_W e^(r+ζ)) − r_t; the row's loss is the mean of
 * its terms, the batch's the mean over rows with a valid step. Each log-sum-exp is taken over the row's
 * terms with an additive mask, after subtracting its maximum (at least 0, the anchor's exponent). The
 * gradient with respect to r_s is the row's weight times (Σ_t correct_t·softmax_t(s) − correct_s +
 * softmax_0(s)). Outputs the loss and the head's gradients; returns the gradient of the last hidden
 * state, `[batch*seq, hidden]`.
 */
function valueHeadAndLoss(graph: OnnxGraphBuilder, hidden: string, hiddenSize: number): string {
  const io = STEP_IO_NAMES;
  const input = (name: string, shape: (string | number)[]) => graph.input({ name, dataType: FLOAT, shape });
  const tagOneHot = input(io.tagOneHot, ["batch", "tags", "sequence"]);
  const dropoutScale = input(io.dropoutScale, ["batch", "tags", hiddenSize]);
  const valid = input(io.valid, ["batch", "tags"]);
  const correct = input(io.correct, ["batch", "tags"]);
  const shift = input(io.shift, ["batch", "tags"]);
  const include = input(io.include, ["batch", "tags", "tags"]);
  const wrongMask = input(io.wrongMask, ["batch", "tags"]);
  const hasWrong = input(io.hasWrong, ["batch", 1]);
  const rowScale = input(io.rowScale, ["batch", 1]);
  const weight = input(io.headWeight, [1, hiddenSize]);
  const bias = input(io.headBias, [1]);
  const n = (op: string, inputs: string[], attributes = {}) => graph.node(op, inputs, attributes);
  const lastAxis = graph.int64Vector([-1]);
  const zero = graph.float32Scalar(0);
  const logEps = graph.float32Scalar(Math.log(PQM_EPS));
  const dropped = n("Mul", [n("MatMul", [tagOneHot, hidden]), dropoutScale]); // [batch, tags, hidden]
  const scores = n("Add", [
    n("Reshape", [
      n("MatMul", [dropped, n("Transpose", [weight], { perm: [1, 0] })]),
      graph.int64Vector([0, -1]),
    ]),
    bias,
  ]); // [batch, tags]
  const r = n("Mul", [scores, valid]);
  const shifted = n("Add", [r, shift]); // r + zeta on wrong steps
  /** log(Σ e^v + 1 + eps) over the last axis of the masked values `v`, with e^(v − m) and the sum. */
  const logSumExp = (values: string) => {
    const max = n("Max", [n("ReduceMax", [values], { axes: [-1], keepdims: 1 }), zero]);
    const exps = n("Exp", [n("Sub", [values, max])]);
    const sum = n("Add", [
      n("ReduceSum", [exps, lastAxis], { keepdims: 1 }),
      n("Add", [n("Exp", [n("Neg", [max])]), n("Exp", [n("Sub", [logEps, max])])]),
    ]);
    return { value: n("Add", [n("Log", [sum]), max]), exps, sum };
  };
  // Correct steps' denominators: [batch, t, s] over s.
  const denominators = logSumExp(n("Add", [n("Unsqueeze", [shifted, graph.int64Vector([1])]), include]));
  const term0 = logSumExp(n("Add", [shifted, wrongMask])); // [batch, 1]
  const rowSum = n("Add", [
    n(
      "ReduceSum",
      [
        n("Mul", [correct, n("Sub", [n("Reshape", [denominators.value, graph.int64Vector([0, -1])]), r])]),
        lastAxis,
      ],
      { keepdims: 1 },
    ),
    n("Mul", [hasWrong, term0.value]),
  ]); // [batch, 1]
  graph.output(
    n("Reshape", [n("ReduceSum", [n("Mul", [rowScale, rowSum])], { keepdims: 0 }), graph.int64Vector([1])]),
    {
      name: io.loss,
      dataType: FLOAT,
      shape: [1],
    },
  );
  const softmax = n("Div", [denominators.exps, denominators.sum]); // [batch, t, s]
  const dScores = n("Mul", [
    n("Mul", [
      rowScale,
      n("Add", [
        n("Sub", [
          n("Reshape", [
            n("MatMul", [n("Unsqueeze", [correct, graph.int64Vector([1])]), softmax]),
            graph.int64Vector([0, -1]),
          ]),
          correct,
        ]),
        n("Div", [term0.exps, term0.sum]),
      ]),
    ]),
    valid,
  ]); // [batch, tags]
  graph.output(
    n("MatMul", [
      n("Reshape", [dScores, graph.int64Vector([1, -1])]),
      n("Reshape", [dropped, graph.int64Vector([-1, hiddenSize])]),
    ]),
    {
      name: gradientName(io.headWeight),
      dataType: FLOAT,
      shape: [1, hiddenSize],
    },
  );
  graph.output(n("ReduceSum", [n("Reshape", [dScores, lastAxis]), graph.int64Vector([0])], { keepdims: 1 }), {
    name: gradientName(io.headBias),
    dataType: FLOAT,
    shape: [1],
  });
  const dTagHidden = n("Mul", [
    n("Mul", [n("Unsqueeze", [dScores, graph.int64Vector([2])]), weight]),
    dropoutScale,
  ]);
  return n("Reshape", [
    n("MatMul", [n("Transpose", [tagOneHot], { perm: [0, 2, 1] }), dTagHidden]),
    graph.int64Vector([-1, hiddenSize]),
  ]);
}
