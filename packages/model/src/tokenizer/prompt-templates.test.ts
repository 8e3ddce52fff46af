import { describe, expect, it } from "vitest";
import { buildWordTokenizer } from "./builtin-tokenizer.js";
import { loadTokenizer } from "./hf-tokenizer.js";
import type { PrmTokenizer } from "./prm-tokenizer.js";
import {
  DEFAULT_STEP_FORMAT,
  definePromptTemplate,
  formatSteps,
  promptTemplateNames,
  renderPrompt,
  resolvePromptTemplate,
} from "./prompt-templates.js";
import { realTokenizerFolder } from "./real-tokenizers.test-helper.js";

const builtin = buildWordTokenizer([]);

function render(
  template: string | ReturnType<typeof definePromptTemplate>,
  tokenizer: PrmTokenizer = builtin,
) {
  const resolved = resolvePromptTemplate(template);
  return renderPrompt(
    resolved.layout(tokenizer),
    resolved.stepFormat,
    "What is 2 + 3?",
    ["2 + 3 = 5.", "The answer is 5."],
    "[PRM]",
  );
}

describe("formatSteps", () => {
  it("writes the reference's Step k: ... [PRM] lines", () => {
    expect(formatSteps(["  a  ", "b"], "[PRM]")).toBe("Step 1: a [PRM]\nStep 2: b [PRM]");
  });

  it("renumbers steps that already carry a Step n: prefix, and can leave numbering out", () => {
    expect(formatSteps(["Step 3: a", "Step 9:b"], "ки")).toBe("Step 1: a ки\nStep 2: b ки");
    expect(
      formatSteps(["a", "b"], "<t>", { ...DEFAULT_STEP_FORMAT, numberSteps: false, stepSeparator: " " }),
    ).toBe("a <t> b <t>");
  });
});

describe("built-in templates", () => {
  it("renders pqm-alpaca as the reference's instruction_format(question) + '\\n' + answer", () => {
    const question = "What is 2 + 3?";
    const referenceQuery = `Below is an instruction that describes a task.\nWrite a response that appropriately completes the request.\n\n### Instruction:\n${question}\n\n### Response: Let's think step by step`;
    const referenceAnswer = `${["Step 1: 2 + 3 = 5.", "Step 2: The answer is 5."].join(" [PRM]\n")} [PRM]`;
    const rendered = render("pqm-alpaca");
    expect(rendered.text).toBe(`${referenceQuery}\n${referenceAnswer}`);
    expect(rendered.text.slice(rendered.questionStart, rendered.questionEnd)).toBe(question);
  });

  it("renders plain and pqm-inst", () => {
    expect(render("plain").text).toBe(
      "What is 2 + 3? Step 1: 2 + 3 = 5. [PRM]\nStep 2: The answer is 5. [PRM]",
    );
    expect(render("pqm-inst").text.startsWith("[INST] What is 2 + 3? [/INST]\nStep 1:")).toBe(true);
  });

  it("renders pqm-chat with the tokenizer's own chat template (Qwen3)", async () => {
    const qwen = await loadTokenizer(realTokenizerFolder("qwen3"));
    const chat = qwen.applyChatTemplate([{ role: "user", content: "What is 2 + 3?" }], {
      addGenerationPrompt: true,
    });
    const rendered = render("pqm-chat", qwen);
    expect(rendered.text).toBe(`${chat}\nStep 1: 2 + 3 = 5. [PRM]\nStep 2: The answer is 5. [PRM]`);
    expect(render("pqm-chat-boxed", qwen).text).toContain("What is 2 + 3?\nPlease reason step by step");
    expect(() => render("pqm-chat", builtin)).toThrow(/no chat template/);
  });

  it("refuses an unknown name, listing the known ones", () => {
    expect(() => resolvePromptTemplate("alpaca")).toThrow(promptTemplateNames.join(", "));
  });
});

describe("definePromptTemplate", () => {
  it("takes a string with {question} and {steps}", () => {
    const template = definePromptTemplate("qa", "Q: {question}\nA: {steps}\nEND");
    expect(render(template).text).toBe(
      "Q: What is 2 + 3?\nA: Step 1: 2 + 3 = 5. [PRM]\nStep 2: The answer is 5. [PRM]\nEND",
    );
  });

  it("takes a function that places both verbatim", () => {
    const template = definePromptTemplate("fn", ({ question, steps }) => `<q>${question}</q>${steps}`, {
      stepFormat: { numberSteps: false },
    });
    expect(render(template).text).toBe("<q>What is 2 + 3?</q>2 + 3 = 5. [PRM]\nThe answer is 5. [PRM]");
  });

  it("refuses a template missing a placeholder, repeating one, or with steps first", () => {
    expect(() => definePromptTemplate("x", "{question}")).toThrow(/exactly once/);
    expect(() => definePromptTemplate("x", "{question}{question}{steps}")).toThrow(/exactly once/);
    expect(() => definePromptTemplate("x", "{steps}{question}")).toThrow();
    expect(() => definePromptTemplate("x", ({ question }) => question.toUpperCase())).toThrow();
    expect(() => definePromptTemplate("", "{question}{steps}")).toThrow(/name/);
  });
});
