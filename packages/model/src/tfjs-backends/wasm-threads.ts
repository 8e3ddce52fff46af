import { createRequire } from "node:module";
import os from "node:os";
import { dirname, join } from "node:path";
import { Worker as NodeWorker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";

// tfjs-backend-wasm runs one thread in Node, for four reasons: its multithread flag is false there,
// Emscripten starts pthread workers from a blob: URL that worker_threads rejects, the worker is sent
// a loader that is not self-contained in the Node bundle, and the C++ side caps the pool at half
// the logical cores. The package ships what a fix needs: a self-contained threaded loader and the
// worker's source as a string. This shim supplies a global Worker that evaluates that source and
// points its `load` message at the loader file, without patching node_modules.

const require = createRequire(import.meta.url);

interface WasmThreadsState {
  requested: number;
  installed: boolean;
}

const state: WasmThreadsState = { requested: 1, installed: false };

function wasmPackageDir(): string {
  return dirname(dirname(require.resolve("@tensorflow/tfjs-backend-wasm")));
}

/**
 * Prepares the wasm backend to start `threads` threads in Node. Must run before anything
 * initializes the wasm backend (the first `tf.setBackend("wasm")` or `tf.ready()` on it); after
 * that it has no effect and returns false. Opt-in and experimental: the default stays 1 thread, since
 * a 2-thread benchmark run (torch-peer M, forward+backward) was seen to hang.
 * @returns true when the shim is in place for the coming initialization.
 */
export async function prepareWasmThreads(threads: number): Promise<boolean> {
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`wasm threads must be a positive integer, got ${threads}`);
  if (threads === 1) return false;
  if (tf.engine().registryFactory.wasm === undefined) await import("@tensorflow/tfjs-backend-wasm");
  if (tf.engine().registry.wasm !== undefined) return false; // already initialized
  const packageDir = wasmPackageDir();
  const loaderPath = join(packageDir, "wasm-out", "tfjs-backend-wasm-threaded-simd.js");
  const { wasmWorkerContents } = require(
    join(packageDir, "wasm-out", "tfjs-backend-wasm-threaded-simd.worker.js"),
  ) as {
    wasmWorkerContents: string;
  };

  class PthreadWorker extends NodeWorker {
    constructor(_url: unknown) {
      // As tfjs does for its blob: the template literal turned the source's "\n" escapes into newlines.
      super(wasmWorkerContents.replace(/\n/g, "\\n"), { eval: true });
    }

    override postMessage(message: unknown, transferList?: Parameters<NodeWorker["postMessage"]>[1]): void {
      const data = message as { cmd?: string } | null;
      // The main thread sends the factory as a blob; the worker needs the self-contained loader.
      const fixed =
        data !== null && typeof data === "object" && data.cmd === "load"
          ? { ...data, urlOrBlob: loaderPath }
          : message;
      super.postMessage(fixed, transferList);
    }
  }

  // Emscripten assigns global.Worker = worker_threads.Worker while it starts; keep ours.
  Object.defineProperty(globalThis, "Worker", {
    configurable: true,
    get: () => PthreadWorker,
    set: () => undefined,
  });
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  wasm.setThreadsCount(threads);
  state.requested = threads;
  state.installed = true;
  return true;
}

/**
 * Initializes the wasm backend (after `prepareWasmThreads`), with the logical core count seen as
 * at least twice the requested threads while it starts, since the C++ pool takes half of it.
 * @returns the threads the backend reports.
 */
export async function initializeWasmBackend(): Promise<number> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  const realCpus = os.cpus;
  const needed = 2 * state.requested;
  if (state.installed && realCpus().length < needed) {
    os.cpus = () => {
      const cpus = realCpus();
      const first = cpus[0] as os.CpuInfo;
      while (cpus.length < needed) cpus.push(first);
      return cpus;
    };
  }
  try {
    const ok = await tf.setBackend("wasm");
    await tf.ready();
    if (!ok) throw new Error("the wasm backend did not start");
  } finally {
    os.cpus = realCpus;
  }
  return wasm.getThreadsCount();
}
