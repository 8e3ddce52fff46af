import { LABEL_PAD } from "@pqm/core";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import type { DecoderBackbone } from "../backbone/decoder-backbone.js";
import { stableName } from "../prm/process-reward-model.js";
import { ONNX_EXPORTABLE_MODEL_TYPES } from "./decoder-onnx-graph.js";
import { OnnxExportError } from "./onnx-export-error.js";
import type { DecoderTrainingGraphs } from "./onnx-training-graph.js";
import {
  buildDecoderStepGraph,
  buildDecoderTrainingGraphs,
  EMBEDDING,
  gradientName,
  STEP_IO_NAMES,
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
  /**
   * Build one session for the whole step with the value head and the practical PQM loss (`pqm` of
   * @pqm/core) inside it, for `step` (then `forward` and `backward` are unavailable). One run instead of
   * two: the activations the backward reads never leave ONNX Runtime.
   */
  pqmLoss?: { zeta: number };
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

/** One step's inputs for {@link OnnxDecoderTrainer.step}. */
export interface OnnxStepInputs extends OnnxTrainerInputs {
  /** int32 `[batch, tags]`, each in `[0, seq)` (padded tags may hold any valid position). */
  tagPositions: tf.Tensor;
  /** `batch·tags` labels, row-major: 1 correct, 0 wrong, -100 padding. */
  labels: ArrayLike<number>;
  /** The value head: `weight` `[1, hidden]`, `bias` `[1]` (as ValueHead's). */
  head: { weight: tf.Tensor; bias: tf.Tensor };
  /**
   * The dropout multiplier of each tag's hidden state, `[batch·tags, hidden]` (as `tf.dropout` of ones
   * with the step's seed makes it). Default: no dropout.
   */
  dropoutScale?: tf.Tensor;
}

/** What {@link OnnxDecoderTrainer.step} returns; the caller disposes the tensors. */
export interface OnnxStepResult {
  /** The batch's PQM loss. */
  loss: tf.Scalar;
  /** The gradient of every decoder weight, keyed by weight name (as `backward`'s). */
  gradients: Map<string, tf.Tensor>;
  /** The value head's gradients, shaped like its weight and bias. */
  headGradients: { weight: tf.Tensor; bias: tf.Tensor };
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
    private readonly backwardSession: BindingSession | null,
    private readonly zeta: number | null,
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
    const zeta = options.pqmLoss?.zeta ?? null;
    if (zeta !== null && !(Number.isFinite(zeta) && zeta >= 0))
      throw new RangeError(`pqmLoss.zeta must be finite and >= 0, got ${zeta}`);
    const graphs =
      zeta === null ? buildDecoderTrainingGraphs(backbone.config) : buildDecoderStepGraph(backbone.config);
    const info = { opset: 17, irVersion: 8, producerName: "pqm", producerVersion: "0" };
    const sessionOptions = {
      threads: options.threads ?? 1,
      spinning: options.spinning ?? true,
      ...(options.profilePrefix === undefined ? {} : { profilePrefix: options.profilePrefix }),
    };
    const forwardSession = ort.createSession(graphs.forward.toModelBytes(info), sessionOptions);
    let backwardSession: BindingSession | null = null;
    try {
      if (zeta === null)
        backwardSession = ort.createSession(graphs.backward.toModelBytes(info), sessionOptions);
    } catch (error) {
      forwardSession.dispose();
      throw error;
    }
    const trainer = new OnnxDecoderTrainer(backbone, ort, graphs, forwardSession, backwardSession, zeta);
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

  /** The ids, positions and mask as int64, checked. */
  private tokens(inputs: OnnxTrainerInputs): {
    ids: BigInt64Array;
    positions: BigInt64Array;
    mask: BigInt64Array;
    dims: [number, number];
  } {
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
    return { ids, positions, mask, dims };
  }

  /**
   * The decoder's forward pass. Reads the ids (and positions and mask) on the host, as the wasm backend
   * allows synchronously.
   */
  forward(inputs: OnnxTrainerInputs): OnnxForwardPass {
    this.assertUsable();
    if (this.backwardSession === null)
      throw new Error("OnnxDecoderTrainer: this trainer was created with pqmLoss; use step()");
    const { ids, positions, mask, dims } = this.tokens(inputs);
    const [batch, seq] = dims;
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
    const backwardSession = this.backwardSession;
    if (backwardSession === null)
      throw new Error("OnnxDecoderTrainer: this trainer was created with pqmLoss; use step()");
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
      this.allocateGradients(outputs, batch * seq);
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
      this.run(backwardSession, feeds, outputs);
    } catch (error) {
      for (const info of outputs.values()) backend.disposeData(info.dataId);
      throw error;
    } finally {
      for (const info of saved.values()) backend.disposeData(info.dataId);
    }
    return this.weightGradients(outputs, state.feeds.ids);
  }

  /** Whether this trainer runs whole steps with the PQM loss in its graph (created with `pqmLoss`). */
  get lossInGraph(): boolean {
    return this.zeta !== null;
  }

  /**
   * One training step's loss and gradients in one ONNX Runtime run: the decoder's forward, the value
   * head at the step tags (with `dropoutScale`), the practical PQM loss, and the backward. Needs a trainer
   * created with `pqmLoss`. Reads the ids, positions, mask and tag positions on the host.
   * @throws Error naming the field for a bad shape, a tag outside the sequence or a label that is not
   *   1, 0 or -100.
   */
  step(inputs: OnnxStepInputs): OnnxStepResult {
    this.assertUsable();
    const zeta = this.zeta;
    if (zeta === null) throw new Error("OnnxDecoderTrainer.step needs a trainer created with pqmLoss");
    const { ids, positions, mask, dims } = this.tokens(inputs);
    const [batch, seq] = dims;
    const hiddenSize = this.backbone.config.hiddenSize;
    const { tagPositions, labels, head } = inputs;
    if (tagPositions.rank !== 2 || tagPositions.shape[0] !== batch)
      throw new Error(`tagPositions must be [${batch}, tags], got [${tagPositions.shape}]`);
    const tags = tagPositions.shape[1] as number;
    if (labels.length !== batch * tags)
      throw new Error(`labels must hold batch·tags = ${batch * tags} values, got ${labels.length}`);
    if (
      !tf.util.arraysEqual(head.weight.shape, [1, hiddenSize]) ||
      !tf.util.arraysEqual(head.bias.shape, [1])
    )
      throw new Error(
        `head must be weight [1, ${hiddenSize}] and bias [1], got [${head.weight.shape}] and [${head.bias.shape}]`,
      );
    const dropout = inputs.dropoutScale;
    if (dropout !== undefined && tf.util.sizeFromShape(dropout.shape) !== batch * tags * hiddenSize)
      throw new Error(`dropoutScale must be [${batch * tags}, ${hiddenSize}], got [${dropout.shape}]`);

    // The tag gather as a one-hot product (exact: every other term is a zero).
    const oneHot = new Float32Array(batch * tags * seq);
    const tagValues = tagPositions.dataSync();
    for (let index = 0; index < batch * tags; index++) {
      const position = tagValues[index] as number;
      if (!Number.isInteger(position) || position < 0 || position >= seq)
        throw new Error(`tagPositions must lie in [0, ${seq}), got ${position} at index ${index}`);
      oneHot[index * seq + position] = 1;
    }
    const loss = pqmLossInputs(labels, batch, tags, zeta);

    const backend = this.backend;
    const outputs = new Map<string, tf.TensorInfo>();
    try {
      this.allocateGradients(outputs, batch * seq);
      outputs.set(gradientName(STEP_IO_NAMES.headWeight), backend.makeOutput([1, hiddenSize], "float32"));
      outputs.set(gradientName(STEP_IO_NAMES.headBias), backend.makeOutput([1], "float32"));
      outputs.set(STEP_IO_NAMES.loss, backend.makeOutput([1], "float32"));
      const heap = this.heap();
      const float = (data: Float32Array, shape: number[]) => new this.ort.Tensor("float32", data, shape);
      const feeds: Record<string, OrtTensor> = {
        [TRAINING_IO_NAMES.inputIds]: new this.ort.Tensor("int64", ids, dims),
        [TRAINING_IO_NAMES.positionIds]: new this.ort.Tensor("int64", positions, dims),
        [TRAINING_IO_NAMES.attentionMask]: new this.ort.Tensor("int64", mask, dims),
        [STEP_IO_NAMES.tagOneHot]: float(oneHot, [batch, tags, seq]),
        [STEP_IO_NAMES.dropoutScale]:
          dropout === undefined
            ? float(new Float32Array(batch * tags * hiddenSize).fill(1), [batch, tags, hiddenSize])
            : new this.ort.Tensor("float32", this.feed(heap, dropout).data as Float32Array, [
                batch,
                tags,
                hiddenSize,
              ]),
        [STEP_IO_NAMES.valid]: float(loss.valid, [batch, tags]),
        [STEP_IO_NAMES.correct]: float(loss.correct, [batch, tags]),
        [STEP_IO_NAMES.shift]: float(loss.shift, [batch, tags]),
        [STEP_IO_NAMES.include]: float(loss.include, [batch, tags, tags]),
        [STEP_IO_NAMES.wrongMask]: float(loss.wrongMask, [batch, tags]),
        [STEP_IO_NAMES.hasWrong]: float(loss.hasWrong, [batch, 1]),
        [STEP_IO_NAMES.rowScale]: float(loss.rowScale, [batch, 1]),
        [STEP_IO_NAMES.headWeight]: this.feed(heap, head.weight),
        [STEP_IO_NAMES.headBias]: this.feed(heap, head.bias),
      };
      for (const name of this.graphs.forwardWeights)
        feeds[name] = this.feed(heap, this.variables.get(name) as tf.Variable);
      this.run(this.forwardSession, feeds, outputs);
    } catch (error) {
      for (const info of outputs.values()) backend.disposeData(info.dataId);
      throw error;
    }
    const gradients = this.weightGradients(outputs, ids);
    const tensor = (info: tf.TensorInfo) => tf.engine().makeTensorFromTensorInfo(info);
    const lossTensor = tensor(outputs.get(STEP_IO_NAMES.loss) as tf.TensorInfo);
    const value = tf.reshape(lossTensor, []) as tf.Scalar;
    lossTensor.dispose();
    return {
      loss: value,
      gradients,
      headGradients: {
        weight: tensor(outputs.get(gradientName(STEP_IO_NAMES.headWeight)) as tf.TensorInfo),
        bias: tensor(outputs.get(gradientName(STEP_IO_NAMES.headBias)) as tf.TensorInfo),
      },
    };
  }

  /**
   * Allocates, under their output names, a wasm tensor for every weight's gradient (the embedding's as
   * `rows` token rows, scattered afterwards by `weightGradients`).
   */
  private allocateGradients(outputs: Map<string, tf.TensorInfo>, rows: number): void {
    const hiddenSize = this.backbone.config.hiddenSize;
    for (const spec of this.graphs.weights)
      outputs.set(
        spec.name === EMBEDDING ? TRAINING_IO_NAMES.embeddedGradient : gradientName(spec.name),
        this.backend.makeOutput(spec.name === EMBEDDING ? [rows, hiddenSize] : spec.shape, "float32"),
      );
  }

  /** The weights' gradients a run wrote into `outputs`, as tensors keyed by weight name (the embedding's scattered). */
  private weightGradients(outputs: Map<string, tf.TensorInfo>, ids: BigInt64Array): Map<string, tf.Tensor> {
    const embedding = this.scatterEmbedding(
      outputs.get(TRAINING_IO_NAMES.embeddedGradient) as tf.TensorInfo,
      ids,
    );
    const gradients = new Map<string, tf.Tensor>();
    for (const spec of this.graphs.weights) {
      const info =
        spec.name === EMBEDDING ? embedding : (outputs.get(gradientName(spec.name)) as tf.TensorInfo);
      gradients.set(spec.name, tf.engine().makeTensorFromTensorInfo(info));
    }
    return gradients;
  }

  /**
   * The embedding's gradient: each token row's gradient added into its token's row, in token order (on
   * the host: ONNX Runtime's ScatterND with reduction "add" races on repeated ids). Frees `rowGradients`.
   */
  private scatterEmbedding(rowGradients: tf.TensorInfo, ids: BigInt64Array): tf.TensorInfo {
    const backend = this.backend;
    const hiddenSize = this.backbone.config.hiddenSize;
    const embedding = backend.makeOutput([this.backbone.config.vocabSize, hiddenSize], "float32");
    const heap = this.heap();
    const table = this.view(heap, embedding).fill(0);
    const rows = this.view(heap, rowGradients);
    ids.forEach((id, token) => {
      const target = Number(id) * hiddenSize;
      const source = token * hiddenSize;
      for (let column = 0; column < hiddenSize; column++)
        table[target + column] = (table[target + column] as number) + (rows[source + column] as number);
    });
    backend.disposeData(rowGradients.dataId);
    return embedding;
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
      this.backwardSession?.endProfiling();
    }
    this.forwardSession.dispose();
    this.backwardSession?.dispose();
  }
}

/** −∞ for the loss's log-sum-exp masks: far below any score, and finite (no NaN from −∞ − −∞). */
const EXCLUDED = -1e9;

/**
 * The step graph's loss inputs for `labels` (row-major `[batch, tags]`): which tags count, the wrong
 * steps' shift zeta, each correct step's denominator set (itself, the earlier correct steps, every wrong
 * step) as an additive mask, and each row's weight in the batch mean (see STEP_IO_NAMES).
 */
function pqmLossInputs(labels: ArrayLike<number>, batch: number, tags: number, zeta: number) {
  const valid = new Float32Array(batch * tags);
  const correct = new Float32Array(batch * tags);
  const shift = new Float32Array(batch * tags);
  const wrongMask = new Float32Array(batch * tags).fill(EXCLUDED);
  const include = new Float32Array(batch * tags * tags).fill(EXCLUDED);
  const hasWrong = new Float32Array(batch);
  const rowScale = new Float32Array(batch);
  const terms = new Float64Array(batch);
  let validRows = 0;
  for (let row = 0; row < batch; row++) {
    let rowValid = false;
    for (let tag = 0; tag < tags; tag++) {
      const index = row * tags + tag;
      const label = labels[index];
      if (label === LABEL_PAD) continue;
      if (label !== 0 && label !== 1)
        throw new Error(
          `labels[${index}] = ${label}: the PQM loss takes 1 (correct), 0 (wrong) or ${LABEL_PAD} (padding)`,
        );
      rowValid = true;
      valid[index] = 1;
      if (label === 1) {
        correct[index] = 1;
        terms[row] = (terms[row] as number) + 1;
      } else {
        shift[index] = zeta;
        wrongMask[index] = 0;
        hasWrong[row] = 1;
      }
    }
    if (hasWrong[row] === 1) terms[row] = (terms[row] as number) + 1;
    if (rowValid) validRows++;
    for (let t = 0; t < tags; t++) {
      for (let s = 0; s < tags; s++) {
        const label = labels[row * tags + s];
        if (s === t || label === 0 || (label === 1 && s < t)) include[(row * tags + t) * tags + s] = 0;
      }
    }
    rowScale[row] = rowValid ? 1 : 0;
  }
  for (let row = 0; row < batch; row++)
    rowScale[row] = (rowScale[row] as number) / (Math.max(validRows, 1) * Math.max(terms[row] as number, 1));
  return { valid, correct, shift, wrongMask, include, hasWrong, rowScale };
}
