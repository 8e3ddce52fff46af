/**
 * One progress event of a Hub download, given to `onProgress`. Bytes count the whole file, a resumed
 * prefix included. A download sends one `start`, a `progress` per body chunk, then `done` once the
 * file is verified and in the cache. A download that fails sends no `done` (its promise rejects); a
 * file found in the cache sends nothing.
 */
export interface HfDownloadProgress {
  /**
   * `start`: the body is about to be fetched (`resumedBytes` are already on disk from an earlier,
   * interrupted try); `progress`: a chunk was written; `done`: the file is complete and verified.
   */
  type: "start" | "progress" | "done";
  /** The `hf://` URI being downloaded. */
  uri: string;
  /** Bytes on disk so far. May go back to 0 when a server ignores a Range request. */
  downloadedBytes: number;
  /** The file's size when the server said it, else undefined. */
  totalBytes: number | undefined;
  /** Bytes of a partial file found on disk when the download started (0 for a fresh download). */
  resumedBytes: number;
  /** Milliseconds since the `start` event. */
  elapsedMs: number;
}

/** Turns one download's steps into `HfDownloadProgress` events; `update` per chunk, then `finish`. */
export interface ProgressReporter {
  start(downloadedBytes: number, totalBytes: number | undefined): void;
  /** `totalBytes` when the size became known only from the GET answer. */
  update(downloadedBytes: number, totalBytes?: number): void;
  finish(): void;
}

/** Builds the reporter for one download of `uri`; without a callback it does nothing. */
export function createProgressReporter(
  uri: string,
  onProgress: ((event: HfDownloadProgress) => void) | undefined,
): ProgressReporter {
  let total: number | undefined;
  let current = 0;
  let resumed = 0;
  let startedAt = 0;
  const emit = (type: HfDownloadProgress["type"]): void => {
    onProgress?.({
      type,
      uri,
      downloadedBytes: current,
      totalBytes: total,
      resumedBytes: resumed,
      elapsedMs: Date.now() - startedAt,
    });
  };
  return {
    start(downloadedBytes, totalBytes) {
      current = downloadedBytes;
      resumed = downloadedBytes;
      total = totalBytes;
      startedAt = Date.now();
      emit("start");
    },
    update(downloadedBytes, totalBytes) {
      current = downloadedBytes;
      total ??= totalBytes;
      emit("progress");
    },
    finish() {
      emit("done");
    },
  };
}
