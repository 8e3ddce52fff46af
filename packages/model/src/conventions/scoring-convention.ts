/**
 * The scoring conventions of published process reward models: how each family formats a solution's
 * steps, where it reads a score, and what that score means. Every convention turns a solution into one
 * log-odds value per step of the candidate (sigmoid = the probability that the step is correct).
 */

/** The names of the conventions, as `--convention` takes them. */
export const scoringConventionNames = [
  "pqm-release",
  "qwen2.5-math-prm",
  "math-shepherd",
  "skywork-prm",
  "rlhflow-prm",
  "trl-value-head",
  "trl-token-classification",
  "pqm-export",
] as const;

/** One of {@link scoringConventionNames}. */
export type ScoringConventionName = (typeof scoringConventionNames)[number];

/**
 * How a vLLM STEP-pooling row (probabilities) maps to log-odds:
 * - `two-class`: the row is `[p0, p1]` (a two-label head after softmax): `log p1 − log p0`;
 * - `token-pair`: the row holds the probabilities of the returned token ids `[positive, negative]`:
 *   `log p+ − log p−`;
 * - `single`: the row is `[p]` (a one-output head after sigmoid): `log p − log(1 − p)`.
 */
export type PoolingReadout = "two-class" | "token-pair" | "single";

/** Options of {@link ScoringConvention.renderText}. */
export interface RenderTextOptions {
  /**
   * The BOS token's text, for conventions that write it into the text (`skywork-prm`). Default: the
   * family's published one (Qwen2.5's `<|endoftext|>`).
   */
  bosToken?: string;
  /** The step separator of the TRL conventions (default `"\n"`). */
  stepSeparator?: string;
}

/** A published PRM family's scoring convention (see the package README's table). */
export interface ScoringConvention {
  readonly name: ScoringConventionName;
  /** One line: the family, its input layout and what is read. */
  readonly description: string;
  /**
   * The text a server that tokenizes for itself (vLLM /pooling) must receive: special tokens written as
   * text, the step tag after each step. For families formatted with a chat template this is the
   * published template's output written out; the in-process scorers render the folder's own template.
   */
  renderText(question: string, steps: readonly string[], options?: RenderTextOptions): string;
  /** The step tag as text, or null where the convention reads another position. */
  readonly stepTag: string | null;
  /**
   * How a vLLM STEP-pooling row (probabilities) maps to log-odds, or null when vLLM's pooling runner
   * cannot serve this family.
   */
  readonly poolingReadout: PoolingReadout | null;
  /**
   * Added to the log-odds read from every pooling row (default 0): the score bias a served model leaves
   * out (`pqm-export` with target `vllm`, whose bias lives in `pqm_export.json`).
   */
  readonly poolingLogOddsOffset?: number;
  /**
   * The `add_special_tokens` a server must be sent for `renderText`'s text to tokenize to the ids the
   * convention scores (`pqm-export`: false, the BOS is in the text when the export puts one first);
   * undefined: the server's default.
   */
  readonly poolingAddSpecialTokens?: boolean;
  /** The Hugging Face model classes (config.json `architectures`) this family is published with. */
  readonly architectures: readonly string[];
  /** Whether loading needs a separate backbone folder (`--backbone`): only `pqm-release`. */
  readonly needsBackbone: boolean;
}

/** Whether `name` is one of {@link scoringConventionNames}. */
export function isScoringConventionName(name: string): name is ScoringConventionName {
  return (scoringConventionNames as readonly string[]).includes(name);
}
