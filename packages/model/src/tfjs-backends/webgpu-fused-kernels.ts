import { PQM_RANKING_LOSS_KERNEL } from "@pqm/core";
import * as tf from "@tensorflow/tfjs-core";
import { HostKernel } from "./wasm-host-kernels.js";

// The fused kernels of `HostKernel` for the webgpu backend, as WGSL compute shaders: AdamW, RMSNorm and
// its gradient, the softmax gradient, SwiGLU's gradient and the rotary embedding. The callers
// (adamw.ts, rms-norm.ts, rotary-embedding.ts, decoder-backbone.ts) already ask `hasHostKernel` for
// these names and compose the same arithmetic from TF.js operations otherwise, so registering them on
// webgpu is all it takes. On a GPU a small training step is bound by how many kernels it launches
// (each launch costs about as much as a small kernel's arithmetic), and these replace chains of 6 to 13
// launches with one or two: AdamW alone was 13 launches per parameter.
//
// tfjs-backend-webgpu's own program runner (`runWebGPUProgram`) writes one output per launch and
// generates the bindings itself. Several of these kernels write two or three outputs, so they are
// recorded here into the backend's command encoder directly, the way its runner records a program:
// the same encoder and compute pass (so they run in order with its kernels), the same uniform-buffer
// pool, the same bookkeeping of buffers a pending command uses, and the same batched submission. It
// uses backend members that are not in tfjs-backend-webgpu's typings; the package is pinned at the
// version this was written against (4.22.0), and the tests run every kernel against the composed form.
// Each launch binds at most 7 storage buffers, within WebGPU's default limit of 8 per stage.

/** The parts of WebGPU's API used here (the `webgpu` package's objects), typed structurally. */
interface GpuComputePipeline {
  getBindGroupLayout(index: number): unknown;
}
interface GpuComputePass {
  setPipeline(pipeline: GpuComputePipeline): void;
  setBindGroup(index: number, group: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
interface GpuDevice {
  createShaderModule(descriptor: { code: string; label?: string }): unknown;
  createComputePipeline(descriptor: {
    layout: "auto";
    compute: { module: unknown; entryPoint: string };
    label?: string;
  }): GpuComputePipeline;
  createBindGroup(descriptor: {
    layout: unknown;
    entries: { binding: number; resource: unknown }[];
  }): unknown;
  limits: { maxComputeWorkgroupsPerDimension: number };
}
interface GpuCommandEncoder {
  beginComputePass(descriptor: Record<string, never>): GpuComputePass;
}

/** tfjs-backend-webgpu 4.22's WebGPUBackend, the members this file uses. */
interface WebGpuBackendInternals {
  device: GpuDevice;
  commandEncoder: GpuCommandEncoder | null;
  computePassEncoder: GpuComputePass | null;
  commandQueueOwnedIds: WeakSet<object>;
  dispatchCountInPass: number;
  activeTimers: unknown[] | null;
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  uploadToGPU(dataId: object): void;
  tensorToBinding(info: tf.TensorInfo): unknown;
  makeUniforms(fields: { type: "float32" | "uint32" | "int32"; data: number[] }[]): unknown;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

interface KernelArguments {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

/** A uniform: its WGSL name, type and value. */
type Uniform = readonly [name: string, type: "f32" | "u32", value: number];

interface Launch {
  /** Cache key of the compiled pipeline: the kernel and whatever is baked into its code. */
  key: string;
  /** The body of `main`; sees the outputs and inputs by name, `u.<uniform>`, `lid`, `wid` and `gid`. */
  body: string;
  /** Code before `main` (workgroup memory, helpers). */
  preamble?: string;
  outputs: readonly { name: string; shape: number[] }[];
  inputs: readonly { name: string; info: tf.TensorInfo }[];
  uniforms: readonly Uniform[];
  /** Workgroups to launch (spread over x and y when past the per-dimension limit). */
  workgroups: number;
  workgroupSize: number;
}

const pipelines = new WeakMap<GpuDevice, Map<string, GpuComputePipeline>>();

const INTERNAL_METHODS = [
  "makeTensorInfo",
  "uploadToGPU",
  "tensorToBinding",
  "makeUniforms",
  "ensureCommandEncoderReady",
  "endComputePassEncoder",
  "submitQueue",
] as const;

/**
 * The members of tfjs-backend-webgpu's backend that {@link launch} uses and `backend` lacks (none on
 * 4.22.0, the version this was written against): a later version that renamed them would fail here,
 * when the backend starts, rather than in the middle of a training step.
 */
export function missingWebGpuInternals(backend: unknown): string[] {
  const candidate = backend as Record<string, unknown> | null;
  if (candidate === null || typeof candidate !== "object") return ["the backend"];
  const missing: string[] = INTERNAL_METHODS.filter((name) => typeof candidate[name] !== "function");
  if (typeof candidate.device !== "object" || candidate.device === null) missing.push("device");
  if (!(candidate.commandQueueOwnedIds instanceof WeakSet)) missing.push("commandQueueOwnedIds");
  if (typeof candidate.dispatchCountInPass !== "number") missing.push("dispatchCountInPass");
  if (!("computePassEncoder" in candidate)) missing.push("computePassEncoder");
  return missing;
}

function shaderCode(launch: Launch): string {
  const bindings = [
    ...launch.outputs.map(
      (output, index) => `@group(0) @binding(${index}) var<storage, read_write> ${output.name} : array<f32>;`,
    ),
    ...launch.inputs.map(
      (input, index) =>
        `@group(0) @binding(${launch.outputs.length + index}) var<storage, read> ${input.name} : array<f32>;`,
    ),
  ];
  const fields = launch.uniforms.map(([name, type]) => `  ${name} : ${type},`).join("\n");
  return `${bindings.join("\n")}
struct Uniforms {
${fields}
  groupsX : u32,
};
@group(0) @binding(${launch.outputs.length + launch.inputs.length}) var<uniform> u : Uniforms;
${launch.preamble ?? ""}
@compute @workgroup_size(${launch.workgroupSize})
fn main(@builtin(local_invocation_id) localId : vec3<u32>, @builtin(workgroup_id) groupId : vec3<u32>) {
  let lid = localId.x;
  let wid = groupId.y * u.groupsX + groupId.x;
  let gid = wid * ${launch.workgroupSize}u + lid;
${launch.body}
}
`;
}

/** Records one launch into the backend's current compute pass; returns the outputs. */
function launch(backend: WebGpuBackendInternals, spec: Launch): tf.TensorInfo[] {
  const outputs = spec.outputs.map((output) => backend.makeTensorInfo(output.shape, "float32"));
  for (const output of outputs) backend.uploadToGPU(output.dataId);
  for (const { info } of spec.inputs) {
    if (info.dtype !== "float32") throw new Error(`${spec.key}: inputs must be float32, got ${info.dtype}`);
    backend.uploadToGPU(info.dataId);
  }
  const { device } = backend;
  let cache = pipelines.get(device);
  if (cache === undefined) {
    cache = new Map();
    pipelines.set(device, cache);
  }
  let pipeline = cache.get(spec.key);
  if (pipeline === undefined) {
    const module = device.createShaderModule({ code: shaderCode(spec), label: spec.key });
    pipeline = device.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "main" },
      label: spec.key,
    });
    cache.set(spec.key, pipeline);
  }
  const perDimension = device.limits.maxComputeWorkgroupsPerDimension;
  const groupsX = Math.min(spec.workgroups, perDimension);
  const groupsY = Math.ceil(spec.workgroups / groupsX);
  const uniforms = backend.makeUniforms([
    ...spec.uniforms.map(([, type, value]) => ({
      type: type === "f32" ? ("float32" as const) : ("uint32" as const),
      data: [value],
    })),
    { type: "uint32", data: [groupsX] },
  ]);
  const resources = [...outputs, ...spec.inputs.map((input) => input.info)].map((info) =>
    backend.tensorToBinding(info),
  );
  resources.push(uniforms);
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: resources.map((resource, binding) => ({ binding, resource })),
  });
  for (const { info } of spec.inputs) backend.commandQueueOwnedIds.add(info.dataId);
  for (const output of outputs) backend.commandQueueOwnedIds.add(output.dataId);
  backend.ensureCommandEncoderReady();
  if (backend.computePassEncoder === null) {
    backend.computePassEncoder = (backend.commandEncoder as GpuCommandEncoder).beginComputePass({});
  }
  const pass = backend.computePassEncoder;
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(groupsX, groupsY, 1);
  backend.dispatchCountInPass++;
  if (backend.activeTimers !== null) {
    // A profiled run times each of its own programs in a pass of its own; leave it a fresh one.
    backend.endComputePassEncoder();
  } else if ((tf.env().get("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE") as number) <= backend.dispatchCountInPass) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
  return outputs;
}

const ELEMENTWISE = 256;
/** Threads of a workgroup that reduces one row. */
const ROW = 64;

const size = (info: tf.TensorInfo) => tf.util.sizeFromShape(info.shape);

function float32Input(kernel: string, args: KernelArguments, name: string, shape?: number[]): tf.TensorInfo {
  const info = args.inputs[name] as tf.TensorInfo | undefined;
  if (info === undefined || info.dtype !== "float32")
    throw new Error(`${kernel}: input '${name}' must be a float32 tensor`);
  if (shape !== undefined && !tf.util.arraysEqual(info.shape, shape))
    throw new Error(`${kernel}: '${name}' must be [${shape.join(", ")}], got [${info.shape.join(", ")}]`);
  return info;
}

function numberAttribute(kernel: string, args: KernelArguments, name: string): number {
  const value = args.attrs?.[name];
  if (typeof value !== "number") throw new Error(`${kernel}: attribute '${name}' must be a number`);
  return value;
}

// A row reduction of `ROW` threads: each thread's partial sum in `partial`, then a tree.
const ROW_REDUCTION = `
var<workgroup> partial : array<f32, ${ROW}>;
fn rowSum(lid : u32, value : f32) -> f32 {
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = ${ROW / 2}u; stride > 0u; stride = stride >> 1u) {
    if (lid < stride) {
      partial[lid] = partial[lid] + partial[lid + stride];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}
`;

function adamW(args: KernelArguments): tf.TensorInfo[] {
  const kernel = HostKernel.adamW;
  const parameter = float32Input(kernel, args, "parameter");
  const shape = [...parameter.shape];
  const inputs = ["parameter", "gradient", "firstMoment", "secondMoment"].map((name) => ({
    name,
    info: float32Input(kernel, args, name, shape),
  }));
  const attribute = (name: string) => numberAttribute(kernel, args, name);
  const beta1 = attribute("beta1");
  const beta2 = attribute("beta2");
  const n = size(parameter);
  // The composed update's operations in its order (adamw.ts): m and v, the bias-corrected step, the
  // decay on the old value last.
  return launch(args.backend as WebGpuBackendInternals, {
    key: "pqm-adamw",
    outputs: [
      { name: "nextParameter", shape },
      { name: "nextFirst", shape },
      { name: "nextSecond", shape },
    ],
    inputs,
    uniforms: [
      ["n", "u32", n],
      ["beta1", "f32", beta1],
      ["keep1", "f32", 1 - beta1],
      ["beta2", "f32", beta2],
      ["keep2", "f32", 1 - beta2],
      ["correction1", "f32", attribute("correction1")],
      ["correction2", "f32", attribute("correction2")],
      ["epsilon", "f32", attribute("epsilon")],
      ["learningRate", "f32", attribute("learningRate")],
      ["decay", "f32", attribute("decay")],
      ["gradientScale", "f32", typeof args.attrs?.gradientScale === "number" ? args.attrs.gradientScale : 1],
    ],
    body: `
  if (gid >= u.n) { return; }
  let g = gradient[gid] * u.gradientScale;
  let p = parameter[gid];
  let m = firstMoment[gid] * u.beta1 + g * u.keep1;
  let v = secondMoment[gid] * u.beta2 + (g * g) * u.keep2;
  nextFirst[gid] = m;
  nextSecond[gid] = v;
  var next = p - ((m / u.correction1) / (sqrt(v / u.correction2) + u.epsilon)) * u.learningRate;
  if (u.decay != 0.0) { next = next - p * u.decay; }
  nextParameter[gid] = next;`,
    workgroups: Math.ceil(n / ELEMENTWISE),
    workgroupSize: ELEMENTWISE,
  });
}

function rowsOf(kernel: string, x: tf.TensorInfo, weight: tf.TensorInfo): { rows: number; width: number } {
  const width = x.shape[x.shape.length - 1] as number;
  if (x.shape.length < 1 || !tf.util.arraysEqual(weight.shape, [width]))
    throw new Error(`${kernel}: x [..., width] with weight [width], got [${x.shape}] and [${weight.shape}]`);
  return { rows: size(x) / width, width };
}

function rmsNormForward(args: KernelArguments): tf.TensorInfo[] {
  const kernel = HostKernel.rmsNorm;
  const x = float32Input(kernel, args, "x");
  const weight = float32Input(kernel, args, "weight");
  const { rows, width } = rowsOf(kernel, x, weight);
  const eps = numberAttribute(kernel, args, "eps");
  // One workgroup per row: r = 1 / sqrt(sum(x²) / width + eps), y = (x · r) · w.
  return launch(args.backend as WebGpuBackendInternals, {
    key: "pqm-rmsnorm",
    outputs: [
      { name: "y", shape: [...x.shape] },
      { name: "r", shape: [rows] },
    ],
    inputs: [
      { name: "x", info: x },
      { name: "weight", info: weight },
    ],
    uniforms: [
      ["width", "u32", width],
      ["eps", "f32", eps],
    ],
    preamble: ROW_REDUCTION,
    body: `
  let start = wid * u.width;
  var squares = 0.0;
  for (var col = lid; col < u.width; col += ${ROW}u) {
    let value = x[start + col];
    squares += value * value;
  }
  let inverse = 1.0 / sqrt(rowSum(lid, squares) / f32(u.width) + u.eps);
  if (lid == 0u) { r[wid] = inverse; }
  for (var col = lid; col < u.width; col += ${ROW}u) {
    y[start + col] = (x[start + col] * inverse) * weight[col];
  }`,
    workgroups: rows,
    workgroupSize: ROW,
  });
}

function rmsNormBackward(args: KernelArguments): tf.TensorInfo[] {
  const kernel = HostKernel.rmsNormGrad;
  const x = float32Input(kernel, args, "x");
  const weight = float32Input(kernel, args, "weight");
  const { rows, width } = rowsOf(kernel, x, weight);
  const r = float32Input(kernel, args, "r", [rows]);
  const dy = float32Input(kernel, args, "dy", [...x.shape]);
  const backend = args.backend as WebGpuBackendInternals;
  // dx = (dy·w)·r − x · (r³ · sum((dy·w)·x) / width), one workgroup per row.
  const [dx] = launch(backend, {
    key: "pqm-rmsnorm-grad-x",
    outputs: [{ name: "dx", shape: [...x.shape] }],
    inputs: [
      { name: "x", info: x },
      { name: "weight", info: weight },
      { name: "r", info: r },
      { name: "dy", info: dy },
    ],
    uniforms: [["width", "u32", width]],
    preamble: ROW_REDUCTION,
    body: `
  let start = wid * u.width;
  let inverse = r[wid];
  var acc = 0.0;
  for (var col = lid; col < u.width; col += ${ROW}u) {
    acc += (dy[start + col] * weight[col]) * x[start + col];
  }
  let coefficient = inverse * inverse * inverse * rowSum(lid, acc) / f32(u.width);
  for (var col = lid; col < u.width; col += ${ROW}u) {
    dx[start + col] = (dy[start + col] * weight[col]) * inverse - x[start + col] * coefficient;
  }`,
    workgroups: rows,
    workgroupSize: ROW,
  });
  // dw = sum over rows of dy · (x · r): one thread per column, reading down the rows (neighbouring
  // threads read neighbouring columns).
  const [dw] = launch(backend, {
    key: "pqm-rmsnorm-grad-w",
    outputs: [{ name: "dw", shape: [width] }],
    inputs: [
      { name: "x", info: x },
      { name: "r", info: r },
      { name: "dy", info: dy },
    ],
    uniforms: [
      ["width", "u32", width],
      ["rows", "u32", rows],
    ],
    body: `
  if (gid >= u.width) { return; }
  var total = 0.0;
  for (var row = 0u; row < u.rows; row++) {
    let k = row * u.width + gid;
    total += dy[k] * (x[k] * r[row]);
  }
  dw[gid] = total;`,
    workgroups: Math.ceil(width / ROW),
    workgroupSize: ROW,
  });
  return [dx as tf.TensorInfo, dw as tf.TensorInfo];
}

function softmaxBackward(args: KernelArguments): tf.TensorInfo {
  const kernel = HostKernel.softmaxGrad;
  const y = float32Input(kernel, args, "y");
  const dy = float32Input(kernel, args, "dy", [...y.shape]);
  const width = y.shape[y.shape.length - 1] as number;
  // dx = (dy − sum(dy·y)) · y per row of the last axis.
  const [dx] = launch(args.backend as WebGpuBackendInternals, {
    key: "pqm-softmax-grad",
    outputs: [{ name: "dx", shape: [...y.shape] }],
    inputs: [
      { name: "y", info: y },
      { name: "dy", info: dy },
    ],
    uniforms: [["width", "u32", width]],
    preamble: ROW_REDUCTION,
    body: `
  let start = wid * u.width;
  var acc = 0.0;
  for (var col = lid; col < u.width; col += ${ROW}u) {
    acc += dy[start + col] * y[start + col];
  }
  let total = rowSum(lid, acc);
  for (var col = lid; col < u.width; col += ${ROW}u) {
    dx[start + col] = (dy[start + col] - total) * y[start + col];
  }`,
    workgroups: size(y) / width,
    workgroupSize: ROW,
  });
  return dx as tf.TensorInfo;
}

function swiGluBackward(args: KernelArguments): tf.TensorInfo[] {
  const kernel = HostKernel.swigluGrad;
  const gate = float32Input(kernel, args, "gate");
  const shape = [...gate.shape];
  const inputs = ["gate", "up", "sigmoid", "dy"].map((name) => ({
    name,
    info: float32Input(kernel, args, name, shape),
  }));
  const n = size(gate);
  // As TF.js's gradients of (gate · s) · up run: dUp = dy · (gate·s); dSilu = dy · up;
  // dGate = dSilu·s + (dSilu·gate) · (s · (1 − s)).
  return launch(args.backend as WebGpuBackendInternals, {
    key: "pqm-swiglu-grad",
    outputs: [
      { name: "dGate", shape },
      { name: "dUp", shape },
    ],
    inputs,
    uniforms: [["n", "u32", n]],
    body: `
  if (gid >= u.n) { return; }
  let g = gate[gid];
  let s = sigmoid[gid];
  let d = dy[gid];
  dUp[gid] = d * (g * s);
  let dSilu = d * up[gid];
  dGate[gid] = dSilu * s + (dSilu * g) * (s * (1.0 - s));`,
    workgroups: Math.ceil(n / ELEMENTWISE),
    workgroupSize: ELEMENTWISE,
  });
}

function rotary(args: KernelArguments): tf.TensorInfo {
  const kernel = HostKernel.rotary;
  const x = float32Input(kernel, args, "x");
  const [batch, heads, seq, headDim] = x.shape as [number, number, number, number];
  if (x.shape.length !== 4 || headDim % 2 !== 0)
    throw new Error(
      `${kernel}: x must be [batch, heads, seq, headDim] with an even headDim, got [${x.shape}]`,
    );
  const cos = float32Input(kernel, args, "cos", [batch, 1, seq, headDim]);
  const sin = float32Input(kernel, args, "sin", [batch, 1, seq, headDim]);
  const inverse = args.attrs?.inverse === true;
  const half = headDim / 2;
  const pairs = batch * heads * seq * half;
  // One thread per (low, high) pair. Forward: low·cos_low + (−high)·sin_low, high·cos_high + low·sin_high;
  // the gradient (inverse): dy_low·cos_low + dy_high·sin_high, dy_high·cos_high − dy_low·sin_low.
  const [out] = launch(args.backend as WebGpuBackendInternals, {
    key: `pqm-rotary-${inverse ? "grad" : "forward"}`,
    outputs: [{ name: "result", shape: [...x.shape] }],
    inputs: [
      { name: "x", info: x },
      { name: "cosine", info: cos },
      { name: "sine", info: sin },
    ],
    uniforms: [
      ["pairs", "u32", pairs],
      ["half", "u32", half],
      ["heads", "u32", heads],
      ["seq", "u32", seq],
    ],
    body: `
  if (gid >= u.pairs) { return; }
  let j = gid % u.half;
  let row = gid / u.half;              // ((b·heads + h)·seq + t)
  let t = row % u.seq;
  let b = row / (u.seq * u.heads);
  let at = row * 2u * u.half + j;
  let angle = (b * u.seq + t) * 2u * u.half + j;
  let low = x[at];
  let high = x[at + u.half];
  ${
    inverse
      ? `result[at] = low * cosine[angle] + high * sine[angle + u.half];
  result[at + u.half] = high * cosine[angle + u.half] - low * sine[angle];`
      : `result[at] = low * cosine[angle] + (-high) * sine[angle];
  result[at + u.half] = high * cosine[angle + u.half] + low * sine[angle + u.half];`
  }`,
    workgroups: Math.ceil(pairs / ELEMENTWISE),
    workgroupSize: ELEMENTWISE,
  });
  return out as tf.TensorInfo;
}

/** Inputs of one sum-of-squares launch: with its output, 8 storage buffers, WebGPU's default limit. */
export const SUM_OF_SQUARES_INPUTS = 7;
/** Workgroups per input of a sum-of-squares launch, at most (each adds a strided share of the input). */
const SQUARE_PARTS = 32;

function sumOfSquares(args: KernelArguments): tf.TensorInfo {
  const kernel = HostKernel.sumOfSquares;
  const count = Object.keys(args.inputs).length;
  if (count < 1 || count > SUM_OF_SQUARES_INPUTS)
    throw new Error(`${kernel}: 1 to ${SUM_OF_SQUARES_INPUTS} inputs (x0, x1, ...), got ${count}`);
  const inputs = Array.from({ length: count }, (_, index) => ({
    name: `x${index}`,
    info: float32Input(kernel, args, `x${index}`),
  }));
  const largest = Math.max(...inputs.map(({ info }) => size(info)));
  const parts = Math.max(1, Math.min(SQUARE_PARTS, Math.ceil(largest / (ELEMENTWISE * 16))));
  // Workgroup w adds part (w mod parts) of input (w / parts): elements part·256 + lid, stepping by
  // parts·256; a tree then adds the workgroup's 256 sums. The output row of each input sums to its
  // sum of squares.
  const branches = inputs
    .map(
      ({ name }, index) => `${index === 0 ? "" : " else "}if (tensor == ${index}u) {
    for (var i = start; i < u.n${index}; i += stride) { let v = ${name}[i]; acc += v * v; }
  }`,
    )
    .join("");
  const [partials] = launch(args.backend as WebGpuBackendInternals, {
    key: `pqm-sum-of-squares-${count}`,
    outputs: [{ name: "partials", shape: [count, parts] }],
    inputs,
    uniforms: [
      ["parts", "u32", parts],
      ...inputs.map(({ info }, index): Uniform => [`n${index}`, "u32", size(info)]),
    ],
    preamble: `var<workgroup> sums : array<f32, ${ELEMENTWISE}>;`,
    body: `
  let tensor = wid / u.parts;
  let part = wid % u.parts;
  let start = part * ${ELEMENTWISE}u + lid;
  let stride = u.parts * ${ELEMENTWISE}u;
  var acc = 0.0;
  ${branches}
  sums[lid] = acc;
  workgroupBarrier();
  for (var width = ${ELEMENTWISE / 2}u; width > 0u; width = width >> 1u) {
    if (lid < width) { sums[lid] = sums[lid] + sums[lid + width]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partials[wid] = sums[0]; }`,
    workgroups: count * parts,
    workgroupSize: ELEMENTWISE,
  });
  return partials as tf.TensorInfo;
}

function rankingLoss(args: KernelArguments): tf.TensorInfo[] {
  const kernel = PQM_RANKING_LOSS_KERNEL;
  const scores = float32Input(kernel, args, "scores");
  if (scores.shape.length !== 2)
    throw new Error(`${kernel}: scores must be [batch, steps], got [${scores.shape}]`);
  const labels = float32Input(kernel, args, "labels", [...scores.shape]);
  const [rows, steps] = scores.shape as [number, number];
  const attribute = (name: string) => numberAttribute(kernel, args, name);
  // The practical PQM loss (as @pqm/core's composed pqmRankingLossTensor) and its gradient, in one
  // workgroup: each thread takes whole rows (a row is a few dozen steps at most). For a row: term0 =
  // log(1 + eps + sum over wrong s of exp(r_s + zeta)) when it has a wrong step; for each correct t,
  // log of (exp(r_t) + the earlier correct exp(r_s) + the wrong exp(r_s + zeta) + 1 + eps) minus r_t.
  // The row's loss is their sum over their count; the batch's, the mean over rows with a valid step.
  // Each log-sum-exp's gradient is its softmax weights; -1 for the r_t subtracted.
  const included = "(s == t || (s < t && label == 1.0) || label == 0.0)";
  return launch(args.backend as WebGpuBackendInternals, {
    key: "pqm-ranking-loss",
    outputs: [
      { name: "loss", shape: [1] },
      { name: "gradient", shape: [rows, steps] },
    ],
    inputs: [
      { name: "scores", info: scores },
      { name: "labels", info: labels },
    ],
    uniforms: [
      ["rows", "u32", rows],
      ["steps", "u32", steps],
      ["zeta", "f32", attribute("zeta")],
      ["logEps", "f32", attribute("logEps")],
    ],
    preamble: ROW_REDUCTION,
    body: `
  var validRows = 0.0;
  for (var b = lid; b < u.rows; b += ${ROW}u) {
    var seen = false;
    for (var s = 0u; s < u.steps; s++) { if (labels[b * u.steps + s] != -100.0) { seen = true; } }
    if (seen) { validRows += 1.0; }
  }
  let batchRows = max(rowSum(lid, validRows), 1.0);
  var lossSum = 0.0;
  for (var b = lid; b < u.rows; b += ${ROW}u) {
    let base = b * u.steps;
    var correctCount = 0.0;
    var hasWrong = false;
    var seen = false;
    for (var s = 0u; s < u.steps; s++) {
      let label = labels[base + s];
      gradient[base + s] = 0.0;
      if (label != -100.0) { seen = true; }
      if (label == 1.0) { correctCount += 1.0; }
      if (label == 0.0) { hasWrong = true; }
    }
    if (!seen) { continue; }
    let terms = max(correctCount + select(0.0, 1.0, hasWrong), 1.0);
    let weight = 1.0 / (terms * batchRows);
    var rowTotal = 0.0;
    if (hasWrong) {
      var top = 0.0;
      for (var s = 0u; s < u.steps; s++) {
        if (labels[base + s] == 0.0) { top = max(top, scores[base + s] + u.zeta); }
      }
      var total = exp(-top) + exp(u.logEps - top);
      for (var s = 0u; s < u.steps; s++) {
        if (labels[base + s] == 0.0) { total += exp(scores[base + s] + u.zeta - top); }
      }
      let term0 = top + log(total);
      rowTotal += term0;
      for (var s = 0u; s < u.steps; s++) {
        if (labels[base + s] == 0.0) {
          gradient[base + s] += weight * exp(scores[base + s] + u.zeta - term0);
        }
      }
    }
    for (var t = 0u; t < u.steps; t++) {
      if (labels[base + t] != 1.0) { continue; }
      var top = 0.0;
      for (var s = 0u; s < u.steps; s++) {
        let label = labels[base + s];
        if ${included} { top = max(top, scores[base + s] + select(0.0, u.zeta, label == 0.0)); }
      }
      var total = exp(-top) + exp(u.logEps - top);
      for (var s = 0u; s < u.steps; s++) {
        let label = labels[base + s];
        if ${included} { total += exp(scores[base + s] + select(0.0, u.zeta, label == 0.0) - top); }
      }
      let logDenominator = top + log(total);
      rowTotal += logDenominator - scores[base + t];
      for (var s = 0u; s < u.steps; s++) {
        let label = labels[base + s];
        if ${included} {
          gradient[base + s] += weight * exp(scores[base + s] + select(0.0, u.zeta, label == 0.0) - logDenominator);
        }
      }
      gradient[base + t] -= weight;
    }
    lossSum += rowTotal / terms;
  }
  let batchLoss = rowSum(lid, lossSum);
  if (lid == 0u) { loss[0] = batchLoss / batchRows; }`,
    workgroups: 1,
    workgroupSize: ROW,
  });
}

/** Largest head size the fused attention takes (its per-thread vectors are sized at compile time). */
export const FUSED_ATTENTION_MAX_HEAD_DIM = 256;

interface AttentionShape {
  batch: number;
  heads: number;
  kvHeads: number;
  seq: number;
  headDim: number;
}

function attentionShape(kernel: string, args: KernelArguments): AttentionShape {
  const query = float32Input(kernel, args, "query");
  const [batch, heads, seq, headDim] = query.shape as [number, number, number, number];
  const key = float32Input(kernel, args, "key");
  const kvHeads = key.shape[1] as number;
  if (
    query.shape.length !== 4 ||
    headDim > FUSED_ATTENTION_MAX_HEAD_DIM ||
    !tf.util.arraysEqual(key.shape, [batch, kvHeads, seq, headDim]) ||
    heads % kvHeads !== 0
  ) {
    throw new Error(
      `${kernel}: query [batch, heads, seq, headDim <= ${FUSED_ATTENTION_MAX_HEAD_DIM}] and key [batch, kvHeads, seq, headDim] with kvHeads dividing heads, got [${query.shape}] and [${key.shape}]`,
    );
  }
  float32Input(kernel, args, "value", [batch, kvHeads, seq, headDim]);
  float32Input(kernel, args, "mask", [batch, 1, 1, seq, seq]);
  return { batch, heads, kvHeads, seq, headDim };
}

// Index helpers shared by the attention shaders: q is [batch, heads, seq, D], k and v [batch, kvHeads,
// seq, D], the mask [batch, 1, 1, seq, seq], the output and its gradient [batch, seq, heads, D] (the
// layout the output projection reads, so no transpose follows), lse and delta [batch, heads, seq].
const ATTENTION_HELPERS = `
const MASKED = -1e38; // at or below: a masked position (the mask writes the most negative float32)
fn qAt(b : u32, h : u32, i : u32) -> u32 { return ((b * u.heads + h) * u.seq + i) * D; }
fn kvAt(b : u32, kh : u32, j : u32) -> u32 { return ((b * u.kvHeads + kh) * u.seq + j) * D; }
fn outAt(b : u32, h : u32, i : u32) -> u32 { return ((b * u.seq + i) * u.heads + h) * D; }
fn rowAt(b : u32, h : u32, i : u32) -> u32 { return (b * u.heads + h) * u.seq + i; }
// A query row's index (b, h, i) from its position in [batch, heads, seq].
fn queryOf(row : u32) -> u32 { return row % u.seq; }
fn headOf(row : u32) -> u32 { return (row / u.seq) % u.heads; }
fn batchOf(row : u32) -> u32 { return row / (u.seq * u.heads); }
`;

function attentionUniforms(shape: AttentionShape, scale: number): Uniform[] {
  return [
    ["heads", "u32", shape.heads],
    ["kvHeads", "u32", shape.kvHeads],
    ["seq", "u32", shape.seq],
    ["batch", "u32", shape.batch],
    ["scale", "f32", scale],
  ];
}

function scaleOf(kernel: string, args: KernelArguments): number {
  return numberAttribute(kernel, args, "scale");
}

const ATTENTION_THREADS = 64;

/**
 * Rows of a tile the attention kernels stage in workgroup memory: `per` floats per row (the staged
 * vectors plus any per-row scalars), within WebGPU's default 16 KiB of workgroup storage.
 */
function tileRows(per: number): number {
  return Math.min(ATTENTION_THREADS, Math.floor(4096 / per));
}

/**
 * The attention kernels' shared shape: a workgroup of 64 threads takes 64 consecutive rows (queries,
 * or keys) of one (batch, head); the other side (keys, or queries) goes by in tiles of `tile` rows
 * that the workgroup loads into workgroup memory together (`load`, one element per thread at a time),
 * and that each thread then reads (`visit`, for `t` in the tile). Threads past the last row load and
 * wait at the barriers with the others but compute nothing.
 */
function tiledLoop(tile: number, load: string, visit: string): string {
  return `
  for (var tile = 0u; tile < u.seq; tile += ${tile}u) {
    let count = min(${tile}u, u.seq - tile);
    for (var e = lid; e < count * D; e += ${ATTENTION_THREADS}u) {
      let t = e / D;
      let d = e % D;
      ${load}
    }
    workgroupBarrier();
    if (inRange) {
      for (var t = 0u; t < count; t++) {
        ${visit}
      }
    }
    workgroupBarrier();
  }`;
}

/** WGSL: this workgroup's (b, h or kh, own row) with `groupHeads` heads per batch. */
function blockRows(groupHeads: string): string {
  return `
  let blocks = (u.seq + ${ATTENTION_THREADS - 1}u) / ${ATTENTION_THREADS}u;
  let pair = wid / blocks;
  let b = pair / ${groupHeads};
  let head = pair % ${groupHeads};
  let own = (wid % blocks) * ${ATTENTION_THREADS}u + lid;
  let inRange = own < u.seq;
  let mine = min(own, u.seq - 1u); // a row to read for threads past the last one`;
}

function attentionForward(args: KernelArguments): tf.TensorInfo[] {
  const kernel = HostKernel.attention;
  const shape = attentionShape(kernel, args);
  const { batch, heads, seq, headDim } = shape;
  const tile = tileRows(2 * headDim);
  const blocks = Math.ceil(seq / ATTENTION_THREADS);
  // One thread per (batch, head, query): scores against every key, softmax with a running maximum
  // (one pass), and the weighted sum of the values, keys and values staged a tile at a time. Writes
  // the output and each row's log-sum-exp, which the backward pass uses to recompute probabilities.
  return launch(args.backend as WebGpuBackendInternals, {
    key: `pqm-attention-forward-${headDim}`,
    outputs: [
      { name: "output", shape: [batch, seq, heads, headDim] },
      { name: "lse", shape: [batch, heads, seq, 2] },
    ],
    inputs: ["query", "key", "value", "mask"].map((name) => ({
      name,
      info: args.inputs[name] as tf.TensorInfo,
    })),
    uniforms: attentionUniforms(shape, scaleOf(kernel, args)),
    preamble: `const D = ${headDim}u;${ATTENTION_HELPERS}
var<workgroup> keyTile : array<f32, ${tile * headDim}>;
var<workgroup> valueTile : array<f32, ${tile * headDim}>;`,
    body: `${blockRows("u.heads")}
  let h = head;
  let i = mine;
  let kh = h / (u.heads / u.kvHeads);
  let q0 = qAt(b, h, i);
  var q : array<f32, ${headDim}>;
  var acc : array<f32, ${headDim}>;
  for (var d = 0u; d < D; d++) { q[d] = query[q0 + d]; acc[d] = 0.0; }
  var top = 0.0;
  var total = 0.0;
  ${tiledLoop(
    tile,
    `keyTile[e] = key[kvAt(b, kh, tile + t) + d];
      valueTile[e] = value[kvAt(b, kh, tile + t) + d];`,
    `let j = tile + t;
        let masked = mask[(b * u.seq + i) * u.seq + j];
        // A masked key's score is the mask's most negative float32 itself (a product of any sane
        // size is far below its rounding step), so its product with the query is skipped.
        var score = masked;
        if (masked > MASKED) {
          var dotted = 0.0;
          for (var d = 0u; d < D; d++) { dotted += q[d] * keyTile[t * D + d]; }
          score = dotted * u.scale + masked;
        }
        if (j == 0u) {
          top = score;
        } else if (score > top) {
          let correction = exp(top - score);
          total *= correction;
          for (var d = 0u; d < D; d++) { acc[d] *= correction; }
          top = score;
        }
        let weight = exp(score - top);
        total += weight;
        if (weight != 0.0) {
          for (var d = 0u; d < D; d++) { acc[d] += weight * valueTile[t * D + d]; }
        }`,
  )}
  if (inRange) {
    let o0 = outAt(b, h, i);
    for (var d = 0u; d < D; d++) { output[o0 + d] = acc[d] / total; }
    // The log-sum-exp as its two parts: a fully masked row's maximum is the most negative float32,
    // which would absorb log(total) if they were added.
    lse[2u * rowAt(b, h, i)] = top;
    lse[2u * rowAt(b, h, i) + 1u] = log(total);
  }`,
    workgroups: batch * heads * blocks,
    workgroupSize: ATTENTION_THREADS,
  });
}

function attentionBackward(args: KernelArguments): tf.TensorInfo[] {
  const kernel = HostKernel.attentionGrad;
  const shape = attentionShape(kernel, args);
  const { batch, heads, kvHeads, seq, headDim } = shape;
  const backend = args.backend as WebGpuBackendInternals;
  const input = (name: string) => ({ name, info: args.inputs[name] as tf.TensorInfo });
  const output = float32Input(kernel, args, "output", [batch, seq, heads, headDim]);
  const lse = float32Input(kernel, args, "lse", [batch, heads, seq, 2]);
  const dy = float32Input(kernel, args, "dy", [batch, seq, heads, headDim]);
  const uniforms = attentionUniforms(shape, scaleOf(kernel, args));
  const rows = batch * heads * seq;
  const blocks = Math.ceil(seq / ATTENTION_THREADS);
  const preamble = `const D = ${headDim}u;${ATTENTION_HELPERS}`;
  // With P = softmax(S), S = scale·QKᵀ + mask, O = PV: dV = Pᵀ dO; dP = dO Vᵀ; dS = P ∘ (dP − delta)
  // with delta_i = dO_i · O_i; dQ = scale · dS K; dK = scale · dSᵀ Q. Four launches (WebGPU's 8 storage
  // buffers per launch do not fit all the inputs and outputs at once): delta, dQ, dK, dV.
  const [delta] = launch(backend, {
    key: `pqm-attention-delta-${headDim}`,
    outputs: [{ name: "delta", shape: [batch, heads, seq] }],
    inputs: [
      { name: "output", info: output },
      { name: "dy", info: dy },
    ],
    uniforms: [["rows", "u32", rows], ...uniforms],
    preamble,
    body: `
  if (gid >= u.rows) { return; }
  let i = queryOf(gid);
  let h = headOf(gid);
  let b = batchOf(gid);
  let o0 = outAt(b, h, i);
  var acc = 0.0;
  for (var d = 0u; d < D; d++) { acc += dy[o0 + d] * output[o0 + d]; }
  delta[rowAt(b, h, i)] = acc;`,
    workgroups: Math.ceil(rows / ATTENTION_THREADS),
    workgroupSize: ATTENTION_THREADS,
  });
  // What the dQ and dK launches read: 7 storage buffers, with their output the default limit of 8.
  const gradientInputs = [
    input("query"),
    input("key"),
    input("value"),
    input("mask"),
    { name: "lse", info: lse },
    { name: "dy", info: dy },
    { name: "delta", info: delta as tf.TensorInfo },
  ];
  // Query side (dQ): each thread keeps its query, its row of dO and its statistics; keys and values
  // go by in tiles.
  const queryTile = tileRows(2 * headDim);
  const [dq] = launch(backend, {
    key: `pqm-attention-grad-query-${headDim}`,
    outputs: [{ name: "dq", shape: [batch, heads, seq, headDim] }],
    inputs: gradientInputs,
    uniforms,
    preamble: `${preamble}
var<workgroup> keyTile : array<f32, ${queryTile * headDim}>;
var<workgroup> valueTile : array<f32, ${queryTile * headDim}>;`,
    body: `${blockRows("u.heads")}
  let h = head;
  let i = mine;
  let kh = h / (u.heads / u.kvHeads);
  let q0 = qAt(b, h, i);
  let o0 = outAt(b, h, i);
  let row = rowAt(b, h, i);
  let rowTop = lse[2u * row];
  let rowLog = lse[2u * row + 1u];
  let rowDelta = delta[row];
  var q : array<f32, ${headDim}>;
  var g : array<f32, ${headDim}>;
  var acc : array<f32, ${headDim}>;
  for (var d = 0u; d < D; d++) { q[d] = query[q0 + d]; g[d] = dy[o0 + d]; acc[d] = 0.0; }
  ${tiledLoop(
    queryTile,
    `keyTile[e] = key[kvAt(b, kh, tile + t) + d];
      valueTile[e] = value[kvAt(b, kh, tile + t) + d];`,
    `let masked = mask[(b * u.seq + i) * u.seq + tile + t];
        // A masked key has probability exactly 0 unless the whole row is masked.
        if (masked <= MASKED && rowTop > MASKED) { continue; }
        var dotted = 0.0;
        var dp = 0.0;
        for (var d = 0u; d < D; d++) {
          dotted += q[d] * keyTile[t * D + d];
          dp += g[d] * valueTile[t * D + d];
        }
        let p = exp((dotted * u.scale + masked - rowTop) - rowLog);
        let ds = p * (dp - rowDelta);
        for (var d = 0u; d < D; d++) { acc[d] += ds * keyTile[t * D + d]; }`,
  )}
  if (inRange) {
    for (var d = 0u; d < D; d++) { dq[q0 + d] = acc[d] * u.scale; }
  }`,
    workgroups: batch * heads * blocks,
    workgroupSize: ATTENTION_THREADS,
  });
  // Key side (dK, dV): each thread keeps its key (and value) row; the queries of the kv head's group,
  // with their rows of dO and their statistics, go by in tiles.
  const keyTile = tileRows(2 * headDim + 3);
  const keySide = (accumulate: string, extra: string) => `${blockRows("u.kvHeads")}
  let kh = head;
  let j = mine;
  let k0 = kvAt(b, kh, j);
  var k : array<f32, ${headDim}>;
  var acc : array<f32, ${headDim}>;
  ${extra}
  for (var d = 0u; d < D; d++) { k[d] = key[k0 + d]; acc[d] = 0.0; }
  let group = u.heads / u.kvHeads;
  for (var h = kh * group; h < (kh + 1u) * group; h++) {
    ${tiledLoop(
      keyTile,
      `queryTile[e] = query[qAt(b, h, tile + t) + d];
      gradTile[e] = dy[outAt(b, h, tile + t) + d];
      if (d == 0u) {
        let row = rowAt(b, h, tile + t);
        topTile[t] = lse[2u * row];
        logTile[t] = lse[2u * row + 1u];
        ${accumulate.includes("deltaTile") ? "deltaTile[t] = delta[row];" : ""}
      }`,
      `let masked = mask[(b * u.seq + tile + t) * u.seq + j];
        if (masked <= MASKED && topTile[t] > MASKED) { continue; }
        ${accumulate}`,
    )}
  }
  if (inRange) {
    for (var d = 0u; d < D; d++) { RESULT[k0 + d] = acc[d] * SCALE; }
  }`;
  const keyTiles = `
var<workgroup> queryTile : array<f32, ${keyTile * headDim}>;
var<workgroup> gradTile : array<f32, ${keyTile * headDim}>;
var<workgroup> topTile : array<f32, ${keyTile}>;
var<workgroup> logTile : array<f32, ${keyTile}>;`;
  const keyBlocks = batch * kvHeads * blocks;
  const [dk] = launch(backend, {
    key: `pqm-attention-grad-key-${headDim}`,
    outputs: [{ name: "dk", shape: [batch, kvHeads, seq, headDim] }],
    inputs: gradientInputs,
    uniforms,
    preamble: `${preamble}${keyTiles}
var<workgroup> deltaTile : array<f32, ${keyTile}>;`,
    body: keySide(
      `var dotted = 0.0;
        var dp = 0.0;
        for (var d = 0u; d < D; d++) {
          dotted += queryTile[t * D + d] * k[d];
          dp += gradTile[t * D + d] * v[d];
        }
        let p = exp((dotted * u.scale + masked - topTile[t]) - logTile[t]);
        let ds = p * (dp - deltaTile[t]);
        for (var d = 0u; d < D; d++) { acc[d] += ds * queryTile[t * D + d]; }`,
      `var v : array<f32, ${headDim}>;
  for (var d = 0u; d < D; d++) { v[d] = value[k0 + d]; }`,
    )
      .replace("RESULT", "dk")
      .replace("SCALE", "u.scale"),
    workgroups: keyBlocks,
    workgroupSize: ATTENTION_THREADS,
  });
  const [dv] = launch(backend, {
    key: `pqm-attention-grad-value-${headDim}`,
    outputs: [{ name: "dv", shape: [batch, kvHeads, seq, headDim] }],
    inputs: gradientInputs.filter(({ name }) => name !== "value" && name !== "delta"),
    uniforms,
    preamble: `${preamble}${keyTiles}`,
    body: keySide(
      `var dotted = 0.0;
        for (var d = 0u; d < D; d++) { dotted += queryTile[t * D + d] * k[d]; }
        let p = exp((dotted * u.scale + masked - topTile[t]) - logTile[t]);
        for (var d = 0u; d < D; d++) { acc[d] += p * gradTile[t * D + d]; }`,
      "",
    )
      .replace("RESULT", "dv")
      .replace("SCALE", "1.0"),
    workgroups: keyBlocks,
    workgroupSize: ATTENTION_THREADS,
  });
  (backend as unknown as { disposeData(dataId: object): void }).disposeData((delta as tf.TensorInfo).dataId);
  return [dq as tf.TensorInfo, dk as tf.TensorInfo, dv as tf.TensorInfo];
}

const FUSED: readonly [string, (args: KernelArguments) => tf.TensorInfo | tf.TensorInfo[]][] = [
  [HostKernel.adamW, adamW],
  [HostKernel.rmsNorm, rmsNormForward],
  [HostKernel.rmsNormGrad, rmsNormBackward],
  [HostKernel.softmaxGrad, softmaxBackward],
  [HostKernel.swigluGrad, swiGluBackward],
  [HostKernel.rotary, rotary],
  [HostKernel.sumOfSquares, sumOfSquares],
  [PQM_RANKING_LOSS_KERNEL, rankingLoss],
  [HostKernel.attention, attentionForward],
  [HostKernel.attentionGrad, attentionBackward],
];

/** Which fused kernels `PQM_WEBGPU_FUSED` asks for (see {@link fusedKernelsFromEnvironment}). */
export const WEBGPU_FUSED_CHOICES = ["all", "none", "no-attention"] as const;

/**
 * The kernels to register for a value of `PQM_WEBGPU_FUSED`: `all` (the default, also when unset),
 * `none` (TF.js's composed operations throughout), or `no-attention` (all but the attention kernels,
 * whose one-thread-per-row loops may lose to TF.js's matrix products on some adapters: on lavapipe they
 * do). `bench/webgpu/webgpu-bench.ts` times the three.
 * @throws Error for any other value, naming the variable and the values it takes.
 */
export function fusedKernelsFromEnvironment(value: string | undefined): WebGpuFusedKernelOptions {
  if (value === undefined || value === "" || value === "all") return {};
  if (value === "none") return { kernels: [] };
  if (value === "no-attention") {
    const attention: string[] = [HostKernel.attention, HostKernel.attentionGrad];
    return { kernels: FUSED.map(([name]) => name).filter((name) => !attention.includes(name)) };
  }
  throw new Error(`PQM_WEBGPU_FUSED=${value}: expected one of ${WEBGPU_FUSED_CHOICES.join(", ")}`);
}

/** Options of {@link installWebGpuFusedKernels}. */
export interface WebGpuFusedKernelOptions {
  /** Which to register, by the values of {@link HostKernel}; default: all. For measuring each one. */
  kernels?: readonly string[];
}

/**
 * Registers the WGSL versions of the fused kernels ({@link HostKernel}) on the webgpu backend, so
 * that AdamW, RMSNorm, the softmax and SwiGLU gradients and the rotary embedding run as one or two
 * launches each. Call after `@tensorflow/tfjs-backend-webgpu` has registered its kernels (the webgpu
 * backend's start in `selectBackend` does); kernels already registered are left as they are.
 * @returns false when the webgpu backend's kernels are not registered.
 */
export function installWebGpuFusedKernels(options: WebGpuFusedKernelOptions = {}): boolean {
  if (tf.getKernel("Add", "webgpu") === undefined) return false;
  for (const [kernelName, kernelFunc] of FUSED) {
    if (options.kernels !== undefined && !options.kernels.includes(kernelName)) continue;
    if (tf.getKernel(kernelName, "webgpu") === undefined)
      tf.registerKernel({
        kernelName,
        backendName: "webgpu",
        kernelFunc: kernelFunc as unknown as tf.KernelFunc,
      });
  }
  return true;
}

/** Removes the fused kernels from the webgpu backend. @returns false when none were registered. */
export function uninstallWebGpuFusedKernels(): boolean {
  let removed = false;
  for (const [kernelName] of FUSED) {
    if (tf.getKernel(kernelName, "webgpu") !== undefined) {
      tf.unregisterKernel(kernelName, "webgpu");
      removed = true;
    }
  }
  return removed;
}
