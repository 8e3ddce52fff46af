import type { FileHandle } from "node:fs/promises";
import { open, readFile, truncate } from "node:fs/promises";
import { DataFormatError } from "../errors.js";

/** What `openResumableJsonl` found in an existing file. */
export interface ResumableJsonlState<T> {
  /** The complete rows already in the file, in file order. */
  rows: T[];
  /** True when an unfinished last line (a write cut short by a kill) was found and removed. */
  droppedPartialLine: boolean;
}

/**
 * An append-only JSONL file that survives being killed: every row is written as one line and
 * flushed to disk (fsync) before `append` resolves, so a finished row is never lost; on opening, an
 * unfinished last line (no trailing newline, or not valid JSON) is cut off so the next append
 * starts on a clean line.
 */
export class ResumableJsonlWriter<T> {
  readonly path: string;
  readonly #handle: FileHandle;
  // Appends are chained so concurrent callers never interleave bytes within a line.
  #queue: Promise<void> = Promise.resolve();

  private constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.#handle = handle;
  }

  /**
   * Opens (or creates) `path`, reads the rows already there, and repairs a partial last line.
   * Throws a DataFormatError naming the file and line when a line before the last is not valid JSON
   * (that is damage a kill cannot cause, so it is not silently dropped).
   */
  static async open<T>(path: string): Promise<{ writer: ResumableJsonlWriter<T> } & ResumableJsonlState<T>> {
    const state = await readResumableJsonl<T>(path, { repair: true });
    const handle = await open(path, "a");
    return { writer: new ResumableJsonlWriter<T>(path, handle), ...state };
  }

  /** Appends one row and waits until it is on disk. */
  append(row: T): Promise<void> {
    const line = `${JSON.stringify(row)}\n`;
    const next = this.#queue.then(async () => {
      await this.#handle.write(line);
      await this.#handle.sync();
    });
    // A failed write must not wedge later ones; the caller of this append still sees the error.
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Waits for pending appends and closes the file. */
  async close(): Promise<void> {
    await this.#queue;
    await this.#handle.close();
  }
}

/**
 * Reads the complete rows of a JSONL file written by `ResumableJsonlWriter` (a missing file has
 * none). A partial last line is ignored, and with `repair` also cut from the file. Throws a
 * DataFormatError (file:line) for an invalid line that is not the last.
 */
export async function readResumableJsonl<T>(
  path: string,
  options: { repair?: boolean } = {},
): Promise<ResumableJsonlState<T>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { rows: [], droppedPartialLine: false };
    throw error;
  }
  const lines = text.split("\n");
  // After the last newline: empty for a clean file, else a line cut short.
  let partial = lines.pop() ?? "";
  let keptBytes = Buffer.byteLength(text, "utf8") - Buffer.byteLength(partial, "utf8");
  const rows: T[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === "") continue;
    try {
      rows.push(JSON.parse(line) as T);
    } catch (error) {
      if (i === lines.length - 1 && partial === "") {
        // A torn final write that happened to end in a newline byte: drop it like any partial line.
        partial = line;
        keptBytes -= Buffer.byteLength(line, "utf8") + 1;
        break;
      }
      throw new DataFormatError(
        { file: path, line: i + 1 },
        "not valid JSON (the file is damaged before its last line)",
        {
          cause: error,
        },
      );
    }
  }
  const droppedPartialLine = partial !== "";
  if (droppedPartialLine && options.repair) await truncate(path, keptBytes);
  return { rows, droppedPartialLine };
}
