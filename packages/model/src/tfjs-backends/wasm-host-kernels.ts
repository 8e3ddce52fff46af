import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
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
    for (let column = 0; column < columns; column++) total[column] += source[base + column] as number;
  }
  target.set(total);
  return out;
}

function hostGather(args: KernelArguments): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const indices = args.inputs.indices as tf.TensorInfo;
  const axis = tf.util.parseAxisParam(args.attrs?.axis as number, x.shape)[0];
  const batchDims = (args.attrs?.batchDims as number | undefined) ?? 0;
  if (x.dtype !== "float32" || indices.dtype !== "int32" || axis !== 0 || batchDims !== 0 || x.shape.length < 2)
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

const KERNELS: readonly [string, StockKernel][] = [
  [tf.Sum, hostSum],
  [tf.GatherV2, hostGather],
  [tf.Cast, hostCast],
];

/**
 * Replaces the wasm backend's `Sum`, `GatherV2` and `Cast` with host loops for the cases a decoder's
 * training step hits (see the file comment); other cases use the stock kernels. Call once the wasm
 * backend is registered (`selectBackend` does).
 * @returns false when the wasm backend's kernels are not registered.
 */
export function installWasmHostKernels(): boolean {
  if (stock.size > 0) return true;
  for (const [name, kernel] of KERNELS) {
    const previous = overrideWasmKernel(name, kernel);
    if (previous === undefined) {
      uninstallWasmHostKernels();
      return false;
    }
    stock.set(name, previous);
  }
  return true;
}

/** Puts the stock kernels back. @returns false when they were not replaced. */
export function uninstallWasmHostKernels(): boolean {
  if (stock.size === 0) return false;
  for (const previous of stock.values()) restoreWasmKernel(previous);
  stock.clear();
  return true;
}
