import { ModelLoadError } from "../backbone/model-load-error.js";
import { HF_EXPORT_INFO_FILE } from "../export/hf-token-classification.js";
import { getScoringConvention, MATH_SHEPHERD_STEP_TAG } from "./convention-catalog.js";
import type { FolderEvidence } from "./folder-evidence.js";
import { readFolderEvidence } from "./folder-evidence.js";
import type { PqmExportFormat } from "./pqm-export.js";
import { pqmExportBosText, pqmExportConvention, readPqmExportFormat } from "./pqm-export.js";
import type { ScoringConvention, ScoringConventionName } from "./scoring-convention.js";
import { scoringConventionNames } from "./scoring-convention.js";
import { findHeadTensor } from "./weight-names.js";

/** What detection decided, and why (for messages and `--json` output). */
export interface ConventionDetection {
  convention: ScoringConventionName;
  /** The evidence that decided it, in words. */
  reason: string;
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

/** The evidence in one line, for an error that lists what detection saw. */
export function describeEvidence(evidence: FolderEvidence): string {
  const architectures = stringList(evidence.config?.architectures);
  const heads = [...evidence.tensors.keys()].filter(
    (name) => /(^|\.)(v_head|score|lm_head)\./.test(name) && !/\.layers\./.test(name),
  );
  const special = evidence.addedTokens
    .filter((token) => /^<\|?[^>]*\|?>$|^\[[A-Z_]+\]$/.test(token))
    .slice(0, 12);
  return (
    `config.json ${evidence.config === null ? "absent" : `architectures [${architectures.join(", ")}], model_type ${JSON.stringify(evidence.config.model_type)}`}; ` +
    `head tensors [${heads.join(", ")}]; special tokens [${special.join(", ")}]`
  );
}

/**
 * Decides a folder's convention from its evidence, or returns null when the evidence does not decide.
 * Rules, in order: no config.json and a `v_head.summary` → `pqm-release`; a `pqm_export.json` (pqm's own
 * export) → `pqm-export`; `Qwen2ForProcessRewardModel` or `score.0`/`score.2` tensors →
 * `qwen2.5-math-prm`; a `*ForTokenClassification` class or a `score.weight` of 1 or 2 rows →
 * `trl-token-classification`; a `v_head.summary` with Skywork's PRM class → `skywork-prm`,
 * with any other → `trl-value-head`; a plain causal LM with Llama-3's chat header tokens → `rlhflow-prm`,
 * with Math-Shepherd's `ки` in its vocabulary → `math-shepherd`.
 */
export function conventionFromEvidence(evidence: FolderEvidence): ConventionDetection | null {
  const { tensors } = evidence;
  const architectures = stringList(evidence.config?.architectures);
  const valueHead = findHeadTensor(tensors, null, "v_head.summary.weight");
  if (evidence.config === null) {
    if (valueHead !== undefined)
      return { convention: "pqm-release", reason: `no config.json, a bare state dict with ${valueHead}` };
    return null;
  }
  if (evidence.hasPqmExport) {
    return {
      convention: "pqm-export",
      reason: `${HF_EXPORT_INFO_FILE} (written by pqm's Hugging Face export)${architectures.length > 0 ? ` beside ${architectures.join("/")}` : ""}`,
    };
  }
  const has = (name: string) => findHeadTensor(tensors, null, name) !== undefined;
  if (
    architectures.includes("Qwen2ForProcessRewardModel") ||
    (has("score.0.weight") && has("score.2.weight"))
  ) {
    return {
      convention: "qwen2.5-math-prm",
      reason: architectures.includes("Qwen2ForProcessRewardModel")
        ? "architectures Qwen2ForProcessRewardModel"
        : "score.0 / score.2 head tensors",
    };
  }
  const tokenClass = architectures.find((name) => name.endsWith("ForTokenClassification"));
  const scoreName = findHeadTensor(tensors, null, "score.weight");
  const scoreRows = scoreName === undefined ? undefined : tensors.get(scoreName)?.shape[0];
  if (tokenClass !== undefined || scoreRows === 1 || scoreRows === 2) {
    return {
      convention: "trl-token-classification",
      reason:
        tokenClass !== undefined ? `architectures ${tokenClass}` : `${scoreName} with ${scoreRows} rows`,
    };
  }
  if (valueHead !== undefined) {
    const skywork = architectures.find((name) =>
      getScoringConvention("skywork-prm").architectures.includes(name),
    );
    if (skywork !== undefined)
      return { convention: "skywork-prm", reason: `architectures ${skywork} with ${valueHead}` };
    return {
      convention: "trl-value-head",
      reason: `${valueHead} beside a ${architectures.join("/") || "decoder"}`,
    };
  }
  const causal = architectures.find((name) => name.endsWith("ForCausalLM"));
  if (causal !== undefined) {
    if (evidence.addedTokens.includes("<|start_header_id|>") && evidence.addedTokens.includes("<|eot_id|>")) {
      return {
        convention: "rlhflow-prm",
        reason: `${causal} with Llama-3's <|start_header_id|> and <|eot_id|> tokens`,
      };
    }
    if (
      evidence.vocabularyHas(`▁${MATH_SHEPHERD_STEP_TAG}`) ||
      evidence.vocabularyHas(MATH_SHEPHERD_STEP_TAG)
    ) {
      return {
        convention: "math-shepherd",
        reason: `${causal} whose vocabulary has Math-Shepherd's ${MATH_SHEPHERD_STEP_TAG}`,
      };
    }
  }
  return null;
}

/** A convention as one folder makes it: the catalog's, specialised where the folder decides details. */
export interface FolderConvention {
  convention: ScoringConvention;
  /** `pqm-export`: the checked `pqm_export.json`. */
  pqmExport?: PqmExportFormat;
}

/**
 * The convention `name` bound to a folder: `pqm-export` reads the folder's `pqm_export.json` (its prompt
 * template, step tag, BOS and score bias); `trl-token-classification` reads `single` rows from vLLM when
 * the folder's `score.weight` has one row (vLLM applies a sigmoid to a one-label classifier, a softmax to
 * two); every other convention is the catalog's.
 * @throws ModelLoadError naming the file and field for a malformed `pqm_export.json`.
 */
export async function bindConvention(
  name: ScoringConventionName,
  evidence: FolderEvidence,
): Promise<FolderConvention> {
  if (name === "pqm-export") {
    const pqmExport = await readPqmExportFormat(evidence.folder);
    const bosText = await pqmExportBosText(evidence.folder, pqmExport);
    return { convention: pqmExportConvention(pqmExport, bosText), pqmExport };
  }
  const convention = getScoringConvention(name);
  if (name === "trl-token-classification") {
    const scoreName = findHeadTensor(evidence.tensors, null, "score.weight");
    const rows = scoreName === undefined ? undefined : evidence.tensors.get(scoreName)?.shape[0];
    if (rows === 1)
      return { convention: Object.freeze({ ...convention, poolingReadout: "single" as const }) };
  }
  return { convention };
}

/**
 * The convention of a Hugging Face folder, from `config.json`'s `architectures` / `model_type`, the tensor
 * names in its safetensors headers, its tokenizer's special tokens and a `pqm_export.json` (see
 * `conventionFromEvidence` for the rules), bound to the folder (see {@link scoringConventionForFolder}).
 * Reads no tensor data.
 * @throws ModelLoadError naming the folder when it is missing or has no weights, or when the evidence does
 *   not decide: the message lists what was seen and the convention names to pass instead.
 */
export async function detectScoringConvention(folder: string): Promise<ScoringConvention> {
  return scoringConventionForFolder(folder);
}

/**
 * The convention of a folder, named or detected, as that folder makes it: for `pqm-export` the prompt,
 * step tag, BOS and bias recorded in its `pqm_export.json` (what `renderText` writes and what a vLLM row
 * needs added); for `trl-token-classification` with one label the `single` readout; otherwise
 * `getScoringConvention(name)`. This is the convention to give `VllmPoolingScorer` for a folder served by
 * vLLM. Reads no tensor data.
 * @throws Error naming the known conventions for an unknown `name`; ModelLoadError as
 *   {@link detectScoringConvention}, or naming the file and field of a malformed `pqm_export.json`.
 */
export async function scoringConventionForFolder(folder: string, name?: string): Promise<ScoringConvention> {
  const known = name === undefined ? undefined : getScoringConvention(name).name;
  const evidence = await readFolderEvidence(folder);
  return (await bindConvention(known ?? decide(evidence).convention, evidence)).convention;
}

/** {@link detectScoringConvention}, also saying what decided it. */
export async function detectScoringConventionWithReason(folder: string): Promise<ConventionDetection> {
  return decide(await readFolderEvidence(folder));
}

function decide(evidence: FolderEvidence): ConventionDetection {
  const detected = conventionFromEvidence(evidence);
  if (detected === null) {
    throw new ModelLoadError(
      evidence.folder,
      undefined,
      `cannot tell which PRM convention this folder follows (saw ${describeEvidence(evidence)}); ` +
        `name one of: ${scoringConventionNames.join(", ")}`,
    );
  }
  return detected;
}
