import { createReadStream } from "node:fs";
import type { JsonValue } from "@pqm/core/reference";
import { DataFormatError } from "../errors.js";
import type { SourceRecord } from "./jsonl.js";
import type { ReadOptions } from "./read-options.js";
import { createReadStats, handleItemError, ItemError } from "./read-options.js";

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const BOM = [0xef, 0xbb, 0xbf];

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * Streams the elements of a file holding one top-level JSON array (`[{...}, {...}]`), one element
 * at a time, so memory holds one element rather than the whole file (the best-of-n candidate files
 * are hundreds of MB). `line` is the 1-based element number.
 *
 * Written here rather than taken from a streaming JSON library because only the element boundaries
 * are needed: a byte scan that tracks nesting and strings finds them, and the native `JSON.parse`
 * then parses each element far faster than a token-level JS parser would.
 *
 * Throws a {@link DataFormatError} naming the file (and element) when the top level is not an
 * array, the array is not closed, a `}` closes more than was opened, data follows it (with its byte
 * offset), the file is empty (`empty-file`), or an element is invalid JSON (`invalid-json`, an
 * empty slot as in `[1,,2]` or `[1,]` included) or invalid UTF-8 (`invalid-utf8`); with
 * `onError: "skip"` the last three are counted in `options.stats` instead.
 */
export async function* readJsonArray(
  path: string,
  options: ReadOptions & { chunkBytes?: number } = {},
): AsyncGenerator<SourceRecord> {
  const onError = options.onError ?? "throw";
  const stats = options.stats ?? createReadStats();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let started = false;
  let finished = false;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let index = 0;
  let pieces: Buffer[] = [];
  let offset = 0;
  let elementHasContent = false;
  let afterComma = false;

  const finishElement = (): SourceRecord | null => {
    if (!elementHasContent) {
      pieces = [];
      return null;
    }
    const bytes = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    pieces = [];
    elementHasContent = false;
    index += 1;
    stats.seen += 1;
    const location = { file: path, line: index };
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch (error) {
      handleItemError(
        new ItemError(location, "invalid-utf8", "invalid UTF-8", { cause: error }),
        onError,
        stats,
      );
      return null;
    }
    try {
      return { line: index, record: JSON.parse(text) as JsonValue };
    } catch (error) {
      // V8 may quote a piece of the element, line breaks included: the message stays on one line.
      const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ");
      handleItemError(
        new ItemError(location, "invalid-json", `invalid JSON in element ${index}: ${reason}`, {
          cause: error,
        }),
        onError,
        stats,
      );
      return null;
    }
  };

  // An empty slot (`[1,,2]`, `[1,]`, `[,]`) is an error of its own, numbered like an element, so
  // that later elements keep the numbers of their positions.
  const emptyElement = (closing: boolean): void => {
    index += 1;
    stats.seen += 1;
    pieces = [];
    handleItemError(
      new ItemError(
        { file: path, line: index },
        "invalid-json",
        closing
          ? `empty element ${index}: a comma before the closing ']'`
          : `empty element ${index}: a comma with no value before it`,
      ),
      onError,
      stats,
    );
  };

  let bytesBefore = 0;
  const stream = createReadStream(path, { highWaterMark: options.chunkBytes ?? 1024 * 1024 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let position = 0;
      let elementStart = 0;
      for (; position < chunk.length; position += 1) {
        const byte = chunk[position]!;
        if (finished) {
          if (!isWhitespace(byte)) {
            throw new DataFormatError(
              { file: path },
              `unexpected data after the JSON array at byte ${bytesBefore + position}`,
            );
          }
          continue;
        }
        if (!started) {
          offset += 1;
          // A UTF-8 byte-order mark may open the file (possibly split over reads).
          if (offset <= 3 && byte === BOM[offset - 1]) continue;
          if (isWhitespace(byte)) continue;
          if (byte !== OPEN_BRACKET) {
            throw new DataFormatError({ file: path }, "expected a JSON array ('[') at the top level");
          }
          started = true;
          depth = 1;
          elementStart = position + 1;
          continue;
        }
        if (inString) {
          if (escaped) escaped = false;
          else if (byte === BACKSLASH) escaped = true;
          else if (byte === QUOTE) inString = false;
          continue;
        }
        if (byte === QUOTE) {
          inString = true;
          elementHasContent = true;
        } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
          depth += 1;
          elementHasContent = true;
        } else if ((byte === COMMA && depth === 1) || (byte === CLOSE_BRACKET && depth === 1)) {
          pieces.push(chunk.subarray(elementStart, position));
          if (elementHasContent) {
            const record = finishElement();
            if (record !== null) yield record;
          } else if (byte === COMMA || afterComma) {
            emptyElement(byte === CLOSE_BRACKET);
          } else {
            pieces = [];
          }
          afterComma = byte === COMMA;
          elementStart = position + 1;
          if (byte === CLOSE_BRACKET) {
            depth = 0;
            finished = true;
          }
        } else if (byte === CLOSE_BRACE && depth === 1) {
          throw new DataFormatError(
            { file: path, line: index + 1 },
            `unbalanced '}' in element ${index + 1} at byte ${bytesBefore + position}`,
          );
        } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
          depth -= 1;
        } else if (!isWhitespace(byte)) {
          elementHasContent = true;
        }
      }
      if (started && !finished && elementStart < chunk.length) {
        // Copy: a view would keep the whole read chunk alive while the element grows.
        pieces.push(Buffer.from(chunk.subarray(elementStart)));
      }
      bytesBefore += chunk.length;
    }
  } finally {
    stream.destroy();
  }
  if (!started) {
    handleItemError(new ItemError({ file: path }, "empty-file", "empty file: no JSON array"), onError, stats);
    return;
  }
  if (!finished) {
    throw new DataFormatError(
      { file: path, line: index + 1 },
      "truncated JSON array: the closing ']' is missing",
    );
  }
}
