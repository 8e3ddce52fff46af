import type { PrmTokenizer } from "./prm-tokenizer.js";

/** How the steps are written after the prompt: `Step 1: ... [PRM]\nStep 2: ... [PRM]` by default. */
export interface StepFormat {
  /** Write `Step k: ` before each step (a leading `Step n:` already in the step is replaced). Default true. */
  numberSteps: boolean;
  /** Between a step's text and its tag. Default `" "`. */
  tagSeparator: string;
  /** Between one step's tag and the next step. Default `"\n"`. */
  stepSeparator: string;
}

/** The reference's step format (see docs/method.md, section 5). */
export const DEFAULT_STEP_FORMAT: StepFormat = Object.freeze({
  numberSteps: true,
  tagSeparator: " ",
  stepSeparator: "\n",
});

/** The fixed text of a template: `head + question + middle + steps + tail`. */
export interface TemplateLayout {
  head: string;
  middle: string;
  tail: string;
}

/**
 * A named prompt template. The name is stored with a trained model and checked at evaluation
 * (`checkEncodingSpec`), so training and scoring format prompts the same way.
 */
export interface PromptTemplate {
  readonly name: string;
  /** One line on what the template writes and where it comes from. */
  readonly description: string;
  readonly stepFormat: StepFormat;
  /** The fixed text for a tokenizer (chat templates read the tokenizer's; others ignore it). */
  layout(tokenizer: PrmTokenizer): TemplateLayout;
}

/** A rendered prompt with the character range of the question (used only to truncate the question). */
export interface RenderedPrompt {
  text: string;
  questionStart: number;
  questionEnd: number;
}

const ALPACA_HEAD =
  "Below is an instruction that describes a task.\nWrite a response that appropriately completes the request.\n\n### Instruction:\n";
const ALPACA_MIDDLE = "\n\n### Response: Let's think step by step\n";
const BOXED_INSTRUCTION = "\nPlease reason step by step, and put your final answer within \\boxed{}.";

// Marks where the question and the steps go when a template is rendered to find its fixed text.
const QUESTION_SENTINEL = "\u0000PQM-QUESTION\u0000";
const STEPS_SENTINEL = "\u0000PQM-STEPS\u0000";

function fixedTemplate(
  name: string,
  description: string,
  layout: TemplateLayout,
  stepFormat = DEFAULT_STEP_FORMAT,
): PromptTemplate {
  const frozen = Object.freeze({ ...layout });
  return Object.freeze({ name, description, stepFormat, layout: () => frozen });
}

function chatTemplate(name: string, description: string, instruction: string): PromptTemplate {
  return Object.freeze({
    name,
    description,
    stepFormat: DEFAULT_STEP_FORMAT,
    layout(tokenizer: PrmTokenizer): TemplateLayout {
      const rendered = tokenizer.applyChatTemplate(
        [{ role: "user", content: `${QUESTION_SENTINEL}${instruction}` }],
        {
          addGenerationPrompt: true,
        },
      );
      const parts = rendered.split(QUESTION_SENTINEL);
      if (parts.length !== 2)
        throw new Error(`template ${name}: the chat template does not show the question verbatim once`);
      // As the reference: the rendered chat is the query, then "\n", then the steps.
      return { head: parts[0]!, middle: `${parts[1]!}\n`, tail: "" };
    },
  });
}

/**
 * The built-in templates, by name. `pqm-alpaca`, `pqm-inst`, `pqm-chat` and `pqm-chat-boxed` follow the
 * reference code (train_main.py, bon_eval_hf.py and compare-wisc-hf.py of
 * WindyLee0822/Process_Q_Model): the query, a
 * newline, then the steps. `plain` is this project's: question, one space, steps (the arithmetic
 * environment's shape); the reference has no template of that form.
 */
export const PROMPT_TEMPLATES: Readonly<Record<string, PromptTemplate>> = Object.freeze({
  "pqm-alpaca": fixedTemplate(
    "pqm-alpaca",
    "the reference's default: an Alpaca instruction header around the question, then the steps",
    { head: ALPACA_HEAD, middle: ALPACA_MIDDLE, tail: "" },
  ),
  "pqm-inst": fixedTemplate(
    "pqm-inst",
    "the reference's Llama-2 variant: [INST] question [/INST], newline, steps",
    {
      head: "[INST] ",
      middle: " [/INST]\n",
      tail: "",
    },
  ),
  "pqm-chat": chatTemplate(
    "pqm-chat",
    "the tokenizer's chat template with the question as the user turn",
    "",
  ),
  "pqm-chat-boxed": chatTemplate(
    "pqm-chat-boxed",
    "the tokenizer's chat template, the question followed by the reference's reason-step-by-step, \\boxed{} line",
    BOXED_INSTRUCTION,
  ),
  plain: fixedTemplate("plain", "question, a space, the steps (the arithmetic environment's shape)", {
    head: "",
    middle: " ",
    tail: "",
  }),
});

/** Names of the built-in templates. */
export const promptTemplateNames: readonly string[] = Object.keys(PROMPT_TEMPLATES);

/**
 * A custom template. `format` is a string with `{question}` and `{steps}` (each exactly once, question
 * first), or a function of both that must place them verbatim once each. Throws when it does not.
 */
export function definePromptTemplate(
  name: string,
  format: string | ((parts: { question: string; steps: string }) => string),
  options: { description?: string; stepFormat?: Partial<StepFormat> } = {},
): PromptTemplate {
  if (name.length === 0) throw new Error("a prompt template needs a name (it is stored with the model)");
  const text =
    typeof format === "string"
      ? format.split("{question}").join(QUESTION_SENTINEL).split("{steps}").join(STEPS_SENTINEL)
      : format({ question: QUESTION_SENTINEL, steps: STEPS_SENTINEL });
  const [head, rest, ...extraQuestion] = text.split(QUESTION_SENTINEL);
  const [middle, tail, ...extraSteps] = (rest ?? "").split(STEPS_SENTINEL);
  if (
    head === undefined ||
    rest === undefined ||
    extraQuestion.length > 0 ||
    tail === undefined ||
    extraSteps.length > 0
  ) {
    throw new Error(`template ${name}: must contain {question} and then {steps}, each exactly once`);
  }
  if (head.includes(STEPS_SENTINEL)) throw new Error(`template ${name}: {question} must come before {steps}`);
  return fixedTemplate(
    name,
    options.description ?? "custom template",
    { head, middle: middle ?? "", tail },
    { ...DEFAULT_STEP_FORMAT, ...options.stepFormat },
  );
}

/** A template by name, or the template itself. Throws naming the known templates on an unknown name. */
export function resolvePromptTemplate(template: string | PromptTemplate): PromptTemplate {
  if (typeof template !== "string") return template;
  const found = PROMPT_TEMPLATES[template];
  if (found === undefined) {
    throw new Error(
      `unknown prompt template ${JSON.stringify(template)}; known: ${promptTemplateNames.join(", ")}`,
    );
  }
  return found;
}

/**
 * The steps block: each step trimmed, numbered `Step k: ` (replacing a `Step n:` it already starts with,
 * as the reference re-splits candidates on `Step \d+:`), followed by the separator and the tag, steps
 * joined by the step separator: `Step 1: a [PRM]\nStep 2: b [PRM]`.
 */
export function formatSteps(
  steps: readonly string[],
  tag: string,
  format: StepFormat = DEFAULT_STEP_FORMAT,
): string {
  return steps
    .map((step, index) => {
      const text = step.trim();
      const body = format.numberSteps ? `Step ${index + 1}: ${text.replace(/^Step \d+:\s*/, "")}` : text;
      return `${body}${format.tagSeparator}${tag}`;
    })
    .join(format.stepSeparator);
}

/** Renders `layout.head + question + layout.middle + steps block + layout.tail`, with the question's range. */
export function renderPrompt(
  layout: TemplateLayout,
  stepFormat: StepFormat,
  question: string,
  steps: readonly string[],
  tag: string,
): RenderedPrompt {
  const questionStart = layout.head.length;
  const questionEnd = questionStart + question.length;
  const text = `${layout.head}${question}${layout.middle}${formatSteps(steps, tag, stepFormat)}${layout.tail}`;
  return { text, questionStart, questionEnd };
}
