import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ModelLoadError } from "../backbone/model-load-error.js";
import type { CheckpointFileRecord, PqmMetadata } from "./checkpoint-format.js";

/** The size and SHA-256 of bytes about to be written. */
export function fileRecord(bytes: Uint8Array | string): CheckpointFileRecord {
  const data = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes;
  return { bytes: data.byteLength, sha256: createHash("sha256").update(data).digest("hex") };
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

const groupDigits = (value: number): string => value.toLocaleString("en-US");

/**
 * A checkpoint whose files do not match the sizes and SHA-256 digests `pqm.json` recorded when it was
 * written: a save cut short, a copy that stopped half-way, a flipped bit. The message names the folder,
 * each bad file and the remedy (delete the folder, or resume from the checkpoint before it).
 */
export class CheckpointIntegrityError extends ModelLoadError {
  /** The checkpoint folder. */
  readonly folder: string;
  /** One line per bad file: `model.safetensors is 1,234 bytes, expected 5,678`. */
  readonly problems: readonly string[];

  constructor(folder: string, problems: readonly string[], remedy: string) {
    super(folder, undefined, `checkpoint is incomplete or corrupted: ${problems.join("; ")}; ${remedy}`);
    this.name = "CheckpointIntegrityError";
    this.folder = folder;
    this.problems = problems;
  }
}

/** The step in a `checkpoint-000040` folder name, or null. */
export function checkpointFolderStep(name: string): number | null {
  const match = /^checkpoint-(\d+)$/.exec(name);
  return match === null ? null : Number(match[1]);
}

/** What to do about a bad checkpoint: delete it, or resume from the latest earlier `checkpoint-N` beside it. */
async function remedyFor(folder: string): Promise<string> {
  const own = checkpointFolderStep(basename(folder));
  const parent = dirname(folder);
  let earlier: string | undefined;
  if (own !== null && existsSync(parent)) {
    let best = -1;
    for (const entry of await readdir(parent)) {
      const step = checkpointFolderStep(entry);
      if (step !== null && step < own && step > best) {
        best = step;
        earlier = entry;
      }
    }
  }
  return earlier === undefined
    ? "delete the folder and save or train it again"
    : `delete the folder, or resume from ${join(parent, earlier)}`;
}

/**
 * Checks a checkpoint's files against the sizes and SHA-256 digests recorded in its `pqm.json`.
 * Returns false (nothing checked) when `pqm.json` has no record (a checkpoint written before records
 * existed).
 * @throws CheckpointIntegrityError naming every missing, short, long or altered file and the remedy.
 */
export async function verifyCheckpointFiles(folder: string, metadata: PqmMetadata): Promise<boolean> {
  const files = metadata.files;
  if (files === undefined) return false;
  const problems: string[] = [];
  for (const [name, expected] of Object.entries(files)) {
    const path = join(folder, name);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      problems.push(`${name} is missing (expected ${groupDigits(expected.bytes)} bytes)`);
      continue;
    }
    if (size !== expected.bytes) {
      problems.push(`${name} is ${groupDigits(size)} bytes, expected ${groupDigits(expected.bytes)}`);
      continue;
    }
    if ((await sha256OfFile(path)) !== expected.sha256) {
      problems.push(`${name} has the right size but its SHA-256 differs (altered bytes)`);
    }
  }
  if (problems.length > 0) throw new CheckpointIntegrityError(folder, problems, await remedyFor(folder));
  return true;
}
