import cliProgress from "cli-progress";

/** One progress report of a download; bytes count the whole file, including a resumed prefix. */
export interface HfDownloadProgress {
  /** The `hf://` URI being downloaded. */
  uri: string;
  /** Bytes on disk so far. */
  downloadedBytes: number;
  /** The file's size when the server said it, else undefined. */
  totalBytes: number | undefined;
  /** True on the last report of a finished download. */
  done: boolean;
}

/**
 * How a download shows progress on stderr: `bar` (a cli-progress bar), `lines` (a plain line at the
 * start, every `lineIntervalMs` and at the end), `silent`, or `auto`: a bar when stderr is a TTY,
 * else lines.
 */
export type HfProgressMode = "auto" | "bar" | "lines" | "silent";

/** Where progress goes; the callback gets every chunk's report whatever the mode. */
export interface ProgressOptions {
  mode: HfProgressMode;
  /** Receives the plain lines (already free of secrets). */
  log: (line: string) => void;
  onProgress: ((event: HfDownloadProgress) => void) | undefined;
  /** Time between plain lines, in ms. */
  lineIntervalMs: number;
  /** The stream the bar draws on. */
  stream: NodeJS.WriteStream;
}

/** Tracks one download's progress; `update` per chunk, then `finish` or `stop`. */
export interface ProgressReporter {
  start(downloadedBytes: number, totalBytes: number | undefined): void;
  update(downloadedBytes: number): void;
  finish(): void;
  /** Ends the display without a success line (the caller reports the error). */
  stop(): void;
}

/** Builds the reporter for one download of `uri`. */
export function createProgressReporter(uri: string, options: ProgressOptions): ProgressReporter {
  const mode = options.mode === "auto" ? (options.stream.isTTY ? "bar" : "lines") : options.mode;
  let total: number | undefined;
  let current = 0;
  let startedAt = 0;
  let lastLineAt = 0;
  let bar: cliProgress.SingleBar | undefined;

  const emit = (done: boolean): void => {
    options.onProgress?.({ uri, downloadedBytes: current, totalBytes: total, done });
  };

  return {
    start(downloadedBytes, totalBytes) {
      current = downloadedBytes;
      total = totalBytes;
      startedAt = Date.now();
      lastLineAt = startedAt;
      if (mode === "bar") {
        bar = new cliProgress.SingleBar(
          {
            stream: options.stream,
            format: `${uri} |{bar}| {percentage}% {done}/{size}`,
            hideCursor: false,
            // A bar asked for explicitly is drawn even when stderr is not a terminal.
            noTTYOutput: !options.stream.isTTY,
            clearOnComplete: false,
            // Redraws at most ~10 times a second, whatever the chunk rate.
            fps: 10,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total ?? 0, current, {
          done: formatBytes(current),
          size: total ? formatBytes(total) : "?",
        });
      } else if (mode === "lines") {
        const resumed = downloadedBytes > 0 ? `, resuming at ${formatBytes(downloadedBytes)}` : "";
        options.log(
          `downloading ${uri} (${total === undefined ? "size unknown" : formatBytes(total)}${resumed})`,
        );
      }
      emit(false);
    },
    update(downloadedBytes) {
      current = downloadedBytes;
      if (bar !== undefined) {
        bar.update(current, { done: formatBytes(current) });
      } else if (mode === "lines") {
        const now = Date.now();
        if (now - lastLineAt >= options.lineIntervalMs) {
          lastLineAt = now;
          const percent = total ? ` ${((100 * current) / total).toFixed(0)}%` : "";
          options.log(
            `downloading ${uri}:${percent} ${formatBytes(current)}${total ? ` of ${formatBytes(total)}` : ""}`,
          );
        }
      }
      emit(false);
    },
    finish() {
      if (bar !== undefined) {
        bar.update(current, { done: formatBytes(current) });
        bar.stop();
        bar = undefined;
      } else if (mode === "lines") {
        const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
        options.log(`downloaded ${uri} (${formatBytes(current)} in ${seconds} s)`);
      }
      emit(true);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/** Bytes as `812 B`, `3.4 kB`, `27.1 MB`, `1.20 GB` (powers of 1000). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}
