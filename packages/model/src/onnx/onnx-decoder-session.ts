import { basename } from "node:path";
import { MissingPeerDependencyError } from "../optional-peers.js";
import { ONNX_IO_NAMES } from "./decoder-onnx-graph.js";
import { OnnxExportError } from "./onnx-export-error.js";

// The part of onnxruntime-node (an optional peer dependency) this file uses, typed here so that neither
// this package's declarations nor its build need onnxruntime-node's types.

interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}

interface OrtSessionOptions {
  executionProviders: string[];
  graphOptimizationLevel: "all";
  executionMode: "sequential";
  intraOpNumThreads: number;
  interOpNumThreads: number;
  extra: Record<string, unknown>;
}

interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>, fetches: string[]): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

interface OrtModule {
  Tensor: new (type: "int64", data: BigInt64Array, dims: readonly number[]) => OrtTensor;
  InferenceSession: {
    create(model: string | Uint8Array, options: OrtSessionOptions): Promise<OrtSession>;
  };
}

let pending: Promise<OrtModule> | undefined;

/**
 * Imports `onnxruntime-node` on first use and caches it: loading its native binding costs start-up time
 * that users of the TF.js path should not pay, and it is an optional peer dependency.
 * @throws MissingPeerDependencyError naming the install command when the package is missing.
 */
function importOnnxRuntime(): Promise<OrtModule> {
  pending ??= (import("onnxruntime-node") as Promise<unknown> as Promise<OrtModule>).catch(
    (cause: unknown) => {
      pending = undefined;
      throw new MissingPeerDependencyError("onnxruntime-node", "ONNX scoring", { cause });
    },
  );
  return pending;
}

/** What to add to ONNX Runtime's message when a model's external data could not be read. */
function externalDataHint(model: string | Uint8Array, cause: unknown): string {
  if (!/external data/i.test(String(cause))) return "";
  return typeof model === "string"
    ? `. The weights of this model are in a separate file (ONNX external data, written by the export for models past 2 GiB or with externalData: true): keep ${basename(model)}.data beside ${basename(model)}`
    : ". A model whose weights are in a separate file (ONNX external data) must be opened from its file path, not from bytes: ONNX Runtime finds the data file beside the model file";
}

/** Options of {@link OnnxDecoderSession.open}. */
export interface OnnxSessionOptions {
  /** ONNX Runtime's intra-op threads (default 1; 2 uses both cores of a small machine). */
  threads?: number;
  /**
   * Let idle intra-op threads spin-wait for work (ONNX Runtime's default, true): lowest latency on an idle
   * machine; false yields the core instead, which helps when other processes compete for the cores.
   */
  spinning?: boolean;
}

/** One float32 output of a run: flat row-major data and its shape. */
export interface OnnxOutput {
  data: Float32Array;
  dims: number[];
}

/** The output names of an exported decoder (`hidden_states`, `values`, `logits`). */
export type DecoderOutputName = (typeof ONNX_IO_NAMES)["hiddenStates" | "values" | "logits"];

/** A padded token batch, row-major `[batch, sequence]`. */
export interface TokenBatch {
  batch: number;
  sequence: number;
  inputIds: ArrayLike<number>;
  /** 1 real, 0 padding. */
  attentionMask: ArrayLike<number>;
}

function toInt64(values: ArrayLike<number>): BigInt64Array {
  const out = new BigInt64Array(values.length);
  for (let index = 0; index < values.length; index++) out[index] = BigInt(values[index] as number);
  return out;
}

/**
 * An ONNX Runtime CPU session over an exported decoder (see `exportBackboneToOnnx` /
 * `exportPrmToOnnx`), with the graph optimizations on and a fixed number of intra-op threads. Takes
 * `[batch, sequence]` token batches and returns the requested float32 outputs.
 */
export class OnnxDecoderSession {
  private released = false;

  private constructor(
    private readonly runtime: OrtModule,
    private readonly session: OrtSession,
    /** Where the model came from (a path, or `<memory>`), for messages. */
    readonly source: string,
    /** Intra-op threads. */
    readonly threads: number,
  ) {}

  /**
   * Opens an exported file (a path) or its bytes. A model exported with external data (`<file>.data`
   * beside it, see `exportPrmToOnnx`) must be opened by path: ONNX Runtime reads the data file from the
   * model file's folder.
   * @throws OnnxExportError naming the source when ONNX Runtime rejects the model or it lacks the
   *   `input_ids` / `attention_mask` inputs; MissingPeerDependencyError when onnxruntime-node is not
   *   installed.
   */
  static async open(
    model: string | Uint8Array,
    options: OnnxSessionOptions = {},
  ): Promise<OnnxDecoderSession> {
    const runtime = await importOnnxRuntime();
    const threads = options.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1) {
      throw new OnnxExportError("threads", `must be a positive integer, got ${threads}`);
    }
    const source = typeof model === "string" ? model : "<memory>";
    const sessionOptions: OrtSessionOptions = {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      extra: { session: { intra_op: { allow_spinning: options.spinning === false ? "0" : "1" } } },
    };
    let session: OrtSession;
    try {
      session = await runtime.InferenceSession.create(model, sessionOptions);
    } catch (cause) {
      throw new OnnxExportError(
        source,
        `ONNX Runtime cannot load the model: ${String(cause)}${externalDataHint(model, cause)}`,
        { cause },
      );
    }
    for (const name of [ONNX_IO_NAMES.inputIds, ONNX_IO_NAMES.attentionMask]) {
      if (!session.inputNames.includes(name)) {
        await session.release();
        throw new OnnxExportError(
          source,
          `not an exported decoder: no input '${name}' (inputs: ${session.inputNames.join(", ")})`,
        );
      }
    }
    return new OnnxDecoderSession(runtime, session, source, threads);
  }

  /** The graph's output names. */
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Whether the graph has the output `name`. */
  hasOutput(name: DecoderOutputName): boolean {
    return this.session.outputNames.includes(name);
  }

  /**
   * Runs one padded batch and returns the requested outputs (only those are computed past what they share).
   * @throws OnnxExportError when an output is missing from the graph, the batch's arrays have the wrong
   *   size, or ONNX Runtime fails (e.g. a token id outside the vocabulary).
   */
  async run<Name extends DecoderOutputName>(
    batch: TokenBatch,
    outputs: readonly Name[],
  ): Promise<Record<Name, OnnxOutput>> {
    if (this.released) throw new OnnxExportError(this.source, "session used after release()");
    for (const name of outputs) {
      if (!this.hasOutput(name)) {
        throw new OnnxExportError(
          this.source,
          `the graph has no output '${name}' (outputs: ${this.outputNames.join(", ")})`,
        );
      }
    }
    const size = batch.batch * batch.sequence;
    if (batch.inputIds.length !== size || batch.attentionMask.length !== size) {
      throw new OnnxExportError(
        this.source,
        `input_ids and attention_mask must hold batch x sequence = ${size} values, got ${batch.inputIds.length} and ${batch.attentionMask.length}`,
      );
    }
    const dims = [batch.batch, batch.sequence];
    const feeds = {
      [ONNX_IO_NAMES.inputIds]: new this.runtime.Tensor("int64", toInt64(batch.inputIds), dims),
      [ONNX_IO_NAMES.attentionMask]: new this.runtime.Tensor("int64", toInt64(batch.attentionMask), dims),
    };
    let results: Record<string, OrtTensor>;
    try {
      results = await this.session.run(feeds, [...outputs]);
    } catch (cause) {
      throw new OnnxExportError(
        this.source,
        `ONNX Runtime failed on a [${dims.join(", ")}] batch: ${String(cause)}`,
        {
          cause,
        },
      );
    }
    const out = {} as Record<Name, OnnxOutput>;
    for (const name of outputs) {
      const tensor = results[name] as OrtTensor;
      out[name] = { data: tensor.data as Float32Array, dims: [...tensor.dims] };
    }
    return out;
  }

  /** Frees the native session. Further runs throw. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}
