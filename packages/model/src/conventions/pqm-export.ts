// The `pqm-export` convention: a folder written by pqm's own Hugging Face export
// (`exportHuggingFaceTokenClassification`), read back the way pqm scored it. The prompt template, the step
// format, the step tag and the BOS rule are the ones recorded in the folder's `pqm_export.json`, so the
// text (and the ids) are those of pqm's `TrajectoryEncoder`, not TRL's piecewise layout.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ModelLoadError } from "../backbone/model-load-error.js";
import {
  HF_EXPORT_INFO_FILE,
  HF_TOKEN_CLASSIFICATION_ARCHITECTURES,
  HF_TOKEN_CLASSIFICATION_FORMAT,
} from "../export/hf-token-classification.js";
import type { PromptTemplate, StepFormat, TemplateLayout } from "../tokenizer/prompt-templates.js";
import { renderPrompt } from "../tokenizer/prompt-templates.js";
import type { StepTag } from "../tokenizer/step-tag.js";
import type { ScoringConvention } from "./scoring-convention.js";

/** What `pqm-export` reads of an export's `pqm_export.json`, checked. */
export interface PqmExportFormat {
  /** The `pqm_export.json` it was read from (for messages). */
  file: string;
  /** Who the export was written for: `transformers` (bias in `score.bias`) or `vllm` (bias in the JSON). */
  target: "transformers" | "vllm";
  /** The step tag pqm appended after every step, with its id. */
  stepTag: StepTag;
  /** The value head's bias and where the export put it. */
  scoreBias: { value: number; in: "score.bias" | typeof HF_EXPORT_INFO_FILE };
  /** The prompt template pqm trained with, as fixed text. */
  template: { name: string; layout: TemplateLayout; stepFormat: StepFormat };
  /** Whether pqm put the tokenizer's BOS first. */
  addBos: boolean;
  /** The BOS id recorded with `addBos` (null when the export could not name it). */
  bosTokenId: number | null;
}

type Json = Record<string, unknown>;

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** A reader of one JSON object whose errors name the file and the dotted field. */
function fields(file: string, root: Json) {
  const at = (path: string): unknown =>
    path.split(".").reduce<unknown>((node, key) => (node as Json | undefined)?.[key], root);
  const fail = (path: string, expected: string): never => {
    throw new ModelLoadError(file, path, `expected ${expected}, got ${describe(at(path))}`);
  };
  return {
    string(path: string): string {
      const value = at(path);
      return typeof value === "string" ? value : fail(path, "a string");
    },
    boolean(path: string): boolean {
      const value = at(path);
      return typeof value === "boolean" ? value : fail(path, "true or false");
    },
    number(path: string): number {
      const value = at(path);
      return typeof value === "number" && Number.isFinite(value) ? value : fail(path, "a finite number");
    },
    id(path: string): number {
      const value = at(path);
      return Number.isInteger(value) && (value as number) >= 0 ? (value as number) : fail(path, "a token id");
    },
    oneOf<T extends string>(path: string, allowed: readonly T[]): T {
      const value = at(path);
      return allowed.includes(value as T)
        ? (value as T)
        : fail(path, allowed.map((item) => JSON.stringify(item)).join(" or "));
    },
    /** The value as stored (undefined when absent). */
    raw: at,
  };
}

/**
 * Reads and checks the `pqm_export.json` of a folder written by `exportHuggingFaceTokenClassification`:
 * its `format`, the step tag, the score bias and the prompt (template text, step format, BOS).
 * @throws ModelLoadError naming the file and the field that is missing or malformed (or the file when
 *   it is absent or not JSON).
 */
export async function readPqmExportFormat(folder: string): Promise<PqmExportFormat> {
  const file = join(folder, HF_EXPORT_INFO_FILE);
  if (!existsSync(file)) {
    throw new ModelLoadError(
      file,
      undefined,
      "not found: pqm-export reads the prompt format pqm's export records there",
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (cause) {
    throw new ModelLoadError(file, undefined, "not valid JSON", { cause });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new ModelLoadError(file, undefined, "not a JSON object");
  const read = fields(file, raw as Json);
  read.oneOf("format", [HF_TOKEN_CLASSIFICATION_FORMAT]);
  const storedBos = read.raw("prompt.bos_token_id");
  const bosTokenId = storedBos === null || storedBos === undefined ? null : read.id("prompt.bos_token_id");
  return {
    file,
    target: read.oneOf("target", ["transformers", "vllm"]),
    stepTag: {
      text: read.string("step_tag.text"),
      id: read.id("step_tag.id"),
      mode: read.oneOf("step_tag.mode", ["special", "existing"]),
    },
    scoreBias: {
      value: read.number("score_bias.value"),
      in: read.oneOf("score_bias.in", ["score.bias", HF_EXPORT_INFO_FILE]),
    },
    template: {
      name: read.string("prompt.template"),
      layout: {
        head: read.string("prompt.head"),
        middle: read.string("prompt.middle"),
        tail: read.string("prompt.tail"),
      },
      stepFormat: {
        numberSteps: read.boolean("prompt.step_format.number_steps"),
        tagSeparator: read.string("prompt.step_format.tag_separator"),
        stepSeparator: read.string("prompt.step_format.step_separator"),
      },
    },
    addBos: read.boolean("prompt.add_bos"),
    bosTokenId,
  };
}

/** The export's template as a {@link PromptTemplate} (fixed text: it does not read the tokenizer). */
export function pqmExportTemplate(format: PqmExportFormat): PromptTemplate {
  const layout = Object.freeze({ ...format.template.layout });
  return Object.freeze({
    name: format.template.name,
    description: `the prompt template recorded in ${format.file}`,
    stepFormat: Object.freeze({ ...format.template.stepFormat }),
    layout: () => layout,
  });
}

function tokenText(value: unknown): string | null {
  if (typeof value === "string") return value;
  const content = (value as { content?: unknown } | null | undefined)?.content;
  return typeof content === "string" ? content : null;
}

/**
 * The BOS token's text as pqm's tokenizer finds it (`tokenizer_config.json`'s `bos_token`, a string or
 * an `AddedToken` object), or null when the format puts no BOS first.
 * @throws ModelLoadError naming `tokenizer_config.json` when the format puts a BOS first but the
 *   tokenizer names none.
 */
export async function pqmExportBosText(folder: string, format: PqmExportFormat): Promise<string | null> {
  if (!format.addBos) return null;
  const path = join(folder, "tokenizer_config.json");
  let config: Json = {};
  try {
    config = JSON.parse(await readFile(path, "utf8")) as Json;
  } catch (cause) {
    throw new ModelLoadError(path, undefined, "missing or not valid JSON", { cause });
  }
  const text = tokenText(config.bos_token);
  if (text === null) {
    throw new ModelLoadError(
      path,
      "bos_token",
      `${format.file} puts the BOS first (prompt.add_bos), but the tokenizer names no BOS token`,
    );
  }
  return text;
}

/** The one-line description of `pqm-export`. */
export const PQM_EXPORT_DESCRIPTION =
  "pqm's own Hugging Face export (pqm_export.json beside a *ForTokenClassification with one label): the " +
  "prompt template, step format, step tag and BOS recorded there, the text tokenized at once as pqm does; " +
  "the logit at each step tag, plus the score bias when the export moved it into pqm_export.json";

/**
 * The `pqm-export` convention bound to one export: `renderText` writes exactly the text pqm's
 * `TrajectoryEncoder` tokenizes (the BOS text first when the export puts a BOS first), `stepTag` is the
 * recorded tag, `poolingReadout` is `single` (vLLM applies a sigmoid to a one-label classifier) and
 * `poolingLogOddsOffset` the bias a `vllm`-target export keeps out of its weights.
 * @param bosText the BOS token's text when `format.addBos` (see {@link pqmExportBosText}).
 * @throws ModelLoadError naming the file when the format puts a BOS first and `bosText` is null.
 */
export function pqmExportConvention(format: PqmExportFormat, bosText: string | null): ScoringConvention {
  if (format.addBos && bosText === null) {
    throw new ModelLoadError(format.file, "prompt.add_bos", "true, but no BOS text was given to render it");
  }
  const { layout, stepFormat } = format.template;
  const prefix = format.addBos ? (bosText as string) : "";
  return Object.freeze({
    name: "pqm-export" as const,
    description: PQM_EXPORT_DESCRIPTION,
    stepTag: format.stepTag.text,
    poolingReadout: "single" as const,
    poolingLogOddsOffset: format.scoreBias.in === HF_EXPORT_INFO_FILE ? format.scoreBias.value : 0,
    poolingAddSpecialTokens: false,
    architectures: Object.values(HF_TOKEN_CLASSIFICATION_ARCHITECTURES),
    needsBackbone: false,
    renderText: (question: string, steps: readonly string[]) =>
      `${prefix}${renderPrompt(layout, stepFormat, question, steps, format.stepTag.text).text}`,
  });
}

/**
 * The `pqm-export` convention of an export folder: its `pqm_export.json` read and checked, the BOS text
 * from its tokenizer when the export puts one first (see {@link pqmExportConvention}).
 * @throws ModelLoadError naming the file and field (see {@link readPqmExportFormat}).
 */
export async function loadPqmExportConvention(folder: string): Promise<ScoringConvention> {
  const format = await readPqmExportFormat(folder);
  return pqmExportConvention(format, await pqmExportBosText(folder, format));
}
