// Reading a vLLM `/pooling` answer: the envelope, one entry per input, one row per step tag, and how a
// row of probabilities becomes the log-odds of a step.
import { MalformedResponseError } from "@pqm/data/http";
import type { PoolingReadout } from "../conventions/scoring-convention.js";

/**
 * The smallest positive normal float32. A probability the server sent as exactly 0 (or 1 - p as 0)
 * is read as this, so that a saturated step gets a large finite log-odds (about ±87) instead of an
 * infinity that a scores file cannot hold.
 */
export const PROBABILITY_FLOOR = 1.1754943508222875e-38;

/** Values outside [0, 1] by at most this much are rounding, not logits. */
const RANGE_TOLERANCE = 1e-4;
/** A two-value row must sum to 1 within this (half-precision softmax rounds to about 1e-3). */
const SUM_TOLERANCE = 0.02;

function log(probability: number): number {
  return Math.log(Math.max(probability, PROBABILITY_FLOOR));
}

/**
 * The log-odds of one step from its row (the row is assumed valid: see {@link readPoolingResponse}):
 * `two-class` `[p0, p1]` (a two-label token classifier such as Qwen2.5-Math-PRM) -> `log p1 - log p0`;
 * `token-pair` `[p+, p-]` (a causal LM's returned token ids, softmaxed over the pair, as Math-Shepherd's
 * `+` and `-`) -> `log p+ - log p-`; `single` `[p]` (a one-label classifier, sigmoid applied) ->
 * `log p - log (1 - p)`. A probability of 0 is read as {@link PROBABILITY_FLOOR}.
 */
export function poolingRowToLogOdds(readout: PoolingReadout, row: readonly number[]): number {
  const [a = Number.NaN, b = Number.NaN] = row;
  switch (readout) {
    case "two-class":
      return log(b) - log(a);
    case "token-pair":
      return log(a) - log(b);
    case "single":
      return log(a) - log(1 - a);
  }
}

function describeValue(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isProbability(value: unknown): value is number {
  return (
    typeof value === "number" &&
    Number.isFinite(value) &&
    value >= -RANGE_TOLERANCE &&
    value <= 1 + RANGE_TOLERANCE
  );
}

const ACTIVATION_HINT =
  "the rows must be probabilities: leave the pooler's activation on (no use_activation: false in --pooler-config)";

/** One row, checked for `readout`; returned as an array (a bare number is a one-value row). */
function readRow(url: string, field: string, value: unknown, readout: PoolingReadout): number[] {
  const width = readout === "single" ? 1 : 2;
  const row = readout === "single" && typeof value === "number" ? [value] : value;
  if (!Array.isArray(row)) {
    throw new MalformedResponseError(
      url,
      field,
      `expected a row of ${width} number${width === 1 ? "" : "s"}, got ${describeValue(value)}`,
    );
  }
  if (row.length !== width) {
    const hint =
      readout === "token-pair"
        ? " (start the server with returned_token_ids naming the positive and negative token ids in --pooler-config)"
        : readout === "two-class"
          ? " (is the served model a two-label token classifier such as Qwen2ForProcessRewardModel?)"
          : " (is the served model a one-label token classifier?)";
    throw new MalformedResponseError(
      url,
      field,
      `expected ${width} value${width === 1 ? "" : "s"} per step row for the ${readout} readout, got ${row.length}${hint}`,
    );
  }
  row.forEach((entry, i) => {
    if (typeof entry !== "number" || !Number.isFinite(entry)) {
      throw new MalformedResponseError(url, `${field}.${i}`, `not a finite number: ${describeValue(entry)}`);
    }
  });
  if (!row.every(isProbability)) {
    throw new MalformedResponseError(
      url,
      field,
      `${describeValue(row)} is not a row of probabilities in [0, 1]; ${ACTIVATION_HINT}`,
    );
  }
  const numbers = row as number[];
  if (width === 2 && Math.abs(numbers[0]! + numbers[1]! - 1) > SUM_TOLERANCE) {
    throw new MalformedResponseError(
      url,
      field,
      `the row ${describeValue(row)} does not sum to 1; ${ACTIVATION_HINT}`,
    );
  }
  return numbers;
}

/**
 * Reads a `/pooling` answer for `inputs` inputs: `{ data: [{ index, data: rows }...] }`, the shape of
 * vLLM's `PoolingResponse` (v0.7 to v0.18 alike: `object: "list"`, entries with `object: "pooling"`,
 * which are not checked). Entries are put in `index` order when every entry has a distinct index in
 * range, else taken in order. Each entry's `data` is a list of rows, one per step tag; for the
 * `single` readout a flat list of numbers (one per step) is accepted as well. Returns, per input, its
 * rows (unchanged values). Throws MalformedResponseError naming the URL and the field
 * (`data`, `data.2.data`, `data.2.data.4`...) for anything else, with what to change on the server
 * when the rows are not probabilities or have the wrong width.
 */
export function readPoolingResponse(
  url: string,
  json: unknown,
  inputs: number,
  readout: PoolingReadout,
): number[][][] {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new MalformedResponseError(url, "(body)", `expected a JSON object, got ${describeValue(json)}`);
  }
  const data = (json as { data?: unknown }).data;
  if (!Array.isArray(data)) {
    throw new MalformedResponseError(
      url,
      "data",
      data === undefined ? "missing (is this vLLM's /pooling?)" : `not a list: ${describeValue(data)}`,
    );
  }
  if (data.length !== inputs) {
    throw new MalformedResponseError(
      url,
      "data",
      `${data.length} entries for ${inputs} input${inputs === 1 ? "" : "s"}`,
    );
  }
  const indices = data.map((entry) =>
    typeof entry === "object" && entry !== null ? (entry as { index?: unknown }).index : undefined,
  );
  const indexed =
    indices.every(
      (index) => Number.isInteger(index) && (index as number) >= 0 && (index as number) < inputs,
    ) && new Set(indices).size === inputs;
  const ordered: unknown[] = new Array(inputs);
  data.forEach((entry, position) => {
    ordered[indexed ? (indices[position] as number) : position] = entry;
  });
  return ordered.map((entry, i) => {
    const field = `data.${i}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new MalformedResponseError(url, field, `expected an object, got ${describeValue(entry)}`);
    }
    const rows = (entry as { data?: unknown }).data;
    if (!Array.isArray(rows)) {
      throw new MalformedResponseError(
        url,
        `${field}.data`,
        rows === undefined
          ? "missing"
          : typeof rows === "string"
            ? "a base64 string: ask for encoding_format float (the default)"
            : `not a list: ${describeValue(rows)}`,
      );
    }
    return rows.map((row, r) => readRow(url, `${field}.data.${r}`, row, readout));
  });
}

/**
 * The message of a vLLM error body, when `text` holds one: `{"error": {"message", "type", "code"}}`
 * (vLLM 0.10 and later), `{"object": "error", "message", "type", "code"}` (earlier) or FastAPI's
 * `{"detail": ...}`; also out of a body cut short, by its `"message"` field. Undefined otherwise.
 */
export function vllmErrorMessage(text: string): string | undefined {
  const start = text.indexOf("{");
  if (start < 0) return undefined;
  const body = text.slice(start);
  try {
    const json = JSON.parse(body) as {
      error?: { message?: unknown; type?: unknown } | string;
      message?: unknown;
      type?: unknown;
      detail?: unknown;
    };
    const inner = typeof json.error === "object" && json.error !== null ? json.error : json;
    if (typeof inner.message === "string") {
      return typeof inner.type === "string" ? `${inner.message} (${inner.type})` : inner.message;
    }
    if (typeof json.error === "string") return json.error;
    if (json.detail !== undefined)
      return typeof json.detail === "string" ? json.detail : JSON.stringify(json.detail);
    return undefined;
  } catch {
    const match = /"message"\s*:\s*"((?:[^"\\]|\\.)*)/.exec(body);
    if (match === null) return undefined;
    try {
      return `${JSON.parse(`"${match[1]}"`) as string}...`;
    } catch {
      return `${match[1]}...`;
    }
  }
}
