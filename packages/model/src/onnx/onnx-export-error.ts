/**
 * A model that cannot be exported to ONNX, or an exported file that cannot be used: an unsupported
 * `model_type`, a graph without the output a caller needs, weights above protobuf's 2 GiB limit. The
 * message starts with what is concerned (the model type, the file) so it alone says what to fix.
 */
export class OnnxExportError extends Error {
  /** What the problem concerns: a model type, a file path, an option name. */
  readonly subject: string;

  constructor(subject: string, reason: string, options?: { cause?: unknown }) {
    super(`${subject}: ${reason}`, options);
    this.name = "OnnxExportError";
    this.subject = subject;
  }
}
