import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { overrideWasmKernel, restoreWasmKernel } from "../tfjs-backends/wasm-kernel-override.js";
import { OnnxGraphBuilder } from "./onnx-graph-builder.js";
import { OnnxDataType } from "./onnx-schema.js";
import type { BindingSession, OrtSyncBinding } from "./ort-sync-binding.js";
import { loadOrtSyncBinding } from "./ort-sync-binding.js";

// Matrix products of the wasm backend computed by ONNX Runtime (`selectBackend`'s default where
// onnxruntime-node is installed).
//
// The wasm backend's XNNPACK matmul reaches about 29 GFLOP/s on one core here; ONNX Runtime's MLAS
// about 90-100 on one core and 150-170 on two (measured here too). TF.js kernels are synchronous while
// onnxruntime-node's public `InferenceSession.run` is asynchronous; this kernel uses the package's
// synchronous native binding (see ort-sync-binding.ts). Inputs are passed as views into the wasm heap and
// the output is a pre-allocated view there, so nothing is copied. One small session per (ranks,
// transposes) holds a graph `[Transpose] -> MatMul` with symbolic dimensions.
// A binding that is missing or behaves differently is refused (the wasm kernel stays).

interface KernelArguments {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs?: tf.NamedAttrMap;
}

interface WasmModule {
  HEAPF32: Float32Array;
  /** Exported by the threaded build. */
  wasmMemory?: { buffer: ArrayBuffer | SharedArrayBuffer };
}

/** Options of {@link installOnnxMatMul}. */
export interface OnnxMatMulOptions {
  /** ONNX Runtime intra-op threads (default 1). */
  threads?: number;
  /** Products below this many multiply-adds stay on the wasm kernel, where a call costs less (default 32,768). */
  minMultiplyAdds?: number;
  /** Let ONNX Runtime's idle threads spin-wait between products (default true; fastest on an idle machine). */
  spinning?: boolean;
  /**
   * Told why, when the kernel is not installed (onnxruntime-node missing or failing its self-check, or
   * the wasm backend not active). Default: nothing is said; the result is false.
   */
  onWarning?: (message: string) => void;
}

/** Counters of the installed kernel. */
export interface OnnxMatMulStatistics {
  onnxCalls: number;
  onnxMs: number;
  wasmCalls: number;
  threads: number;
}

interface State {
  ort: OrtSyncBinding;
  /** Whether the binding writes products into the output tensors given to it (found on the first). */
  writesIntoFetches?: boolean;
  sessions: Map<string, BindingSession>;
  previous: tf.KernelConfig;
  options: Required<Omit<OnnxMatMulOptions, "onWarning">>;
  statistics: OnnxMatMulStatistics;
}

let state: State | undefined;

function size(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, 1);
}

function matMulModel(rankA: number, rankB: number, transposeA: boolean, transposeB: boolean): Uint8Array {
  const graph = new OnnxGraphBuilder("pqm_matmul");
  const dims = (prefix: string, rank: number) => Array.from({ length: rank }, (_, i) => `${prefix}${i}`);
  const a = graph.input({ name: "a", dataType: OnnxDataType.FLOAT, shape: dims("a", rankA) });
  const b = graph.input({ name: "b", dataType: OnnxDataType.FLOAT, shape: dims("b", rankB) });
  const swapLastTwo = (rank: number) => {
    const perm = [...Array(rank).keys()];
    perm[rank - 1] = rank - 2;
    perm[rank - 2] = rank - 1;
    return perm;
  };
  const left = transposeA ? graph.node("Transpose", [a], { perm: swapLastTwo(rankA) }) : a;
  const right = transposeB ? graph.node("Transpose", [b], { perm: swapLastTwo(rankB) }) : b;
  const product = graph.node("MatMul", [left, right]);
  graph.output(product, {
    name: "y",
    dataType: OnnxDataType.FLOAT,
    shape: dims("y", Math.max(rankA, rankB)),
  });
  return graph.toModelBytes({ opset: 17, irVersion: 8, producerName: "pqm", producerVersion: "0" });
}

function sessionFor(current: State, rankA: number, rankB: number, transposeA: boolean, transposeB: boolean) {
  const key = `${rankA}:${rankB}:${transposeA}:${transposeB}`;
  let session = current.sessions.get(key);
  if (session === undefined) {
    session = current.ort.createSession(matMulModel(rankA, rankB, transposeA, transposeB), {
      threads: current.options.threads,
      spinning: current.options.spinning,
    });
    current.sessions.set(key, session);
  }
  return session;
}

function onnxBatchMatMul(args: KernelArguments): tf.TensorInfo {
  const current = state as State;
  const { backend } = args;
  const a = args.inputs.a as tf.TensorInfo;
  const b = args.inputs.b as tf.TensorInfo;
  const transposeA = Boolean(args.attrs?.transposeA);
  const transposeB = Boolean(args.attrs?.transposeB);
  const fallback = () => {
    current.statistics.wasmCalls++;
    return (current.previous.kernelFunc as unknown as (args: KernelArguments) => tf.TensorInfo)(args);
  };
  if (a.dtype !== "float32" || b.dtype !== "float32") return fallback();
  const rankA = a.shape.length;
  const rankB = b.shape.length;
  const rows = a.shape[transposeA ? rankA - 1 : rankA - 2] as number;
  const inner = a.shape[transposeA ? rankA - 2 : rankA - 1] as number;
  const innerB = b.shape[transposeB ? rankB - 1 : rankB - 2] as number;
  const columns = b.shape[transposeB ? rankB - 2 : rankB - 1] as number;
  if (inner !== innerB) return fallback(); // the wasm kernel throws tfjs' own message
  const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const outShape = [...outer, rows, columns];
  const multiplyAdds = size(outShape) * inner;
  if (multiplyAdds < current.options.minMultiplyAdds || multiplyAdds === 0) return fallback();

  const started = performance.now();
  const out = backend.makeOutput(outShape, "float32");
  // Views are taken after the allocation: growing the heap replaces its buffer. The threaded build's
  // module refreshes HEAPF32 lazily, so read the memory's current buffer.
  const module = backend.wasm as unknown as WasmModule;
  const buffer = module.wasmMemory?.buffer ?? module.HEAPF32.buffer;
  // The native binding refuses typed arrays over a SharedArrayBuffer (the threaded build's heap): copy.
  const shared = typeof SharedArrayBuffer !== "undefined" && buffer instanceof SharedArrayBuffer;
  const view = (info: tf.TensorInfo, shape: readonly number[]) => {
    const offset = backend.dataIdMap.get(info.dataId).memoryOffset as number;
    const data = new Float32Array(buffer, offset, size(shape));
    return new current.ort.Tensor("float32", shared ? data.slice() : data, shape);
  };
  const session = sessionFor(current, rankA, rankB, transposeA, transposeB);
  const output = shared ? null : view(out, outShape);
  // The binding writes into an output given as a tensor but returns a copy of it. Whether it wrote is
  // checked on the first product (the output filled with NaN first, which an unwritten output keeps);
  // after that its copy is ignored rather than copied back.
  const checking = output !== null && current.writesIntoFetches === undefined;
  if (checking) (output.data as Float32Array).fill(Number.NaN);
  const result = session.run({ a: view(a, a.shape), b: view(b, b.shape) }, { y: output }, {});
  const written = result.y;
  if (written === undefined) throw new Error("ONNX Runtime returned no product");
  const target = () => {
    const offset = backend.dataIdMap.get(out.dataId).memoryOffset as number;
    return new Float32Array(buffer, offset, size(outShape));
  };
  if (checking) {
    const actual = target();
    const copy = written.data as Float32Array;
    current.writesIntoFetches =
      copy.length === actual.length && copy.every((value, index) => Object.is(value, actual[index]));
  }
  if (output === null || current.writesIntoFetches === false) target().set(written.data as Float32Array);
  current.statistics.onnxCalls++;
  current.statistics.onnxMs += performance.now() - started;
  return out;
}

/**
 * Makes the wasm backend's `BatchMatMul` run on ONNX Runtime (see the file comment). Call after the wasm
 * backend started (`selectBackend` does, installing the fast wasm kernel this one falls back to).
 * Products of other dtypes or below `minMultiplyAdds` stay on wasm. onnxruntime-node is an optional
 * peer dependency, imported here only.
 * @returns false, after telling `options.onWarning` why, when the wasm backend is not active or
 *   onnxruntime-node is missing or its binding is unusable.
 */
export async function installOnnxMatMul(options: OnnxMatMulOptions = {}): Promise<boolean> {
  const reason = await tryInstallOnnxMatMul(options);
  if (reason !== null) options.onWarning?.(reason);
  return reason === null;
}

/**
 * {@link installOnnxMatMul}, returning why it did not install (null when it did). `importModule` loads
 * onnxruntime-node's entry (`selectBackend` passes its own, which tests replace).
 */
export async function tryInstallOnnxMatMul(
  options: OnnxMatMulOptions,
  importModule: (specifier: string) => Promise<unknown> = (specifier) => import(specifier),
): Promise<string | null> {
  if (state !== undefined) return null;
  if (tf.getBackend() !== "wasm" || tf.getKernel(tf.BatchMatMul, "wasm") === undefined) {
    return `ONNX Runtime matrix products need the wasm backend (active: ${tf.getBackend()})`;
  }
  let ort: OrtSyncBinding;
  try {
    ort = await loadOrtSyncBinding("computing matrix products on ONNX Runtime", importModule);
  } catch (error) {
    return (error as Error).message;
  }
  const expected = selfCheckProduct(); // through the kernel registered now
  // The wasm kernel's setup binds the C++ function the fallback calls: the override keeps it.
  const previous = overrideWasmKernel(tf.BatchMatMul, onnxBatchMatMul) as tf.KernelConfig;
  state = {
    ort,
    sessions: new Map(),
    previous,
    options: {
      threads: options.threads ?? 1,
      minMultiplyAdds: options.minMultiplyAdds ?? 32_768,
      spinning: options.spinning ?? true,
    },
    statistics: { onnxCalls: 0, onnxMs: 0, wasmCalls: 0, threads: options.threads ?? 1 },
  };
  if (!selfCheck(expected)) {
    uninstallOnnxMatMul();
    return "onnxruntime-node's native binding failed the self-check (a product differed from the wasm kernel's, or the binding changed); the wasm kernel stays";
  }
  return null;
}

/** A transposed, batched product, large enough for ONNX Runtime, through whichever kernel is registered. */
function selfCheckProduct(): Float32Array {
  return tf.tidy(() => {
    const a = tf.reshape(tf.linspace(-1, 1, 3 * 40 * 70), [3, 40, 70]);
    const b = tf.reshape(tf.linspace(2, -1, 3 * 50 * 40), [3, 50, 40]);
    return tf.matMul(a, b, true, true).dataSync() as Float32Array;
  });
}

/** The self-check product through ONNX Runtime must equal the wasm kernel's (a different binding fails here). */
function selfCheck(expected: Float32Array): boolean {
  const current = state as State;
  try {
    const actual = selfCheckProduct();
    if (current.statistics.onnxCalls !== 1 || actual.length !== expected.length) return false;
    for (let index = 0; index < actual.length; index++) {
      const reference = expected[index] as number;
      if (!(Math.abs((actual[index] as number) - reference) <= 1e-4 * (1 + Math.abs(reference))))
        return false;
    }
    current.statistics = { ...current.statistics, onnxCalls: 0, onnxMs: 0, wasmCalls: 0 };
    return true;
  } catch {
    return false;
  }
}

/** Puts the previous wasm `BatchMatMul` back and frees the sessions. @returns false when not installed. */
export function uninstallOnnxMatMul(): boolean {
  if (state === undefined) return false;
  restoreWasmKernel(state.previous);
  for (const session of state.sessions.values()) session.dispose();
  state = undefined;
  return true;
}

/** Counters since install, or null when not installed. */
export function onnxMatMulStatistics(): OnnxMatMulStatistics | null {
  return state === undefined ? null : { ...state.statistics, onnxMs: Math.round(state.statistics.onnxMs) };
}
