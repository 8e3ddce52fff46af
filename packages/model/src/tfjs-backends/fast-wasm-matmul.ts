import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { overrideWasmKernel, restoreWasmKernel } from "./wasm-kernel-override.js";

// The stock wasm BatchMatMul takes its XNNPACK path only for untransposed inputs of batch 1; every
// other case (all backward matmuls, attention's batched products) runs a scalar loop 10-40x
// slower. This kernel rewrites those cases onto the fast path: transpose first (the wasm Transpose
// is fast), fold batch dimensions into rows when the second input has batch 1, otherwise run the
// fast path once per batch slice on views into the inputs' wasm memory (no copies).

type WasmBatchMatMul = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: boolean,
  transposeB: boolean,
  outId: number,
) => void;

interface CwrapModule {
  cwrap(name: string, returnType: null, argumentTypes: string[]): WasmBatchMatMul;
  tfjs: { disposeData(id: number): void };
}

interface KernelArguments {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs?: tf.NamedAttrMap;
}

type StockKernel = (args: KernelArguments) => tf.TensorInfo;

let stockBatchMatMul: tf.KernelConfig | undefined;
const rawMatMulByBackend = new WeakMap<BackendWasm, WasmBatchMatMul>();

function rawMatMul(backend: BackendWasm): WasmBatchMatMul {
  let raw = rawMatMulByBackend.get(backend);
  if (raw === undefined) {
    const module = backend.wasm as unknown as CwrapModule;
    raw = module.cwrap("BatchMatMul", null, [
      "number",
      "array",
      "number",
      "number",
      "array",
      "number",
      "number",
      "number",
      "number",
    ]);
    rawMatMulByBackend.set(backend, raw);
  }
  return raw;
}

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/** A tensor registered over `memoryOffset` of existing wasm memory; free with `releaseView`. */
function viewOf(backend: BackendWasm, shape: number[], memoryOffset: number): tf.TensorInfo {
  return backend.makeOutput(shape, "float32", memoryOffset);
}

function releaseView(backend: BackendWasm, view: tf.TensorInfo): void {
  // Not backend.disposeData: that would free() memory the view does not own.
  const data = backend.dataIdMap.get(view.dataId);
  (backend.wasm as unknown as CwrapModule).tfjs.disposeData(data.id);
  backend.dataIdMap.delete(view.dataId);
}

function transposeLastTwo(backend: BackendWasm, x: tf.TensorInfo): tf.TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  perm[rank - 1] = rank - 2;
  perm[rank - 2] = rank - 1;
  const transpose = tf.getKernel(tf.Transpose, "wasm")?.kernelFunc as unknown as StockKernel;
  return transpose({ inputs: { x }, backend, attrs: { perm } });
}

function size(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, 1);
}

function fastBatchMatMul(args: KernelArguments): tf.TensorInfo {
  const { backend } = args;
  const a = args.inputs.a as tf.TensorInfo;
  const b = args.inputs.b as tf.TensorInfo;
  const transposeA = Boolean(args.attrs?.transposeA);
  const transposeB = Boolean(args.attrs?.transposeB);
  const stock = (stockBatchMatMul as tf.KernelConfig).kernelFunc as unknown as StockKernel;
  if (a.dtype !== "float32" || b.dtype !== "float32" || size(a.shape) === 0 || size(b.shape) === 0)
    return stock(args);
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = size(outerA);
  const batchB = size(outerB);
  const sameOuter =
    outerA.length === outerB.length && outerA.every((dimension, index) => dimension === outerB[index]);
  // Broadcasts other than "b has batch 1", "a has batch 1" or "equal batch shapes" keep the stock kernel.
  if (!(batchB === 1 || batchA === 1 || sameOuter)) return stock(args);
  const outerShape = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);

  const aReady = transposeA ? transposeLastTwo(backend, a) : a;
  const bReady = transposeB ? transposeLastTwo(backend, b) : b;
  const rows = aReady.shape[aReady.shape.length - 2] as number;
  const inner = aReady.shape[aReady.shape.length - 1] as number;
  const innerB = bReady.shape[bReady.shape.length - 2] as number;
  const columns = bReady.shape[bReady.shape.length - 1] as number;
  try {
    if (inner !== innerB) {
      throw new Error(
        `Error in matMul: inner shapes (${inner}) and (${innerB}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
      );
    }
    if (batchB === 1) {
      // [batchA * rows, inner] x [inner, columns]: one fast call.
      const folded = stock({
        inputs: {
          a: { dataId: aReady.dataId, shape: [batchA * rows, inner], dtype: "float32" },
          b: { dataId: bReady.dataId, shape: [inner, columns], dtype: "float32" },
        },
        backend,
        attrs: { transposeA: false, transposeB: false },
      });
      return { ...folded, shape: [...outerShape, rows, columns] };
    }
    const batch = Math.max(batchA, batchB);
    const out = backend.makeOutput([...outerShape, rows, columns], "float32");
    const raw = rawMatMul(backend);
    const aOffset = backend.dataIdMap.get(aReady.dataId).memoryOffset;
    const bOffset = backend.dataIdMap.get(bReady.dataId).memoryOffset;
    const outOffset = backend.dataIdMap.get(out.dataId).memoryOffset;
    const aSlice = shapeBytes([1, rows, inner]);
    const bSlice = shapeBytes([1, inner, columns]);
    for (let index = 0; index < batch; index++) {
      const aView = viewOf(
        backend,
        [1, rows, inner],
        aOffset + (batchA === 1 ? 0 : index * rows * inner * 4),
      );
      const bView = viewOf(backend, [1, inner, columns], bOffset + index * inner * columns * 4);
      const outView = viewOf(backend, [1, rows, columns], outOffset + index * rows * columns * 4);
      try {
        raw(
          backend.dataIdMap.get(aView.dataId).id,
          aSlice,
          3,
          backend.dataIdMap.get(bView.dataId).id,
          bSlice,
          3,
          false,
          false,
          backend.dataIdMap.get(outView.dataId).id,
        );
      } finally {
        releaseView(backend, aView);
        releaseView(backend, bView);
        releaseView(backend, outView);
      }
    }
    return out;
  } finally {
    if (aReady !== a) backend.disposeData(aReady.dataId);
    if (bReady !== b) backend.disposeData(bReady.dataId);
  }
}

/**
 * Replaces the wasm backend's `BatchMatMul` kernel with one that always reaches the XNNPACK fast
 * path (see the file comment). Idempotent; safe to call before or after the wasm backend starts.
 * Results equal the stock kernel's up to float32 summation order.
 * @returns false when the wasm backend's kernels are not registered (package not imported).
 */
export function installFastWasmMatMul(): boolean {
  if (stockBatchMatMul !== undefined) return true;
  // The stock setup binds the C++ function the fold path calls: the override keeps it.
  stockBatchMatMul = overrideWasmKernel(tf.BatchMatMul, fastBatchMatMul);
  return stockBatchMatMul !== undefined;
}

/**
 * Puts the stock wasm `BatchMatMul` back (for comparisons and benchmarks).
 * @returns false when the fast kernel was not installed.
 */
export function uninstallFastWasmMatMul(): boolean {
  if (stockBatchMatMul === undefined) return false;
  restoreWasmKernel(stockBatchMatMul);
  stockBatchMatMul = undefined;
  return true;
}

/** Whether `installFastWasmMatMul` is in effect. */
export function fastWasmMatMulInstalled(): boolean {
  return stockBatchMatMul !== undefined;
}
