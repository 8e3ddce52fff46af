import { LABEL_PAD, PQM_RANKING_LOSS_KERNEL } from "@pqm/core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { SIMD_KERNELS_BASE64 } from "./simd/kernels.generated.js";
import { overrideWasmKernel, restoreWasmKernel } from "./wasm-kernel-override.js";

// Three wasm kernels that a training step calls often and the wasm build does slowly for the shapes a
// decoder gives them, replaced by plain loops over the wasm heap (profiled on torch-peer M, one
// training step, 1 thread; figures in bench/results/levers-*.json):
// - `Sum` over the leading axes (a bias's or a norm weight's gradient, `[tokens, hidden]` to
//   `[hidden]`): the wasm kernel transposes the reduced axes innermost first, about 2.8 ms for
//   `[2048, 256]`; one pass adding rows does it in a fraction. Accumulates in float64.
// - `GatherV2` of whole rows (the embedding lookup): the wasm kernel copies element by element with
//   index arithmetic, about 16 ms for 2,048 rows of 256; row copies take well under 1 ms.
// - `Cast` to the dtype the tensor already has: tfjs-core's gradient of `mul` casts its operand to
//   float32 before using it, which on wasm copies the whole tensor (110 copies per step). A same-dtype
//   cast shares the data instead, like `Identity` (TF.js never writes into an existing tensor).
// Anything else falls through to the stock kernel, which keeps its own errors and edge cases.

interface KernelArguments {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs?: tf.NamedAttrMap;
}
type StockKernel = (args: KernelArguments) => tf.TensorInfo;

interface WasmModule {
  HEAPF32: Float32Array;
  wasmMemory?: { buffer: ArrayBuffer | SharedArrayBuffer };
}

const stock = new Map<string, tf.KernelConfig>();

function callStock(kernelName: string, args: KernelArguments): tf.TensorInfo {
  return ((stock.get(kernelName) as tf.KernelConfig).kernelFunc as unknown as StockKernel)(args);
}

/** The heap's current buffer (read after every allocation: growing the heap replaces it). */
function heap(backend: BackendWasm): ArrayBuffer | SharedArrayBuffer {
  const module = backend.wasm as unknown as WasmModule;
  return module.wasmMemory?.buffer ?? module.HEAPF32.buffer;
}

function offsetOf(backend: BackendWasm, info: tf.TensorInfo): number {
  return backend.dataIdMap.get(info.dataId).memoryOffset as number;
}

function product(values: readonly number[]): number {
  let result = 1;
  for (const value of values) result *= value;
  return result;
}

function hostSum(args: KernelArguments): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype !== "float32" || x.shape.length < 2) return callStock(tf.Sum, args);
  const axes = [...tf.util.parseAxisParam(args.attrs?.axis as number | number[], x.shape)].sort(
    (a, b) => a - b,
  );
  const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((axis, i) => axis === i);
  if (!leading) return callStock(tf.Sum, args);
  const rows = product(x.shape.slice(0, axes.length));
  const columns = product(x.shape.slice(axes.length));
  if (rows * columns === 0) return callStock(tf.Sum, args);
  const kept = x.shape.slice(axes.length);
  const outShape = args.attrs?.keepDims === true ? [...axes.map(() => 1), ...kept] : kept;
  const { backend } = args;
  const out = backend.makeOutput(outShape, "float32");
  const buffer = heap(backend);
  const source = new Float32Array(buffer, offsetOf(backend, x), rows * columns);
  const target = new Float32Array(buffer, offsetOf(backend, out), columns);
  const total = new Float64Array(columns);
  for (let row = 0, base = 0; row < rows; row++, base += columns) {
    for (let column = 0; column < columns; column++)
      total[column] = (total[column] as number) + (source[base + column] as number);
  }
  target.set(total);
  return out;
}

function hostGather(args: KernelArguments): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const indices = args.inputs.indices as tf.TensorInfo;
  const axis = tf.util.parseAxisParam(args.attrs?.axis as number, x.shape)[0];
  const batchDims = (args.attrs?.batchDims as number | undefined) ?? 0;
  if (
    x.dtype !== "float32" ||
    indices.dtype !== "int32" ||
    axis !== 0 ||
    batchDims !== 0 ||
    x.shape.length < 2
  )
    return callStock(tf.GatherV2, args);
  const count = product(indices.shape);
  const rows = x.shape[0] as number;
  const width = product(x.shape.slice(1));
  const { backend } = args;
  const ids = new Int32Array(heap(backend), offsetOf(backend, indices), count).slice();
  for (let index = 0; index < count; index++) {
    const id = ids[index] as number;
    if (id < 0 || id >= rows) return callStock(tf.GatherV2, args); // the stock kernel's behaviour
  }
  const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], "float32");
  const buffer = heap(backend);
  const table = new Float32Array(buffer, offsetOf(backend, x), rows * width);
  const target = new Float32Array(buffer, offsetOf(backend, out), count * width);
  for (let index = 0; index < count; index++) {
    const start = (ids[index] as number) * width;
    target.set(table.subarray(start, start + width), index * width);
  }
  return out;
}

function hostCast(args: KernelArguments): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const dtype = args.attrs?.dtype as tf.DataType | undefined;
  if (dtype !== x.dtype || (dtype !== "float32" && dtype !== "int32")) return callStock(tf.Cast, args);
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

// A fused kernel under the package's own name, registered on wasm only; callers look it up with
// `hasHostKernel` and otherwise compose the same arithmetic from TF.js operations. It rounds to float32
// after every operation, in the order the composed version runs, so both give the same bits. The
// rotary embedding gains because the composed version splits and concatenates along the last axis
// (slow on wasm): fused forward and backward take 8 ms where the composed ones take 16 (torch-peer M,
// one layer's queries, fwd+bwd). Dense arithmetic does not gain this way: plain JavaScript loops run
// one element at a time, and lose to the wasm build's SIMD kernels even against a chain of them
// (AdamW in one JavaScript pass: 20 ms per million parameters against 7 for its 13 wasm kernels;
// the softmax gradient: 20 ms against 8), so AdamW and the softmax stay composed.

/** Kernel names of the fused host kernels. */
export const HostKernel = {
  /**
   * AdamW on one parameter (SIMD on wasm): inputs parameter, gradient, firstMoment, secondMoment; attrs
   * beta1, beta2, epsilon, correction1, correction2, learningRate, decay and optionally gradientScale
   * (the gradient is multiplied by it first); three outputs.
   */
  adamW: "PqmAdamW",
  /** SwiGLU's gradient (SIMD): inputs gate, up, sigmoid (of gate), dy; outputs dGate, dUp. */
  swigluGrad: "PqmSwiGluGrad",
  /** RMSNorm over the last axis (SIMD): inputs x, weight; attr eps; outputs y and r (`[rows]`, 1/rms). */
  rmsNorm: "PqmRmsNorm",
  /** RMSNorm's gradient (SIMD): inputs x, weight, r, dy; outputs dx, dWeight. */
  rmsNormGrad: "PqmRmsNormGrad",
  /** Softmax's gradient over the last axis (SIMD): inputs y (the softmax), dy. */
  softmaxGrad: "PqmSoftmaxGrad",
  /** Rotate-half rotary embedding (`inverse`: its gradient): inputs x, cos, sin. */
  rotary: "PqmRotaryEmbedding",
  /**
   * Sums of squares (webgpu only): inputs x0, x1, ... (up to 7 float32 tensors of any shapes); output
   * `[inputs, parts]` of partial sums, each row adding up to its input's sum of squares.
   */
  sumOfSquares: "PqmSumOfSquares",
  /**
   * Scaled dot-product attention (webgpu only): inputs query `[batch, heads, seq, headDim]`, key and
   * value `[batch, kvHeads, seq, headDim]` (query head h reads kv head h / (heads / kvHeads)), mask
   * `[batch, 1, 1, seq, seq]` (additive); attr scale; outputs the attention output `[batch, seq, heads,
   * headDim]` and each query row's log-sum-exp as its maximum and the log of its sum of exponentials
   * `[batch, heads, seq, 2]`.
   */
  attention: "PqmAttention",
  /** The gradient of {@link HostKernel.attention}: inputs query, key, value, mask, output, lse, dy; attr scale; outputs dQuery, dKey, dValue. */
  attentionGrad: "PqmAttentionGrad",
} as const;

/** Whether the active backend has the fused host kernel `name` (see {@link HostKernel}). */
export function hasHostKernel(name: (typeof HostKernel)[keyof typeof HostKernel]): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

const f32 = Math.fround;

function hostRotary(args: KernelArguments): tf.TensorInfo {
  const { backend } = args;
  const x = args.inputs.x as tf.TensorInfo;
  const cos = args.inputs.cos as tf.TensorInfo;
  const sin = args.inputs.sin as tf.TensorInfo;
  const inverse = args.attrs?.inverse === true;
  const [batch, heads, seq, headDim] = x.shape as [number, number, number, number];
  if (
    x.shape.length !== 4 ||
    headDim % 2 !== 0 ||
    !tf.util.arraysEqual(cos.shape, [batch, 1, seq, headDim]) ||
    !tf.util.arraysEqual(sin.shape, cos.shape)
  ) {
    throw new Error(
      `${HostKernel.rotary}: x [batch, heads, seq, headDim] with cos and sin [batch, 1, seq, headDim], got [${x.shape.join(", ")}] and [${cos.shape.join(", ")}]`,
    );
  }
  const out = backend.makeOutput([...x.shape], "float32");
  const kernels = simdKernels(backend);
  if (kernels !== null && headDim % 8 === 0) {
    const at = (info: tf.TensorInfo) => offsetOf(backend, info);
    kernels.rotary(at(x), at(cos), at(sin), at(out), batch, heads, seq, headDim / 2, inverse ? 1 : 0);
    return out;
  }
  const buffer = heap(backend);
  const total = product(x.shape);
  const source = new Float32Array(buffer, offsetOf(backend, x), total);
  const target = new Float32Array(buffer, offsetOf(backend, out), total);
  const c = new Float32Array(buffer, offsetOf(backend, cos), batch * seq * headDim);
  const s = new Float32Array(buffer, offsetOf(backend, sin), batch * seq * headDim);
  const half = headDim / 2;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < seq; t++) {
        const row = ((b * heads + h) * seq + t) * headDim;
        const angle = (b * seq + t) * headDim;
        for (let j = 0; j < half; j++) {
          const low = source[row + j] as number;
          const high = source[row + j + half] as number;
          const cl = c[angle + j] as number;
          const ch = c[angle + j + half] as number;
          const sl = s[angle + j] as number;
          const sh = s[angle + j + half] as number;
          if (inverse) {
            // dx = dy·cos + Rᵀ(dy·sin): the low half gains dy_high·sin_high, the high half loses dy_low·sin_low.
            target[row + j] = f32(f32(low * cl) + f32(high * sh));
            target[row + j + half] = f32(f32(high * ch) - f32(low * sl));
          } else {
            // x·cos + cat(−x_high, x_low)·sin
            target[row + j] = f32(f32(low * cl) + f32(-high * sl));
            target[row + j + half] = f32(f32(high * ch) + f32(low * sh));
          }
        }
      }
    }
  }
  return out;
}

interface SimdExports {
  adamw(
    p: number,
    g: number,
    m: number,
    v: number,
    outP: number,
    outM: number,
    outV: number,
    n: number,
    beta1: number,
    keep1: number,
    beta2: number,
    keep2: number,
    correction1: number,
    correction2: number,
    epsilon: number,
    learningRate: number,
    decay: number,
  ): void;
  softmax_grad(y: number, dy: number, out: number, rows: number, width: number): void;
  rotary(
    x: number,
    cos: number,
    sin: number,
    out: number,
    batch: number,
    heads: number,
    seq: number,
    half: number,
    inverse: number,
  ): void;
  swiglu_grad(gate: number, up: number, s: number, dy: number, dGate: number, dUp: number, n: number): void;
  rmsnorm(x: number, w: number, y: number, r: number, rows: number, width: number, eps: number): void;
  rmsnorm_grad(
    x: number,
    w: number,
    r: number,
    dy: number,
    dx: number,
    dw: number,
    rows: number,
    width: number,
  ): void;
}

/** The parts of the WebAssembly JavaScript API used here (this package's TypeScript libs omit it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

/** The SIMD kernels per wasm memory (a re-initialized backend has a new one); null where they cannot run. */
const simdByMemory = new WeakMap<object, SimdExports | null>();

function simdKernels(backend: BackendWasm): SimdExports | null {
  const module = backend.wasm as unknown as { asm?: { memory?: WasmMemory }; wasmMemory?: WasmMemory };
  const memory = module.asm?.memory ?? module.wasmMemory;
  if (memory === undefined) return null;
  const known = simdByMemory.get(memory);
  if (known !== undefined) return known;
  let kernels: SimdExports | null = null;
  try {
    // The threaded build's memory is shared; the module imports a private one and would not link.
    if (!(memory.buffer instanceof SharedArrayBuffer)) {
      const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: WasmApi };
      const compiled = new wasm.Module(Buffer.from(SIMD_KERNELS_BASE64, "base64"));
      kernels = new wasm.Instance(compiled, { env: { memory } }).exports as SimdExports;
    }
  } catch {
    kernels = null; // an engine without WebAssembly SIMD: the composed kernels stay
  }
  simdByMemory.set(memory, kernels);
  return kernels;
}

function simdAdamW(args: KernelArguments): tf.TensorInfo[] {
  const { backend } = args;
  const kernels = simdKernels(backend) as SimdExports;
  const parameter = args.inputs.parameter as tf.TensorInfo;
  const count = product(parameter.shape);
  for (const field of ["gradient", "firstMoment", "secondMoment"] as const) {
    const info = args.inputs[field] as tf.TensorInfo;
    if (info.dtype !== "float32" || product(info.shape) !== count)
      throw new Error(`${HostKernel.adamW}: ${field} must be float32 with ${count} values`);
  }
  const attrs = args.attrs as Record<string, number>;
  const outputs = [0, 1, 2].map(() => backend.makeOutput([...parameter.shape], "float32"));
  const [nextParameter, nextFirst, nextSecond] = outputs as [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo];
  const at = (info: tf.TensorInfo) => offsetOf(backend, info);
  // A gradient scale (the clipping factor) multiplies the gradient first, with the stock Multiply (the
  // same float32 product as tf.mul(gradient, scale)); the temporaries are released after the update.
  const scale = attrs.gradientScale ?? 1;
  let gradient = args.inputs.gradient as tf.TensorInfo;
  const temporaries: tf.TensorInfo[] = [];
  if (scale !== 1) {
    const factor = backend.makeOutput([], "float32");
    new Float32Array(heap(backend), offsetOf(backend, factor), 1)[0] = scale;
    const multiply = tf.getKernel(tf.Multiply, "wasm")?.kernelFunc as unknown as StockKernel;
    gradient = multiply({ inputs: { a: gradient, b: factor }, backend, attrs: {} });
    temporaries.push(factor, gradient);
  }
  kernels.adamw(
    at(parameter),
    at(gradient),
    at(args.inputs.firstMoment as tf.TensorInfo),
    at(args.inputs.secondMoment as tf.TensorInfo),
    at(nextParameter),
    at(nextFirst),
    at(nextSecond),
    count,
    f32(attrs.beta1 as number),
    f32(1 - (attrs.beta1 as number)),
    f32(attrs.beta2 as number),
    f32(1 - (attrs.beta2 as number)),
    f32(attrs.correction1 as number),
    f32(attrs.correction2 as number),
    f32(attrs.epsilon as number),
    f32(attrs.learningRate as number),
    f32(attrs.decay as number),
  );
  for (const temporary of temporaries) backend.disposeData(temporary.dataId);
  return outputs;
}

function simdSoftmaxGrad(args: KernelArguments): tf.TensorInfo {
  const { backend } = args;
  const kernels = simdKernels(backend) as SimdExports;
  const y = args.inputs.y as tf.TensorInfo;
  const dy = args.inputs.dy as tf.TensorInfo;
  if (!tf.util.arraysEqual(y.shape, dy.shape) || y.dtype !== "float32" || dy.dtype !== "float32")
    throw new Error(`${HostKernel.softmaxGrad}: y and dy must be float32 of one shape`);
  const out = backend.makeOutput([...y.shape], "float32");
  const width = y.shape[y.shape.length - 1] as number;
  const rows = product(y.shape) / width;
  kernels.softmax_grad(offsetOf(backend, y), offsetOf(backend, dy), offsetOf(backend, out), rows, width);
  return out;
}

function simdSwiGluGrad(args: KernelArguments): tf.TensorInfo[] {
  const { backend } = args;
  const kernels = simdKernels(backend) as SimdExports;
  const gate = args.inputs.gate as tf.TensorInfo;
  const count = product(gate.shape);
  for (const field of ["gate", "up", "sigmoid", "dy"] as const) {
    const info = args.inputs[field] as tf.TensorInfo;
    if (info.dtype !== "float32" || !tf.util.arraysEqual(info.shape, gate.shape))
      throw new Error(`${HostKernel.swigluGrad}: ${field} must be float32 [${gate.shape.join(", ")}]`);
  }
  if (count % 4 !== 0) throw new Error(`${HostKernel.swigluGrad}: ${count} values is not a multiple of 4`);
  const dGate = backend.makeOutput([...gate.shape], "float32");
  const dUp = backend.makeOutput([...gate.shape], "float32");
  const at = (info: tf.TensorInfo) => offsetOf(backend, info);
  kernels.swiglu_grad(
    at(gate),
    at(args.inputs.up as tf.TensorInfo),
    at(args.inputs.sigmoid as tf.TensorInfo),
    at(args.inputs.dy as tf.TensorInfo),
    at(dGate),
    at(dUp),
    count,
  );
  return [dGate, dUp];
}

function rmsShape(x: tf.TensorInfo, weight: tf.TensorInfo, kernel: string): { rows: number; width: number } {
  const width = x.shape[x.shape.length - 1] as number;
  if (
    x.dtype !== "float32" ||
    weight.dtype !== "float32" ||
    !tf.util.arraysEqual(weight.shape, [width]) ||
    width % 4 !== 0
  )
    throw new Error(
      `${kernel}: x float32 [..., width] with width a multiple of 4 and weight [width], got [${x.shape.join(", ")}] and [${weight.shape.join(", ")}]`,
    );
  return { rows: product(x.shape) / width, width };
}

function simdRmsNorm(args: KernelArguments): tf.TensorInfo[] {
  const { backend } = args;
  const kernels = simdKernels(backend) as SimdExports;
  const x = args.inputs.x as tf.TensorInfo;
  const weight = args.inputs.weight as tf.TensorInfo;
  const { rows, width } = rmsShape(x, weight, HostKernel.rmsNorm);
  const y = backend.makeOutput([...x.shape], "float32");
  const r = backend.makeOutput([rows], "float32");
  const at = (info: tf.TensorInfo) => offsetOf(backend, info);
  kernels.rmsnorm(at(x), at(weight), at(y), at(r), rows, width, f32(args.attrs?.eps as number));
  return [y, r];
}

function simdRmsNormGrad(args: KernelArguments): tf.TensorInfo[] {
  const { backend } = args;
  const kernels = simdKernels(backend) as SimdExports;
  const x = args.inputs.x as tf.TensorInfo;
  const weight = args.inputs.weight as tf.TensorInfo;
  const { rows, width } = rmsShape(x, weight, HostKernel.rmsNormGrad);
  const dx = backend.makeOutput([...x.shape], "float32");
  const dw = backend.makeOutput([width], "float32");
  const at = (info: tf.TensorInfo) => offsetOf(backend, info);
  kernels.rmsnorm_grad(
    at(x),
    at(weight),
    at(args.inputs.r as tf.TensorInfo),
    at(args.inputs.dy as tf.TensorInfo),
    at(dx),
    at(dw),
    rows,
    width,
  );
  return [dx, dw];
}

/**
 * @pqm/core's PQM ranking loss (its practical form, as `pqmRankingLossTensor` composes it) and its
 * gradient, in one host loop: the composed loss is about 150 TF.js kernel calls forward and backward on
 * `[batch, steps]` tensors of a few hundred values. Inputs scores and labels (1 correct, 0 wrong,
 * LABEL_PAD padding); attrs zeta, logEps; outputs the loss `[1]` and the gradient `[batch, steps]`.
 * Per row with a valid step: term0 = log(1 + eps + Σ_wrong exp(r_s + ζ)) when the row has a wrong step;
 * for each correct t, log(exp(r_t) + Σ_{earlier correct} exp(r_s) + Σ_wrong exp(r_s + ζ) + 1 + eps) − r_t;
 * the row's loss is their mean, the batch's the mean over rows with a valid step. Each log-sum-exp's
 * gradient is its softmax weights, and −1 for the subtracted r_t. Computed in float64, stored float32.
 */
function hostRankingLoss(args: KernelArguments): tf.TensorInfo[] {
  const { backend } = args;
  const kernel = PQM_RANKING_LOSS_KERNEL;
  const scores = args.inputs.scores as tf.TensorInfo;
  const labels = args.inputs.labels as tf.TensorInfo;
  if (
    scores.shape.length !== 2 ||
    scores.dtype !== "float32" ||
    labels.dtype !== "float32" ||
    !tf.util.arraysEqual(scores.shape, labels.shape)
  ) {
    throw new Error(
      `${kernel}: float32 scores and labels of one shape [batch, steps], got ${scores.dtype} [${scores.shape}] and ${labels.dtype} [${labels.shape}]`,
    );
  }
  const zeta = Number(args.attrs?.zeta);
  const logEps = Number(args.attrs?.logEps);
  if (!Number.isFinite(zeta) || !Number.isFinite(logEps))
    throw new Error(`${kernel}: attrs zeta and logEps must be finite numbers`);
  const [rows, steps] = scores.shape as [number, number];
  const loss = backend.makeOutput([1], "float32");
  const gradientInfo = backend.makeOutput([rows, steps], "float32");
  const buffer = heap(backend); // after the allocations, which may grow the heap
  const r = new Float32Array(buffer, offsetOf(backend, scores), rows * steps);
  const l = new Float32Array(buffer, offsetOf(backend, labels), rows * steps);
  const g = new Float32Array(buffer, offsetOf(backend, gradientInfo), rows * steps).fill(0);
  let validRows = 0;
  for (let row = 0; row < rows; row++) {
    for (let step = 0; step < steps; step++) {
      if (l[row * steps + step] !== LABEL_PAD) {
        validRows++;
        break;
      }
    }
  }
  const batchRows = Math.max(validRows, 1);
  const epsilon = Math.exp(logEps);
  const shifted = new Float64Array(steps); // r_s (+ ζ for a wrong step)
  const gradient = new Float64Array(steps);
  let lossSum = 0;
  for (let row = 0; row < rows; row++) {
    const base = row * steps;
    let correct = 0;
    let wrong = 0;
    for (let step = 0; step < steps; step++) {
      const label = l[base + step] as number;
      if (label === 1) correct++;
      else if (label === 0) wrong++;
      shifted[step] = (r[base + step] as number) + (label === 0 ? zeta : 0);
    }
    if (correct + wrong === 0) continue;
    gradient.fill(0);
    const terms = correct + (wrong > 0 ? 1 : 0);
    let rowTotal = 0;
    /** Adds log(1 + eps + Σ exp(shifted[s]) over `included` s) to the row, and its softmax weights to the gradient. */
    const logSumExp = (included: (step: number) => boolean): number => {
      let top = 0; // the anchor's exp(0)
      for (let step = 0; step < steps; step++)
        if (included(step)) top = Math.max(top, shifted[step] as number);
      let total = Math.exp(-top) * (1 + epsilon);
      for (let step = 0; step < steps; step++)
        if (included(step)) total += Math.exp((shifted[step] as number) - top);
      const value = top + Math.log(total);
      for (let step = 0; step < steps; step++)
        if (included(step))
          gradient[step] = (gradient[step] as number) + Math.exp((shifted[step] as number) - value);
      return value;
    };
    if (wrong > 0) rowTotal += logSumExp((step) => l[base + step] === 0);
    for (let t = 0; t < steps; t++) {
      if (l[base + t] !== 1) continue;
      rowTotal +=
        logSumExp((step) => {
          const label = l[base + step];
          return step === t || label === 0 || (step < t && label === 1);
        }) - (r[base + t] as number);
      gradient[t] = (gradient[t] as number) - 1;
    }
    lossSum += rowTotal / terms;
    const weight = 1 / (terms * batchRows);
    for (let step = 0; step < steps; step++) g[base + step] = (gradient[step] as number) * weight;
  }
  new Float32Array(buffer, offsetOf(backend, loss), 1)[0] = lossSum / batchRows;
  return [loss, gradientInfo];
}

const FUSED: readonly [string, (args: KernelArguments) => tf.TensorInfo | tf.TensorInfo[]][] = [
  [HostKernel.rotary, hostRotary],
  [PQM_RANKING_LOSS_KERNEL, hostRankingLoss],
  [HostKernel.adamW, simdAdamW],
  [HostKernel.softmaxGrad, simdSoftmaxGrad],
  [HostKernel.swigluGrad, simdSwiGluGrad],
  [HostKernel.rmsNorm, simdRmsNorm],
  [HostKernel.rmsNormGrad, simdRmsNormGrad],
];

const KERNELS: readonly [string, StockKernel][] = [
  [tf.Sum, hostSum],
  [tf.GatherV2, hostGather],
  [tf.Cast, hostCast],
];

/** Options of {@link installWasmHostKernels}. */
export interface WasmHostKernelOptions {
  /**
   * Which to install, by kernel name (`Sum`, `GatherV2`, `Cast`, and the values of {@link HostKernel});
   * default: all. For measuring what each one gives.
   */
  kernels?: readonly string[];
}

let installed = false;

/**
 * Replaces the wasm backend's `Sum`, `GatherV2` and `Cast` with host loops for the cases a decoder's
 * training step hits, and registers the fused kernels of {@link HostKernel} (the SIMD ones where the
 * engine runs WebAssembly SIMD over the backend's private memory; not on the threaded build). Other
 * cases use the stock kernels. Call once the wasm backend is registered (`selectBackend` does); a
 * second call changes nothing until {@link uninstallWasmHostKernels}.
 * @returns false when the wasm backend's kernels are not registered.
 */
export function installWasmHostKernels(options: WasmHostKernelOptions = {}): boolean {
  if (installed) return true;
  const wanted = (name: string) => options.kernels === undefined || options.kernels.includes(name);
  if (tf.getKernel(tf.Sum, "wasm") === undefined) return false;
  installed = true;
  for (const [name, kernel] of KERNELS) {
    if (!wanted(name)) continue;
    const previous = overrideWasmKernel(name, kernel);
    if (previous !== undefined) stock.set(name, previous);
  }
  const backend = tf.findBackend("wasm") as BackendWasm | null;
  const withSimd = backend !== null && simdKernels(backend) !== null;
  for (const [kernelName, kernel] of FUSED) {
    const plainLoop = kernelName === HostKernel.rotary || kernelName === PQM_RANKING_LOSS_KERNEL;
    if (!wanted(kernelName) || (!withSimd && !plainLoop)) continue;
    if (tf.getKernel(kernelName, "wasm") === undefined)
      tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: kernel as unknown as tf.KernelFunc });
  }
  return true;
}

/** Puts the stock kernels back and removes the fused ones. @returns false when none were installed. */
export function uninstallWasmHostKernels(): boolean {
  if (!installed) return false;
  installed = false;
  for (const previous of stock.values()) restoreWasmKernel(previous);
  stock.clear();
  for (const [kernelName] of FUSED) {
    if (tf.getKernel(kernelName, "wasm") !== undefined) tf.unregisterKernel(kernelName, "wasm");
  }
  return true;
}
