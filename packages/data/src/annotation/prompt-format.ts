import type { Question, Step } from "@pqm/core/reference";

/** The instruction the chat prompt gives after the question. */
export const CHAT_INSTRUCTION =
  'Solve it step by step. Write each step on its own line as "Step k: ...", and end with "The answer is: N".';
const CONTINUE_MARKER = "Continue this partial solution:";

/**
 * The default `/v1/completions` prompt: the question, the prefix as `Step k: ...` lines, and the
 * header of the next step, so the model writes that step's text first:
 * `question\nStep 1: ...\nStep 2:`.
 */
export function formatCompletionPrompt(question: Question, prefix: readonly Step[]): string {
  const lines = [
    question.text,
    ...prefix.map((step, i) => `Step ${i + 1}: ${step}`),
    `Step ${prefix.length + 1}:`,
  ];
  return lines.join("\n");
}

/** The default `/v1/chat/completions` messages: one user message with the question, instruction and prefix. */
export function formatChatMessages(
  question: Question,
  prefix: readonly Step[],
): Array<{ role: "user"; content: string }> {
  let content = `${question.text}\n\n${CHAT_INSTRUCTION}`;
  if (prefix.length > 0) {
    content += `\n\n${CONTINUE_MARKER}\n${prefix.map((step, i) => `Step ${i + 1}: ${step}`).join("\n")}`;
  }
  return [{ role: "user", content }];
}

/** What a server reads back from a default prompt: the question text and the prefix steps. */
export interface ParsedPrompt {
  questionText: string;
  prefix: Step[];
}

/**
 * Reads a prompt made by `formatCompletionPrompt` back into question and prefix (for servers and
 * tests that stand in for a model). Throws an Error when the prompt does not end in a step header.
 */
export function parseCompletionPrompt(prompt: string): ParsedPrompt {
  const lines = prompt.split("\n");
  const header = lines.pop() ?? "";
  const match = /^Step (\d+):$/.exec(header);
  if (match === null) throw new Error("the prompt does not end with a 'Step k:' header");
  const stepCount = Number(match[1]) - 1;
  if (lines.length < stepCount + 1)
    throw new Error("the prompt has fewer step lines than its header implies");
  const stepLines = lines.splice(lines.length - stepCount, stepCount);
  return {
    questionText: lines.join("\n"),
    prefix: stepLines.map((line) => line.replace(/^Step \d+:\s*/, "")),
  };
}

/** Reads a user message made by `formatChatMessages` back into question and prefix. Throws when it is not one. */
export function parseChatPrompt(content: string): ParsedPrompt {
  const at = content.indexOf(`\n\n${CHAT_INSTRUCTION}`);
  if (at < 0) throw new Error("the message does not contain the step-by-step instruction");
  const questionText = content.slice(0, at);
  const rest = content.slice(at + CHAT_INSTRUCTION.length + 2);
  const marker = rest.indexOf(CONTINUE_MARKER);
  const prefix =
    marker < 0
      ? []
      : rest
          .slice(marker + CONTINUE_MARKER.length)
          .split("\n")
          .filter((line) => line.trim() !== "")
          .map((line) => line.replace(/^Step \d+:\s*/, ""));
  return { questionText, prefix };
}

/** Splits a continuation into steps on its `Step k:` headers; text before the first header is dropped when blank. */
export function splitContinuationSteps(text: string): Step[] {
  return text
    .split(/Step \d+:/)
    .map((chunk) => chunk.trim())
    .filter((chunk) => chunk !== "");
}
