import { HF_TOKEN_CLASSIFICATION_ARCHITECTURES } from "../export/hf-token-classification.js";
import { DEFAULT_STEP_TAG } from "../tokenizer/builtin-tokenizer.js";
import type { PrmTokenizer } from "../tokenizer/prm-tokenizer.js";
import type { PromptTemplate, TemplateLayout } from "../tokenizer/prompt-templates.js";
import { DEFAULT_STEP_FORMAT, PROMPT_TEMPLATES } from "../tokenizer/prompt-templates.js";
import { PQM_EXPORT_DESCRIPTION } from "./pqm-export.js";
import type { RenderTextOptions, ScoringConvention, ScoringConventionName } from "./scoring-convention.js";
import { isScoringConventionName, scoringConventionNames } from "./scoring-convention.js";
import { appendedTagLayout } from "./text-layout.js";

/** The step tag PQM's release adds to its tokenizer. */
export const PQM_RELEASE_STEP_TAG = "[PRM]";
/** Qwen2.5-Math-PRM's step separator, a special token of its tokenizer. */
export const QWEN_PRM_STEP_TAG = "<extra_0>";
/** The system message Qwen2.5-Math-PRM's model card scores with. */
export const QWEN_PRM_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}.";
/** Math-Shepherd's step tag (Cyrillic "ки"), written after a space at the end of each step. */
export const MATH_SHEPHERD_STEP_TAG = "ки";
/** The step separator of Skywork's PRM and of TRL's PRM data. */
export const NEWLINE_SEPARATOR = "\n";
/** Qwen2.5's BOS text, which Skywork's PRM writes before the problem. */
export const QWEN_BOS_TEXT = "<|endoftext|>";
/** The answer RLHFlow's PRMs are trained to give to a correct step. */
export const RLHFLOW_POSITIVE = "+";
/** The answer RLHFlow's PRMs are trained to give to a wrong step. */
export const RLHFLOW_NEGATIVE = "-";

// The Llama-3.1 chat template's fixed text for a conversation without a system message (the date is
// the template's default), as RLHFlow's Llama-3.1 PRMs see it.
const LLAMA31_BOS = "<|begin_of_text|>";
const LLAMA31_SYSTEM =
  "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>";

/** A chat message as the conventions' chat templates take it. */
export interface ConventionChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/**
 * The published Llama-3.1 chat template's output for messages without a system message and without
 * the generation prompt (BOS, the default system block with its dates, each turn's content trimmed).
 */
export function renderLlama31Chat(messages: readonly ConventionChatMessage[]): string {
  return (
    LLAMA31_BOS +
    LLAMA31_SYSTEM +
    messages
      .map(
        (message) =>
          `<|start_header_id|>${message.role}<|end_header_id|>\n\n${message.content.trim()}<|eot_id|>`,
      )
      .join("")
  );
}

/** Qwen2.5's ChatML output for messages, without the generation prompt. */
export function renderChatMl(messages: readonly ConventionChatMessage[]): string {
  return messages.map((message) => `<|im_start|>${message.role}\n${message.content}<|im_end|>\n`).join("");
}

function separatorOf(options: RenderTextOptions | undefined): string {
  return options?.stepSeparator ?? NEWLINE_SEPARATOR;
}

/**
 * The RLHFlow conversation, as its evaluation code builds it: each step stripped, one user turn per step
 * (the first is the question, a space and the step), each answered "+".
 */
export function rlhflowMessages(question: string, steps: readonly string[]): ConventionChatMessage[] {
  return steps.flatMap((step, index) => [
    { role: "user" as const, content: index === 0 ? `${question} ${step.trim()}` : step.trim() },
    { role: "assistant" as const, content: RLHFLOW_POSITIVE },
  ]);
}

/** Qwen2.5-Math-PRM's messages: the boxed system prompt, the query, the assistant's content. */
export function qwenPrmMessages(question: string, content: string): ConventionChatMessage[] {
  return [
    { role: "system", content: QWEN_PRM_SYSTEM },
    { role: "user", content: question },
    { role: "assistant", content },
  ];
}

/**
 * The fixed text of the `pqm-alpaca` template (PQM's prompt). A fixed template's layout does not read the
 * tokenizer it is given, so none is passed.
 */
export function alpacaLayout(): TemplateLayout {
  return (PROMPT_TEMPLATES["pqm-alpaca"] as PromptTemplate).layout(null as unknown as PrmTokenizer);
}

const conventions: Record<ScoringConventionName, ScoringConvention> = {
  "pqm-release": {
    name: "pqm-release",
    description:
      "PQM's release: a bare state dict (Llama backbone with an added [PRM] token, v_head.summary) on a separate " +
      "backbone folder; Alpaca prompt, 'Step k: ... [PRM]' per step; the value head's raw output at each [PRM]",
    stepTag: PQM_RELEASE_STEP_TAG,
    poolingReadout: null,
    architectures: [],
    needsBackbone: true,
    renderText: (question, steps) =>
      appendedTagLayout(alpacaLayout(), DEFAULT_STEP_FORMAT, question, steps, PQM_RELEASE_STEP_TAG).text,
  },
  "qwen2.5-math-prm": {
    name: "qwen2.5-math-prm",
    description:
      "Qwen2.5-Math-PRM (Qwen2ForProcessRewardModel): chat template with the boxed system prompt, the steps " +
      "joined by <extra_0> plus a final one; the score head's logit1 − logit0 at each <extra_0>",
    stepTag: QWEN_PRM_STEP_TAG,
    poolingReadout: "two-class",
    architectures: ["Qwen2ForProcessRewardModel"],
    needsBackbone: false,
    renderText: (question, steps) =>
      renderChatMl(qwenPrmMessages(question, steps.join(QWEN_PRM_STEP_TAG) + QWEN_PRM_STEP_TAG)),
  },
  "math-shepherd": {
    name: "math-shepherd",
    description:
      "Math-Shepherd (a Mistral causal LM): '{question} {step} ки' with steps joined by newlines; " +
      "logit('+') − logit('-') of the LM head at each ки",
    stepTag: MATH_SHEPHERD_STEP_TAG,
    poolingReadout: "token-pair",
    architectures: ["MistralForCausalLM", "LlamaForCausalLM"],
    needsBackbone: false,
    renderText: (question, steps) =>
      `${question} ${steps.map((step) => `${step} ${MATH_SHEPHERD_STEP_TAG}`).join("\n")}`,
  },
  "skywork-prm": {
    name: "skywork-prm",
    description:
      "Skywork-o1-Open-PRM (Qwen2.5-Math with a value head): BOS + problem + newline, then each step tokenized " +
      "alone followed by a newline token; the value head's raw output at each step's newline",
    stepTag: NEWLINE_SEPARATOR,
    poolingReadout: null,
    architectures: ["Qwen2ForPrmModel", "SkyworkQwen2ForPrmModel"],
    needsBackbone: false,
    renderText: (question, steps, options) =>
      `${options?.bosToken ?? QWEN_BOS_TEXT}${question}\n${steps.map((step) => `${step}${NEWLINE_SEPARATOR}`).join("")}`,
  },
  "rlhflow-prm": {
    name: "rlhflow-prm",
    description:
      "RLHFlow's Llama-3.1 PRMs: a chat with one user turn per step (the first prefixed by the question), " +
      "each answered '+'; logit('+') − logit('-') where the model predicts each answer",
    stepTag: null,
    poolingReadout: null,
    architectures: ["LlamaForCausalLM"],
    needsBackbone: false,
    renderText: (question, steps) => renderLlama31Chat(rlhflowMessages(question, steps)),
  },
  "trl-value-head": {
    name: "trl-value-head",
    description:
      "TRL AutoModelForCausalLMWithValueHead checkpoints (v_head.summary beside the causal LM): prompt, then " +
      "each step and a newline, each piece tokenized alone; the value head's raw output at each step's last token",
    stepTag: NEWLINE_SEPARATOR,
    poolingReadout: null,
    architectures: [],
    needsBackbone: false,
    renderText: (question, steps, options) =>
      `${question}${steps.map((step) => `${step}${separatorOf(options)}`).join("")}`,
  },
  "trl-token-classification": {
    name: "trl-token-classification",
    description:
      "TRL PRMTrainer's *ForTokenClassification: prompt, then each step and a newline, each piece tokenized " +
      "alone; at each step's last token logit1 − logit0 (num_labels 2) or the logit (num_labels 1)",
    stepTag: NEWLINE_SEPARATOR,
    poolingReadout: "two-class",
    architectures: [
      "LlamaForTokenClassification",
      "MistralForTokenClassification",
      "Qwen2ForTokenClassification",
    ],
    needsBackbone: false,
    renderText: (question, steps, options) =>
      `${question}${steps.map((step) => `${step}${separatorOf(options)}`).join("")}`,
  },
  "pqm-export": {
    name: "pqm-export",
    description: PQM_EXPORT_DESCRIPTION,
    // pqm's default tag; an export records its own (the folder's convention has it).
    stepTag: DEFAULT_STEP_TAG,
    poolingReadout: "single",
    poolingAddSpecialTokens: false,
    architectures: Object.values(HF_TOKEN_CLASSIFICATION_ARCHITECTURES),
    needsBackbone: false,
    renderText: () => {
      throw new Error(
        "pqm-export renders the prompt template recorded in an export's pqm_export.json: take the convention " +
          "of the folder (scoringConventionForFolder(folder) or detectScoringConvention(folder)), not the catalog's",
      );
    },
  },
};

/**
 * The convention named `name`.
 * @throws Error naming the known conventions for an unknown name.
 */
export function getScoringConvention(name: string): ScoringConvention {
  if (!isScoringConventionName(name)) {
    throw new Error(
      `unknown scoring convention ${JSON.stringify(name)}; known: ${scoringConventionNames.join(", ")}`,
    );
  }
  return conventions[name];
}
