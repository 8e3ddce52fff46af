import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import type { DecoderBackbone } from "../backbone/decoder-backbone.js";
import { stableName } from "../prm/process-reward-model.js";
import { ONNX_EXPORTABLE_MODEL_TYPES } from "./decoder-onnx-graph.js";
import { OnnxExportError } from "./onnx-export-error.js";
import type { DecoderTrainingGraphs } from "./onnx-training-graph.js";
import {
  buildDecoderTrainingGraphs,
  EMBEDDING,
  gradientName,
  savedShape,
  TRAINING_IO_NAMES,
} from "./onnx-training-graph.js";
import type { BindingSession, OrtSyncBinding, OrtTensor } from "./ort-sync-binding.js";
import { loadOrtSyncBinding } from "./ort-sync-binding.js";

// The decoder's forward and backward pass run as two ONNX Runtime sessions (onnx-training-graph.ts) on
// the wasm backend's own memory: the weights are fed as views into the wasm heap, the last hidden state
// and every gradient are written straight into tensors allocated there, so TF.js sees ordinary tensors
// and nothing is copied but the activations the forward saves for the backward. Two calls per step
// replace the thousand-odd TF.js kernel calls of the decoder, and ONNX Runtime spreads every operation,
// not only the products, over its threads.

/** Options of {@link OnnxDecoderTrainer.create}. */
export interface OnnxTrainerOptions {
  /** ONNX Runtime intra-op threads (default 1). */
  threads?: number;
  /** Let idle pool threads spin-wait between operations (default true: fastest on an idle machine). */
  spinning?: boolean;
  /**
   * Profile both sessions: ONNX Runtime writes its per-operator timings (Chrome trace JSON) to files
   * starting with this path when the trainer is disposed.
   */
  profilePrefix?: string;
  /** Loads onnxruntime-node's entry (tests replace it). */
  importModule?: (specifier: string) => Promise<unknown>;
}

/** The decoder's inputs for one pass, int32 `[batch, seq]` tensors as DecoderBackbone takes them. */
export interface OnnxTrainerInputs {
  inputIds: tf.Tensor;
  /** Default: 0 .. seq−1 on every row (as DecoderBackbone's). */
  positionIds?: tf.Tensor;
  /** 1 for real tokens, 0 for padding. Default: all ones. */
  attentionMask?: tf.Tensor;
}

/** One forward pass: its last hidden state and what its backward needs. */
export interface OnnxForwardPass {
  /** `[batch, seq, hidden]`, after the final RMSNorm (as `DecoderBackbone.forwardHidden`). The caller disposes it. */
  hidden: tf.Tensor3D;
  /** Internal: the ids, positions and activations the backward reads. Released by `backward` or `discard`. */
  readonly state: unknown;
}

interface PassState {
  feeds: { ids: BigInt64Array; positions: BigInt64Array; dims: [number, number] };
  /** The saved activations, in wasm memory this pass owns until its backward (or `discard`). */
  saved: Map<string, tf.TensorInfo> | null;
}

interface WasmModule {
  HEAPF32: Float32Array;
  wasmMemory?: { buffer: ArrayBuffer | SharedArrayBuffer };
}

/** Whether two float32 arrays hold the same bits. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const left = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const right = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let index = 0; index < left.length; index++) if (left[index] !== right[index]) return false;
  return true;
}

function toInt64(tensor: tf.Tensor): BigInt64Array {
  const values = tensor.dataSync();
  const out = new BigInt64Array(values.length);
  for (let index = 0; index < values.length; index++) out[index] = BigInt(values[index] as number);
  return out;
}

/**
 * A decoder's training pass on ONNX Runtime: `forward` gives the last hidden state as a TF.js tensor,
 * the caller computes its loss and the loss's gradient with respect to that hidden state in TF.js,
 * `backward` turns that gradient into the gradient of every decoder weight. Needs the wasm backend and
 * onnxruntime-node; the decoder must be fully trainable (`mode: "full"`, no LoRA adapters).
 */
export class OnnxDecoderTrainer {
  private readonly variables: Map<string, tf.Variable>;
  private disposed = false;
  private profiling = false;
  /** Whether the binding writes outputs into the tensors given as fetches (found on the first run). */
  private writesIntoFetches: boolean | undefined;

  private constructor(
    private readonly backbone: DecoderBackbone,
    private readonly ort: OrtSyncBinding,
    private readonly graphs: DecoderTrainingGraphs,
    private readonly forwardSession: BindingSession,
    private readonly backwardSession: BindingSession,
  ) {
    this.variables = new Map(
      backbone.allVariables().map((variable) => [stableName(variable.name), variable]),
    );
  }

  /**
   * Why `backbone` cannot train on ONNX Runtime on the active backend, or null when it can.
   */
  static unsupportedReason(backbone: DecoderBackbone): string | null {
    if (tf.getBackend() !== "wasm")
      return `the ONNX Runtime training pass needs the wasm backend (active: ${tf.getBackend()})`;
    if (backbone.mode !== "full")
      return `the ONNX Runtime training pass trains every weight; this decoder's mode is '${backbone.mode}'`;
    if (backbone.allVariables().some((variable) => variable.name.includes(".lora_")))
      return "the ONNX Runtime training pass does not handle LoRA adapters";
    if (!(ONNX_EXPORTABLE_MODEL_TYPES as readonly string[]).includes(backbone.config.modelType))
      return `the ONNX Runtime training pass handles ${ONNX_EXPORTABLE_MODEL_TYPES.join(", ")} decoders, not '${backbone.config.modelType}'`;
    return null;
  }

  /**
   * Builds the two sessions for `backbone`.
   * @throws OnnxExportError when the decoder or backend is not supported (see `unsupportedReason`);
   *   MissingPeerDependencyError when onnxruntime-node cannot load.
   */
  static async create(
    backbone: DecoderBackbone,
    options: OnnxTrainerOptions = {},
  ): Promise<OnnxDecoderTrainer> {
    const reason = OnnxDecoderTrainer.unsupportedReason(backbone);
    if (reason !== null) throw new OnnxExportError("training pass", reason);
    const ort = await loadOrtSyncBinding("training on ONNX Runtime", options.importModule);
    const graphs = buildDecoderTrainingGraphs(backbone.config);
    const info = { opset: 17, irVersion: 8, producerName: "pqm", producerVersion: "0" };
    const sessionOptions = {
      threads: options.threads ?? 1,
      spinning: options.spinning ?? true,
      ...(options.profilePrefix === undefined ? {} : { profilePrefix: options.profilePrefix }),
    };
    const forwardSession = ort.createSession(graphs.forward.toModelBytes(info), sessionOptions);
    let backwardSession: BindingSession;
    try {
      backwardSession = ort.createSession(graphs.backward.toModelBytes(info), sessionOptions);
    } catch (error) {
      forwardSession.dispose();
      throw error;
    }
    const trainer = new OnnxDecoderTrainer(backbone, ort, graphs, forwardSession, backwardSession);
    trainer.profiling = options.profilePrefix !== undefined;
    for (const spec of graphs.weights) {
      const variable = trainer.variables.get(spec.name);
      if (variable === undefined || !tf.util.arraysEqual(variable.shape, spec.shape)) {
        trainer.dispose();
        throw new OnnxExportError(
          `weight '${spec.name}'`,
          variable === undefined
            ? "missing from the decoder"
            : `shaped [${variable.shape}], expected [${spec.shape}]`,
        );
      }
    }
    return trainer;
  }

  /** The weights' variables in the order `backward` returns their gradients. */
  get weightNames(): string[] {
    return this.graphs.weights.map((spec) => spec.name);
  }

  private get backend(): BackendWasm {
    return tf.backend() as BackendWasm;
  }

  /** The wasm heap as it is now (a heap that grows replaces its buffer: read it after allocating). */
  private heap(): ArrayBuffer | SharedArrayBuffer {
    const module = this.backend.wasm as unknown as WasmModule;
    return module.wasmMemory?.buffer ?? module.HEAPF32.buffer;
  }

  private view(heap: ArrayBuffer | SharedArrayBuffer, info: tf.TensorInfo): Float32Array {
    const offset = this.backend.dataIdMap.get(info.dataId).memoryOffset as number;
    return new Float32Array(heap, offset, tf.util.sizeFromShape(info.shape));
  }

  /** A float32 feed over `info`'s wasm memory (copied when the heap is shared, which the binding refuses). */
  private feed(heap: ArrayBuffer | SharedArrayBuffer, info: tf.TensorInfo): OrtTensor {
    const data = this.view(heap, info);
    const shared = typeof SharedArrayBuffer !== "undefined" && heap instanceof SharedArrayBuffer;
    return new this.ort.Tensor("float32", shared ? data.slice() : data, info.shape);
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error("OnnxDecoderTrainer: used after dispose()");
  }

  /** Runs `session`, writing float32 outputs named in `into` straight into those tensors' wasm memory. */
  private run(
    session: BindingSession,
    feeds: Record<string, OrtTensor>,
    into: Map<string, tf.TensorInfo>,
  ): void {
    const heap = this.heap();
    const shared = typeof SharedArrayBuffer !== "undefined" && heap instanceof SharedArrayBuffer;
    const fetches: Record<string, OrtTensor | null> = {};
    const targets = new Map<string, Float32Array>();
    for (const [name, info] of into) {
      const target = this.view(heap, info);
      targets.set(name, target);
      fetches[name] = shared ? null : new this.ort.Tensor("float32", target, info.shape);
    }
    // The binding writes into fetches given as tensors but returns copies of them. Whether it wrote is
    // checked once, on this trainer's first run (targets filled with NaN first, which a
    // target the binding did not write keeps): after that the
    // copies are ignored instead of being copied back, which on M saves moving 200 MB a step.
    const checking = this.writesIntoFetches === undefined && !shared;
    if (checking) for (const target of targets.values()) target.fill(Number.NaN);
    const result = session.run(feeds, fetches, {});
    let wrote = true;
    for (const [name, target] of targets) {
      const written = result[name];
      if (written === undefined) throw new Error(`ONNX Runtime returned no '${name}'`);
      if (shared || this.writesIntoFetches === false) target.set(written.data as Float32Array);
      else if (checking && !sameBits(target, written.data as Float32Array)) {
        wrote = false;
        target.set(written.data as Float32Array);
      }
    }
    if (checking) this.writesIntoFetches = wrote;
  }

  /**
   * The decoder's forward pass. Reads the ids (and positions and mask) on the host, as the wasm backend
   * allows synchronously.
   */
  forward(inputs: OnnxTrainerInputs): OnnxForwardPass {
    this.assertUsable();
    const { inputIds } = inputs;
    if (inputIds.rank !== 2) throw new Error(`inputIds must be [batch, seq], got [${inputIds.shape}]`);
    const [batch, seq] = inputIds.shape as [number, number];
    const dims: [number, number] = [batch, seq];
    const ids = toInt64(inputIds);
    const vocab = this.backbone.config.vocabSize;
    for (const id of ids) {
      if (id < 0n || id >= BigInt(vocab)) throw new Error(`inputIds must lie in [0, ${vocab}), got ${id}`);
    }
    const positions =
      inputs.positionIds !== undefined
        ? toInt64(inputs.positionIds)
        : BigInt64Array.from({ length: batch * seq }, (_, index) => BigInt(index % seq));
    const mask =
      inputs.attentionMask !== undefined
        ? toInt64(inputs.attentionMask)
        : new BigInt64Array(batch * seq).fill(1n);
    for (const [field, values] of [
      ["positionIds", positions],
      ["attentionMask", mask],
    ] as const) {
      if (values.length !== ids.length) throw new Error(`${field} must be [${dims}] like inputIds`);
    }
    const backend = this.backend;
    const hiddenSize = this.backbone.config.hiddenSize;
    const hidden = backend.makeOutput([batch, seq, hiddenSize], "float32");
    // The activations are written straight into wasm memory allocated here: left to the binding, each
    // would come back as a fresh, zero-filled JavaScript array and a copy (about 200 MB a step on M).
    const groupSize = this.backbone.config.numAttentionHeads / this.backbone.config.numKeyValueHeads;
    const outputs = new Map<string, tf.TensorInfo>([[TRAINING_IO_NAMES.hidden, hidden]]);
    try {
      for (const { name, dims: savedDims } of this.graphs.saved)
        outputs.set(name, backend.makeOutput(savedShape(savedDims, batch, seq, groupSize), "float32"));
      const heap = this.heap();
      const feeds: Record<string, OrtTensor> = {
        [TRAINING_IO_NAMES.inputIds]: new this.ort.Tensor("int64", ids, dims),
        [TRAINING_IO_NAMES.positionIds]: new this.ort.Tensor("int64", positions, dims),
        [TRAINING_IO_NAMES.attentionMask]: new this.ort.Tensor("int64", mask, dims),
      };
      for (const name of this.graphs.forwardWeights)
        feeds[name] = this.feed(heap, this.variables.get(name) as tf.Variable);
      this.run(this.forwardSession, feeds, outputs);
    } catch (error) {
      for (const info of outputs.values()) backend.disposeData(info.dataId);
      throw error;
    }
    const saved = new Map(outputs);
    saved.delete(TRAINING_IO_NAMES.hidden);
    const state: PassState = { feeds: { ids, positions, dims }, saved };
    return { hidden: tf.engine().makeTensorFromTensorInfo(hidden) as tf.Tensor3D, state };
  }

  /**
   * The gradient of every decoder weight, given the loss's gradient with respect to `pass.hidden`.
   * Releases the pass's saved activations (a pass goes backward once).
   * @returns new tensors keyed by weight name (the variable's name without its scope), which the caller disposes.
   */
  backward(pass: OnnxForwardPass, hiddenGradient: tf.Tensor): Map<string, tf.Tensor> {
    this.assertUsable();
    const state = pass.state as PassState;
    if (state.saved === null) throw new Error("OnnxDecoderTrainer.backward: this pass already went backward");
    const [batch, seq] = state.feeds.dims;
    const hiddenSize = this.backbone.config.hiddenSize;
    const expected = [batch, seq, hiddenSize];
    if (!tf.util.arraysEqual(hiddenGradient.shape, expected) || hiddenGradient.dtype !== "float32") {
      throw new Error(
        `hiddenGradient must be float32 [${expected}], got ${hiddenGradient.dtype} [${hiddenGradient.shape}]`,
      );
    }
    const saved = state.saved;
    state.saved = null;
    const backend = this.backend;
    const outputs = new Map<string, tf.TensorInfo>();
    try {
      for (const spec of this.graphs.weights)
        outputs.set(
          spec.name === EMBEDDING ? TRAINING_IO_NAMES.embeddedGradient : gradientName(spec.name),
          backend.makeOutput(spec.name === EMBEDDING ? [batch * seq, hiddenSize] : spec.shape, "float32"),
        );
      const heap = this.heap();
      const feeds: Record<string, OrtTensor> = {
        [TRAINING_IO_NAMES.inputIds]: new this.ort.Tensor("int64", state.feeds.ids, state.feeds.dims),
        [TRAINING_IO_NAMES.positionIds]: new this.ort.Tensor(
          "int64",
          state.feeds.positions,
          state.feeds.dims,
        ),
        [TRAINING_IO_NAMES.hiddenGradient]: this.feed(heap, hiddenGradient),
      };
      for (const name of this.graphs.backwardWeights)
        feeds[name] = this.feed(heap, this.variables.get(name) as tf.Variable);
      for (const [name, info] of saved) feeds[name] = this.feed(heap, info);
      this.run(this.backwardSession, feeds, outputs);
    } catch (error) {
      for (const info of outputs.values()) backend.disposeData(info.dataId);
      throw error;
    } finally {
      for (const info of saved.values()) backend.disposeData(info.dataId);
    }
    // The embedding's gradient: each token row's gradient added into its token's row, in token order.
    const rowGradients = outputs.get(TRAINING_IO_NAMES.embeddedGradient) as tf.TensorInfo;
    const embedding = backend.makeOutput([this.backbone.config.vocabSize, hiddenSize], "float32");
    const heap = this.heap();
    const table = this.view(heap, embedding).fill(0);
    const rows = this.view(heap, rowGradients);
    state.feeds.ids.forEach((id, token) => {
      const target = Number(id) * hiddenSize;
      const source = token * hiddenSize;
      for (let column = 0; column < hiddenSize; column++)
        table[target + column] = (table[target + column] as number) + (rows[source + column] as number);
    });
    backend.disposeData(rowGradients.dataId);
    const gradients = new Map<string, tf.Tensor>();
    for (const spec of this.graphs.weights) {
      const info =
        spec.name === EMBEDDING ? embedding : (outputs.get(gradientName(spec.name)) as tf.TensorInfo);
      gradients.set(spec.name, tf.engine().makeTensorFromTensorInfo(info));
    }
    return gradients;
  }

  /** Frees a pass's saved activations without going backward (e.g. after a failed loss). */
  discard(pass: OnnxForwardPass): void {
    const state = pass.state as PassState;
    if (state.saved === null) return;
    for (const info of state.saved.values()) this.backend.disposeData(info.dataId);
    state.saved = null;
  }

  /** Frees both sessions. Further calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.profiling) {
      this.forwardSession.endProfiling();
      this.backwardSession.endProfiling();
    }
    this.forwardSession.dispose();
    this.backwardSession.dispose();
  }
}
