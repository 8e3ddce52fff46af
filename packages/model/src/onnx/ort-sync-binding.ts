import { createRequire } from "node:module";
import { MissingPeerDependencyError } from "../optional-peers.js";

// onnxruntime-node's public `InferenceSession.run` is asynchronous, but the package's native binding
// (`onnxruntime-node/dist/binding.js`, typed in its `binding.d.ts` as "a simple synchronized inference
// session") runs synchronously, which TF.js kernels and a training step that must not yield need. This
// file loads that binding. It is not the package's public entry: checked against 1.30.0; callers verify
// its results once (a self-check) before relying on it.

/** A tensor as the binding takes and returns it. */
export interface OrtTensor {
  readonly data: Float32Array | BigInt64Array;
  readonly dims: readonly number[];
}

/** onnxruntime-node's `Tensor` constructor, for the two element types used here. */
export type OrtTensorConstructor = {
  new (type: "float32", data: Float32Array, dims: readonly number[]): OrtTensor;
  new (type: "int64", data: BigInt64Array, dims: readonly number[]): OrtTensor;
};

/** One session of the binding. */
export interface BindingSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(
    feeds: Record<string, OrtTensor>,
    fetches: Record<string, OrtTensor | null>,
    options: object,
  ): Record<string, OrtTensor>;
  /** Ends a profile begun with `profilePrefix` and writes its file. */
  endProfiling(): void;
  dispose(): void;
}

/** The synchronous binding and the package's tensor type. */
export interface OrtSyncBinding {
  Tensor: OrtTensorConstructor;
  createSession(model: Uint8Array, options: OrtSyncSessionOptions): BindingSession;
}

/** How a session runs. */
export interface OrtSyncSessionOptions {
  /** Intra-op threads (the calling thread counts as one). */
  threads: number;
  /** Whether idle pool threads spin-wait between operations. */
  spinning: boolean;
  /** Write ONNX Runtime's per-operator profile (JSON) to a file with this prefix; ended by `endProfiling`. */
  profilePrefix?: string;
}

interface BindingModule {
  binding: { InferenceSession: new () => BindingSession };
  initOrt(): void;
}

/**
 * Loads onnxruntime-node and its synchronous binding. `importModule` loads the package's entry (tests
 * replace it).
 * @throws MissingPeerDependencyError (naming `purpose`) when the package or its binding cannot load.
 */
export async function loadOrtSyncBinding(
  purpose: string,
  importModule: (specifier: string) => Promise<unknown> = (specifier) => import(specifier),
): Promise<OrtSyncBinding> {
  const require = createRequire(import.meta.url);
  try {
    const runtime = (await importModule("onnxruntime-node")) as { Tensor: OrtTensorConstructor };
    const bindingModule = require("onnxruntime-node/dist/binding.js") as BindingModule;
    bindingModule.initOrt();
    return {
      Tensor: runtime.Tensor,
      createSession(model, options) {
        const session = new bindingModule.binding.InferenceSession();
        session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
          executionProviders: [{ name: "cpu" }],
          graphOptimizationLevel: "all",
          executionMode: "sequential",
          intraOpNumThreads: options.threads,
          interOpNumThreads: 1,
          extra: { session: { intra_op: { allow_spinning: options.spinning ? "1" : "0" } } },
          ...(options.profilePrefix === undefined
            ? {}
            : { enableProfiling: true, profileFilePrefix: options.profilePrefix }),
        });
        return session;
      },
    };
  } catch (cause) {
    throw new MissingPeerDependencyError("onnxruntime-node", purpose, { cause });
  }
}
