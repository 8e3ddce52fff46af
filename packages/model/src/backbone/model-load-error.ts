/**
 * A checkpoint that cannot be loaded: a bad `config.json` field, a missing or misshapen tensor, a
 * corrupt safetensors header. The message starts with the file (and field or tensor name) so it
 * alone tells a user what to fix: `model.safetensors: tensor 'lm_head.weight': expected shape
 * [256, 64], got [64, 256]`.
 *
 * Kept local to @pqm/model rather than reusing @pqm/data's `DataFormatError`, because a checkpoint
 * has no line numbers and because the backbone must import without the data package's areas.
 */
export class ModelLoadError extends Error {
  /** The file the problem is in. */
  readonly file: string;
  /** The config field or tensor name, when the problem concerns one. */
  readonly field: string | undefined;
  /** The problem without the location prefix. */
  readonly reason: string;

  constructor(file: string, field: string | undefined, reason: string, options?: { cause?: unknown }) {
    super(`${file}${field === undefined ? "" : `: '${field}'`}: ${reason}`, options);
    this.name = "ModelLoadError";
    this.file = file;
    this.field = field;
    this.reason = reason;
  }
}
