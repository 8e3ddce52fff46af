import type { LabeledTrajectory, Trajectory } from "@pqm/core";
import type { PrmTokenizer } from "./prm-tokenizer.js";
import type { PromptTemplate, StepFormat, TemplateLayout } from "./prompt-templates.js";
import { renderPrompt, resolvePromptTemplate } from "./prompt-templates.js";
import type { StepTag } from "./step-tag.js";
import { EncodingMismatchError } from "./tokenizer-errors.js";

/** What to do with a row longer than `maxLength` tokens. */
export type OverflowPolicy = "truncate-question" | "drop";

/** Options of {@link TrajectoryEncoder}. */
export interface TrajectoryEncoderOptions {
  /** The step tag (from `addStepTagToken` or `useExistingStepTag`). */
  stepTag: StepTag;
  /** Template name or template; default `pqm-alpaca` (the reference's). */
  template?: string | PromptTemplate;
  /** Put the BOS token first (default false, as the reference). */
  addBos?: boolean;
  /** Longest row in tokens; longer rows follow `overflow`. Default: no limit. */
  maxLength?: number;
  /**
   * `truncate-question` (default): drop tokens from the start of the question, keeping its last tokens
   * and every step; a row whose steps alone do not fit is dropped. `drop`: drop every row that is too long.
   */
  overflow?: OverflowPolicy;
  /** The spec a model was trained with: the constructor throws {@link EncodingMismatchError} when this one differs. */
  expectSpec?: EncodingSpec;
}

/** One trajectory as token ids, with the positions of its step tags. */
export interface EncodedRow {
  /** Index of the trajectory in the input list. */
  sourceIndex: number;
  /** Token ids `[length]`. */
  inputIds: Int32Array;
  /** Position in `inputIds` of each step's tag `[steps]`, ascending; found from ids, never from text offsets. */
  tagPositions: Int32Array;
  /** Hard labels (0/1) per step, or null for an unlabeled trajectory. */
  hardLabels: readonly number[] | null;
  /** Soft labels in [0, 1] per step, or null when the trajectory has none. */
  softLabels: readonly number[] | null;
  /** Question tokens removed to fit `maxLength` (0 when none). */
  truncatedTokens: number;
}

/** Why a trajectory was not encoded. */
export type RejectionReason =
  | "no-steps"
  | "label-count"
  | "tag-in-question"
  | "tag-in-step"
  | "tag-count"
  | "too-long";

/** A trajectory that was not encoded, with the reason in words. */
export interface RowRejection {
  sourceIndex: number;
  reason: RejectionReason;
  message: string;
}

/** Result of encoding one trajectory. */
export type EncodeOutcome = { ok: true; row: EncodedRow } | { ok: false; rejection: RowRejection };

/** Result of encoding a list of trajectories: what was kept, what was rejected and why, what was cut. */
export interface EncodeSummary {
  rows: EncodedRow[];
  rejected: RowRejection[];
  /** Rows kept after removing question tokens. */
  truncatedRows: number;
  /** Rejections per reason (`too-long` counts the rows dropped for length). */
  rejectedByReason: Record<RejectionReason, number>;
}

/**
 * Everything that must be the same at training and at evaluation for the tag positions and the
 * prompt to mean the same thing. JSON-serializable; store it with the checkpoint.
 */
export interface EncodingSpec {
  version: 1;
  template: { name: string; layout: TemplateLayout; stepFormat: StepFormat };
  stepTag: StepTag;
  addBos: boolean;
  /** The tokenizer's vocabulary size when the spec was made (a different tokenizer shows here). */
  vocabSize: number;
}

/**
 * Throws {@link EncodingMismatchError} listing every difference between the spec a model was trained
 * with and the current one: template name, its fixed text and step format, step tag, BOS, vocabulary size.
 */
export function checkEncodingSpec(saved: EncodingSpec, current: EncodingSpec): void {
  const differences: string[] = [];
  const compare = (field: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b))
      differences.push(`${field}: ${JSON.stringify(a)} -> ${JSON.stringify(b)}`);
  };
  compare("template.name", saved.template.name, current.template.name);
  compare("template.layout", saved.template.layout, current.template.layout);
  compare("template.stepFormat", saved.template.stepFormat, current.template.stepFormat);
  compare("stepTag.text", saved.stepTag.text, current.stepTag.text);
  compare("stepTag.id", saved.stepTag.id, current.stepTag.id);
  compare("stepTag.mode", saved.stepTag.mode, current.stepTag.mode);
  compare("addBos", saved.addBos, current.addBos);
  compare("vocabSize", saved.vocabSize, current.vocabSize);
  if (differences.length > 0) throw new EncodingMismatchError(differences);
}

/**
 * Turns trajectories into token ids with the step tag after every step, following a named prompt
 * template. The whole text is tokenized at once (as the model will read it) and the tags are then
 * found by id; a row is rejected, with the reason, when the number of tags found differs from the
 * number of steps. Truncation never drops a tag silently: see {@link TrajectoryEncoderOptions.overflow}.
 */
export class TrajectoryEncoder {
  readonly tokenizer: PrmTokenizer;
  readonly template: PromptTemplate;
  readonly stepTag: StepTag;
  readonly addBos: boolean;
  readonly maxLength: number | undefined;
  readonly overflow: OverflowPolicy;
  private readonly layout: TemplateLayout;

  /** Throws when the template's fixed text contains the tag, when `maxLength` is not a positive integer, or on a spec mismatch. */
  constructor(tokenizer: PrmTokenizer, options: TrajectoryEncoderOptions) {
    this.tokenizer = tokenizer;
    this.template = resolvePromptTemplate(options.template ?? "pqm-alpaca");
    this.stepTag = { ...options.stepTag };
    this.addBos = options.addBos ?? false;
    this.maxLength = options.maxLength;
    this.overflow = options.overflow ?? "truncate-question";
    if (this.maxLength !== undefined && (!Number.isInteger(this.maxLength) || this.maxLength < 1)) {
      throw new RangeError(`maxLength ${this.maxLength} must be a positive integer`);
    }
    this.layout = this.template.layout(tokenizer);
    for (const [part, text] of Object.entries(this.layout)) {
      if (text.includes(this.stepTag.text)) {
        throw new Error(
          `template ${this.template.name}: its ${part} text contains the step tag ${JSON.stringify(this.stepTag.text)}`,
        );
      }
    }
    if (options.expectSpec !== undefined) checkEncodingSpec(options.expectSpec, this.spec);
  }

  /** The spec of this encoder, to store with a model and compare at evaluation. */
  get spec(): EncodingSpec {
    return {
      version: 1,
      template: {
        name: this.template.name,
        layout: { ...this.layout },
        stepFormat: { ...this.template.stepFormat },
      },
      stepTag: { text: this.stepTag.text, id: this.stepTag.id, mode: this.stepTag.mode },
      addBos: this.addBos,
      vocabSize: this.tokenizer.vocabSize,
    };
  }

  /** The text the model reads for a trajectory (before tokenization). */
  render(trajectory: Trajectory): string {
    return renderPrompt(
      this.layout,
      this.template.stepFormat,
      trajectory.question.text,
      trajectory.steps,
      this.stepTag.text,
    ).text;
  }

  /** Encodes one trajectory (labeled or not); never throws for bad rows, it returns the rejection. */
  encode(trajectory: Trajectory | LabeledTrajectory, sourceIndex = 0): EncodeOutcome {
    const reject = (reason: RejectionReason, message: string): EncodeOutcome => ({
      ok: false,
      rejection: { sourceIndex, reason, message },
    });
    const { steps } = trajectory;
    const tag = this.stepTag.text;
    if (steps.length === 0) return reject("no-steps", "the trajectory has no steps");
    const hardLabels = "hardLabels" in trajectory ? trajectory.hardLabels : null;
    const softLabels =
      "softLabels" in trajectory && trajectory.softLabels !== undefined ? trajectory.softLabels : null;
    if (hardLabels !== null && hardLabels.length !== steps.length) {
      return reject("label-count", `${hardLabels.length} hard labels for ${steps.length} steps`);
    }
    if (softLabels !== null && softLabels.length !== steps.length) {
      return reject("label-count", `${softLabels.length} soft labels for ${steps.length} steps`);
    }
    if (trajectory.question.text.includes(tag)) {
      return reject("tag-in-question", `the question contains the step tag text ${JSON.stringify(tag)}`);
    }
    const stepWithTag = steps.findIndex((step: string) => step.includes(tag));
    if (stepWithTag >= 0) {
      return reject(
        "tag-in-step",
        `step ${stepWithTag + 1} contains the step tag text ${JSON.stringify(tag)}`,
      );
    }

    const rendered = renderPrompt(
      this.layout,
      this.template.stepFormat,
      trajectory.question.text,
      steps,
      tag,
    );
    let ids = this.tokenizer.encode(rendered.text);
    let positions = this.findTags(ids);
    if (positions.length !== steps.length) {
      return reject(
        "tag-count",
        `found ${positions.length} step tags (id ${this.stepTag.id}) in the token ids for ${steps.length} steps: ` +
          "the tag text merged with the text around it",
      );
    }

    const bos = this.addBos ? this.tokenizer.bosTokenId : null;
    const extra = bos === null ? 0 : 1;
    let truncatedTokens = 0;
    if (this.maxLength !== undefined && ids.length + extra > this.maxLength) {
      const excess = ids.length + extra - this.maxLength;
      if (this.overflow === "drop") {
        return reject(
          "too-long",
          `${ids.length + extra} tokens > maxLength ${this.maxLength} (overflow: drop)`,
        );
      }
      const [questionStart, questionEnd] = this.questionTokenRange(
        rendered.text,
        rendered,
        ids,
        positions[0]!,
      );
      const available = questionEnd - questionStart;
      if (excess > available) {
        return reject(
          "too-long",
          `${ids.length + extra} tokens > maxLength ${this.maxLength}, and the question has only ${available} ` +
            `tokens to give (${excess} needed): the steps alone do not fit`,
        );
      }
      ids = [...ids.slice(0, questionStart), ...ids.slice(questionStart + excess)];
      positions = this.findTags(ids);
      truncatedTokens = excess;
      if (positions.length !== steps.length) {
        // Unreachable when the question range is right; kept so a tag can never vanish unnoticed.
        return reject("tag-count", `truncation left ${positions.length} tags for ${steps.length} steps`);
      }
    }
    if (bos !== null) {
      ids = [bos, ...ids];
      positions = positions.map((position) => position + 1);
    }
    return {
      ok: true,
      row: {
        sourceIndex,
        inputIds: Int32Array.from(ids),
        tagPositions: Int32Array.from(positions),
        hardLabels: hardLabels === null ? null : [...hardLabels],
        softLabels: softLabels === null ? null : [...softLabels],
        truncatedTokens,
      },
    };
  }

  /** Encodes a list; rejected rows are listed with reasons and counted, never silently lost. */
  encodeAll(trajectories: Iterable<Trajectory | LabeledTrajectory>): EncodeSummary {
    const summary: EncodeSummary = {
      rows: [],
      rejected: [],
      truncatedRows: 0,
      rejectedByReason: {
        "no-steps": 0,
        "label-count": 0,
        "tag-in-question": 0,
        "tag-in-step": 0,
        "tag-count": 0,
        "too-long": 0,
      },
    };
    let index = 0;
    for (const trajectory of trajectories) {
      const outcome = this.encode(trajectory, index++);
      if (outcome.ok) {
        summary.rows.push(outcome.row);
        if (outcome.row.truncatedTokens > 0) summary.truncatedRows++;
      } else {
        summary.rejected.push(outcome.rejection);
        summary.rejectedByReason[outcome.rejection.reason]++;
      }
    }
    return summary;
  }

  private findTags(ids: readonly number[]): number[] {
    const positions: number[] = [];
    ids.forEach((id, position) => {
      if (id === this.stepTag.id) positions.push(position);
    });
    return positions;
  }

  /**
   * Token range `[start, end)` of the question inside `ids`: the tokens of the text before the question
   * and of the text up to its end are found as common prefixes of `ids`, so a token that straddles a
   * boundary counts on the question's side only at the start. Never reaches the first tag.
   */
  private questionTokenRange(
    text: string,
    rendered: { questionStart: number; questionEnd: number },
    ids: readonly number[],
    firstTag: number,
  ): [number, number] {
    const start = commonPrefixLength(this.tokenizer.encode(text.slice(0, rendered.questionStart)), ids);
    const end = commonPrefixLength(this.tokenizer.encode(text.slice(0, rendered.questionEnd)), ids);
    return [start, Math.max(start, Math.min(end, firstTag))];
  }
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  let length = 0;
  while (length < a.length && length < b.length && a[length] === b[length]) length++;
  return length;
}
