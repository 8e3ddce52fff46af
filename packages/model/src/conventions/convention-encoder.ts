import type { ChatMessage, PrmTokenizer } from "../tokenizer/prm-tokenizer.js";
import { DEFAULT_STEP_FORMAT } from "../tokenizer/prompt-templates.js";
import { TrajectoryEncoder } from "../tokenizer/trajectory-encoder.js";
import type { ConventionEncoding } from "./anchored-encoding.js";
import { ConventionEncodingError, encodeAnchored, encodePiecewise } from "./anchored-encoding.js";
import {
  alpacaLayout,
  MATH_SHEPHERD_STEP_TAG,
  NEWLINE_SEPARATOR,
  PQM_RELEASE_STEP_TAG,
  QWEN_PRM_STEP_TAG,
  qwenPrmMessages,
  RLHFLOW_NEGATIVE,
  RLHFLOW_POSITIVE,
  renderChatMl,
  renderLlama31Chat,
  rlhflowMessages,
} from "./convention-catalog.js";
import type { PqmExportFormat } from "./pqm-export.js";
import { pqmExportTemplate } from "./pqm-export.js";
import type { ScoringConventionName } from "./scoring-convention.js";
import type { AnchoredText } from "./text-layout.js";
import { appendedTagLayout, joinAnchored } from "./text-layout.js";

/** Options of {@link createConventionEncoder}. */
export interface ConventionEncoderOptions {
  /** The TRL conventions' step separator (default `"\n"`). */
  stepSeparator?: string;
  /** pqm-release: put the tokenizer's BOS first (default false, as PQM's code encodes). */
  addBos?: boolean;
  /**
   * pqm-export (required there): the export's `pqm_export.json` as `readPqmExportFormat` reads it (its
   * template, step tag and BOS rule).
   */
  pqmExport?: PqmExportFormat;
}

/** A convention bound to a tokenizer: solutions to token ids and the positions to read. */
export interface ConventionEncoder {
  readonly convention: ScoringConventionName;
  /** The ids the convention relies on, by role (`stepTag`, `positive`, `negative`, `separator`...). */
  readonly tokenIds: Readonly<Record<string, number>>;
  /**
   * One solution as the model reads it.
   * @throws ConventionEncodingError naming the step when it cannot be encoded faithfully (no steps, an
   *   anchor that falls inside a token).
   */
  encode(question: string, steps: readonly string[]): ConventionEncoding;
}

/**
 * Ids of `+` and `-` as Math-Shepherd's code takes them: `encode("+ -")` without special tokens must give
 * exactly two ids, the positive then the negative (`▁+` and `▁-` in its Mistral tokenizer).
 * @throws ConventionEncodingError otherwise.
 */
export function plusMinusIds(tokenizer: PrmTokenizer): { positive: number; negative: number } {
  const ids = tokenizer.encode("+ -");
  if (ids.length !== 2) {
    throw new ConventionEncodingError(
      `the tokenizer encodes "+ -" as ${ids.length} ids [${ids.join(", ")}], expected two (the '+' and '-' answer tokens)`,
    );
  }
  return { positive: ids[0]!, negative: ids[1]! };
}

/** The last id of `text` encoded alone (how the published code finds a tag's id). */
export function lastIdOf(tokenizer: PrmTokenizer, text: string): number {
  const ids = tokenizer.encode(text);
  if (ids.length === 0)
    throw new ConventionEncodingError(`the tokenizer encodes ${JSON.stringify(text)} as no ids`);
  return ids[ids.length - 1]!;
}

// Mark where a message's content goes when a chat template is rendered to find its fixed text (between
// private-use characters, which no solution text carries).
const CONTENT_SENTINEL = "\uE000PQM-CONTENT\uE001";
const ANSWER_SENTINEL = "\uE000PQM-ANSWER\uE001";

type ChatRenderer = (messages: readonly ChatMessage[], addGenerationPrompt: boolean) => string;

/**
 * The folder's chat template when its tokenizer has one, else `published` (the family's template
 * written out; it has no generation prompt, which only the fallback search below asks for).
 */
function chatRenderer(
  tokenizer: PrmTokenizer,
  published: (messages: readonly ChatMessage[]) => string,
): ChatRenderer {
  try {
    tokenizer.applyChatTemplate([{ role: "user", content: "x" }], { addGenerationPrompt: false });
  } catch {
    return (messages) => published(messages);
  }
  return (messages, addGenerationPrompt) => tokenizer.applyChatTemplate(messages, { addGenerationPrompt });
}

/**
 * Qwen2.5-Math-PRM's text: the chat template around system, query and the assistant's steps joined by
 * `<extra_0>` plus a final one; anchors after each appended `<extra_0>`.
 */
function qwenText(render: ChatRenderer, question: string, steps: readonly string[]): AnchoredText {
  const content = joinAnchored(
    steps.map((step) => ({ text: `${step}${QWEN_PRM_STEP_TAG}`, anchorAfter: true })),
  );
  const parts = render(qwenPrmMessages(question, CONTENT_SENTINEL), false).split(CONTENT_SENTINEL);
  if (parts.length !== 2) {
    throw new ConventionEncodingError(
      "the chat template does not write the assistant's content verbatim once, so the <extra_0> positions cannot be found",
    );
  }
  return {
    text: `${parts[0]}${content.text}${parts[1]}`,
    anchors: content.anchors.map((anchor) => parts[0]!.length + anchor),
  };
}

/**
 * RLHFlow's chat: one user turn per step, each answered "+"; an anchor right before each answer. The
 * answers are first rendered as unique markers; when the rendering with the real answers equals the
 * marked one with "+" put back, the markers' offsets are the anchors. Otherwise each answer's offset comes
 * from rendering the conversation up to it with the generation prompt.
 */
function rlhflowText(render: ChatRenderer, question: string, steps: readonly string[]): AnchoredText {
  const messages = rlhflowMessages(question, steps);
  const text = render(messages, false);
  const marked = render(
    messages.map((message) =>
      message.role === "assistant" ? { ...message, content: ANSWER_SENTINEL } : message,
    ),
    false,
  );
  const pieces = marked.split(ANSWER_SENTINEL);
  const anchors: number[] = [];
  let rebuilt = pieces[0]!;
  for (let index = 1; index < pieces.length; index++) {
    anchors.push(rebuilt.length);
    rebuilt += `${RLHFLOW_POSITIVE}${pieces[index]}`;
  }
  if (rebuilt === text && anchors.length === steps.length) return { text, anchors };
  anchors.length = 0;
  for (let turn = 0; turn < steps.length; turn++) {
    const prefix = render(messages.slice(0, 2 * turn + 1), true);
    if (!text.startsWith(prefix) || !text.startsWith(RLHFLOW_POSITIVE, prefix.length)) {
      throw new ConventionEncodingError(
        `step ${turn + 1}: the chat template does not write the assistant's "+" right after the generation prompt`,
      );
    }
    anchors.push(prefix.length);
  }
  return { text, anchors };
}

/**
 * Binds a convention to a tokenizer (for `pqm-release`, the backbone's tokenizer with `[PRM]` added).
 * @throws ConventionEncodingError when the tokenizer lacks what the convention needs (the tag as one
 *   token, the `+`/`-` ids).
 */
export function createConventionEncoder(
  name: ScoringConventionName,
  tokenizer: PrmTokenizer,
  options: ConventionEncoderOptions = {},
): ConventionEncoder {
  const separator = options.stepSeparator ?? NEWLINE_SEPARATOR;
  const checkSteps = (steps: readonly string[]) => {
    if (steps.length === 0) throw new ConventionEncodingError("the solution has no steps");
  };
  switch (name) {
    case "pqm-release": {
      const tag = tagId(tokenizer, PQM_RELEASE_STEP_TAG);
      const layout = alpacaLayout();
      return {
        convention: name,
        tokenIds: { stepTag: tag },
        encode: (question, steps) => {
          checkSteps(steps);
          return encodeAnchored(
            tokenizer,
            appendedTagLayout(layout, DEFAULT_STEP_FORMAT, question, steps, PQM_RELEASE_STEP_TAG),
            {
              addBos: options.addBos ?? false,
              expectedId: tag,
              anchorName: `the step tag ${PQM_RELEASE_STEP_TAG}`,
            },
          );
        },
      };
    }
    case "qwen2.5-math-prm": {
      const tag = tagId(tokenizer, QWEN_PRM_STEP_TAG);
      const render = chatRenderer(tokenizer, renderChatMl);
      return {
        convention: name,
        tokenIds: { stepTag: tag },
        encode: (question, steps) => {
          checkSteps(steps);
          return encodeAnchored(tokenizer, qwenText(render, question, steps), {
            addBos: false,
            expectedId: tag,
            anchorName: `the step tag ${QWEN_PRM_STEP_TAG}`,
          });
        },
      };
    }
    case "math-shepherd": {
      const tag = lastIdOf(tokenizer, MATH_SHEPHERD_STEP_TAG);
      const { positive, negative } = plusMinusIds(tokenizer);
      return {
        convention: name,
        tokenIds: { stepTag: tag, positive, negative },
        encode: (question, steps) => {
          checkSteps(steps);
          const pieces = steps.map((step, index) => ({
            text: `${index === 0 ? `${question} ` : "\n"}${step} ${MATH_SHEPHERD_STEP_TAG}`,
            anchorAfter: true,
          }));
          return encodeAnchored(tokenizer, joinAnchored(pieces), {
            addBos: true,
            expectedId: tag,
            anchorName: `the step tag ${MATH_SHEPHERD_STEP_TAG}`,
          });
        },
      };
    }
    case "rlhflow-prm": {
      // RLHFlow's code takes each answer token alone: encode("+")[-1] and encode("-")[-1].
      const positive = lastIdOf(tokenizer, RLHFLOW_POSITIVE);
      const negative = lastIdOf(tokenizer, RLHFLOW_NEGATIVE);
      const render = chatRenderer(tokenizer, renderLlama31Chat);
      return {
        convention: name,
        tokenIds: { positive, negative },
        encode: (question, steps) => {
          checkSteps(steps);
          return encodeAnchored(tokenizer, rlhflowText(render, question, steps), {
            addBos: false,
            anchorName: 'the answer "+"',
          });
        },
      };
    }
    case "skywork-prm": {
      const sep = lastIdOf(tokenizer, NEWLINE_SEPARATOR);
      const bos = tokenizer.bosTokenId;
      const bosText = bos === null ? "" : (tokenizer.idToToken(bos) ?? "");
      return {
        convention: name,
        tokenIds: { separator: sep, ...(bos === null ? {} : { bos }) },
        encode: (question, steps) => {
          checkSteps(steps);
          return encodePiecewise(
            tokenizer.encode(`${bosText}${question}\n`),
            steps.map((step) => tokenizer.encode(step)),
            [sep],
          );
        },
      };
    }
    case "pqm-export":
      return pqmExportEncoder(tokenizer, options.pqmExport);
    case "trl-value-head":
    case "trl-token-classification": {
      const separatorIds = tokenizer.encode(separator);
      if (separatorIds.length === 0) {
        throw new ConventionEncodingError(
          `the step separator ${JSON.stringify(separator)} encodes as no ids`,
        );
      }
      const bos = tokenizer.bosTokenId;
      return {
        convention: name,
        tokenIds: { separator: separatorIds[separatorIds.length - 1]!, ...(bos === null ? {} : { bos }) },
        encode: (question, steps) => {
          checkSteps(steps);
          const prompt = tokenizer.encode(question);
          return encodePiecewise(
            bos === null ? prompt : [bos, ...prompt],
            steps.map((step) => tokenizer.encode(step)),
            separatorIds,
          );
        },
      };
    }
  }
}

/**
 * pqm's own encoding of an export, by pqm's `TrajectoryEncoder` itself: the recorded template and step
 * format, the whole text tokenized at once without special tokens, the BOS put first when recorded, the
 * score read at every position holding the tag's id (a question or step holding the tag text is refused,
 * as pqm refuses it).
 */
function pqmExportEncoder(tokenizer: PrmTokenizer, format: PqmExportFormat | undefined): ConventionEncoder {
  if (format === undefined) {
    throw new ConventionEncodingError(
      "pqm-export encodes with the export's pqm_export.json (options.pqmExport from readPqmExportFormat)",
    );
  }
  const { stepTag } = format;
  if (stepTag.mode === "special" && tokenizer.tokenToId(stepTag.text) !== stepTag.id) {
    throw new ConventionEncodingError(
      `${format.file} records the step tag ${JSON.stringify(stepTag.text)} as id ${stepTag.id}, but the tokenizer ` +
        `gives it ${tokenizer.tokenToId(stepTag.text) ?? "no id"}`,
    );
  }
  const bos = format.addBos ? tokenizer.bosTokenId : null;
  if (format.addBos && (bos === null || (format.bosTokenId !== null && bos !== format.bosTokenId))) {
    throw new ConventionEncodingError(
      `${format.file} puts the BOS (id ${format.bosTokenId ?? "unnamed"}) first, but the tokenizer's BOS is ${bos ?? "none"}`,
    );
  }
  let encoder: TrajectoryEncoder;
  try {
    encoder = new TrajectoryEncoder(tokenizer, {
      stepTag,
      template: pqmExportTemplate(format),
      addBos: format.addBos,
    });
  } catch (error) {
    throw new ConventionEncodingError(`${format.file}: ${(error as Error).message}`);
  }
  return {
    convention: "pqm-export",
    tokenIds: { stepTag: stepTag.id, ...(bos === null ? {} : { bos }) },
    encode: (question, steps) => {
      const outcome = encoder.encode({
        question: { id: "", text: question, answer: null, domain: "math" },
        steps: [...steps],
      });
      if (!outcome.ok) throw new ConventionEncodingError(outcome.rejection.message);
      return {
        inputIds: Array.from(outcome.row.inputIds),
        scorePositions: Array.from(outcome.row.tagPositions),
      };
    },
  };
}

/** The id of a tag that must be a single token of the tokenizer. */
function tagId(tokenizer: PrmTokenizer, tag: string): number {
  const ids = tokenizer.encode(tag);
  const id = tokenizer.tokenToId(tag);
  if (ids.length !== 1 || id === undefined || ids[0] !== id) {
    throw new ConventionEncodingError(
      `the tokenizer has no single token for the step tag ${JSON.stringify(tag)} (it encodes as [${ids.join(", ")}])`,
    );
  }
  return id;
}
