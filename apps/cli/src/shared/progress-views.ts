// The CLI's progress displays. The libraries only send events (@pqm/data's `onProgress` and
// `onWarning`); this file turns them into a redrawn bar on a terminal, a plain line now and then
// when stderr is a file or a pipe, or nothing (`--no-progress`, `--json`).
import type { AnnotationProgress, HfDownloadProgress } from "@pqm/data";
import cliProgress from "cli-progress";

/** How progress is shown on stderr: `bar` (a terminal), `lines` (a file or pipe), `none`. */
export type ProgressStyle = "bar" | "lines" | "none";

/** The style for a command: `none` when progress is off, else a bar on a terminal and lines elsewhere. */
export function progressStyle(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressStyle {
  if (!enabled) return "none";
  return stream.isTTY ? "bar" : "lines";
}

/** Where a display draws, and how often it writes a plain line. */
export interface ProgressViewOptions {
  /** Default: process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Least time between two plain progress lines, in ms. */
  lineIntervalMs?: number;
}

/** The callbacks @pqm/data's Hub client takes (`hfDownload`, `hfDownloadFiles`, `fetchDataset`). */
export interface DownloadCallbacks {
  onProgress: (event: HfDownloadProgress) => void;
  onWarning: (message: string) => void;
}

/** Bytes as `812 B`, `3.4 kB`, `27.1 MB`, `1.20 GB` (powers of 1000). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

/**
 * Shows Hub downloads: one bar per file on a terminal (warnings printed above the bars), else a line
 * when a file starts (with its size and where it resumes), one every `lineIntervalMs` (10 s) and one
 * when it is done; warnings as lines of their own. `none` shows neither progress nor warnings.
 * Call `close` when the downloads are over, failed or not.
 */
export class DownloadProgressView {
  /** Pass these to the Hub client. */
  readonly callbacks: DownloadCallbacks;
  private readonly stream: NodeJS.WriteStream;
  private readonly lineIntervalMs: number;
  private readonly lastLineAt = new Map<string, number>();
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private multibar: cliProgress.MultiBar | undefined;

  constructor(
    private readonly style: ProgressStyle,
    options: ProgressViewOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.lineIntervalMs = options.lineIntervalMs ?? 10_000;
    this.callbacks = {
      onProgress: (event) => this.progress(event),
      onWarning: (message) => this.warning(message),
    };
  }

  /** Stops the bars (left on screen as they are). */
  close(): void {
    this.multibar?.stop();
    this.multibar = undefined;
    this.bars.clear();
  }

  private progress(event: HfDownloadProgress): void {
    if (this.style === "bar") this.drawBar(event);
    else if (this.style === "lines") this.writeLine(event);
  }

  private warning(message: string): void {
    if (this.style === "none") return;
    // While bars are drawn a line written directly would be overdrawn; the multibar prints it above.
    if (this.multibar?.isActive) this.multibar.log(`${message}\n`);
    else this.stream.write(`${message}\n`);
  }

  private drawBar(event: HfDownloadProgress): void {
    const payload = {
      done: formatBytes(event.downloadedBytes),
      size: event.totalBytes === undefined ? "?" : formatBytes(event.totalBytes),
    };
    let bar = this.bars.get(event.uri);
    if (event.type === "start" || bar === undefined) {
      this.multibar ??= new cliProgress.MultiBar(
        {
          stream: this.stream,
          format: "{uri} |{bar}| {percentage}% {done}/{size}",
          hideCursor: false,
          clearOnComplete: false,
          // Redraws at most ~10 times a second, whatever the chunk rate.
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      bar = this.multibar.create(event.totalBytes ?? 0, event.downloadedBytes, {
        ...payload,
        uri: event.uri,
      });
      this.bars.set(event.uri, bar);
      return;
    }
    if (event.totalBytes !== undefined && bar.getTotal() !== event.totalBytes) bar.setTotal(event.totalBytes);
    bar.update(event.downloadedBytes, payload);
    if (event.type === "done") this.bars.delete(event.uri);
  }

  private writeLine(event: HfDownloadProgress): void {
    const { uri, downloadedBytes: current, totalBytes: total } = event;
    const now = Date.now();
    if (event.type === "start") {
      this.lastLineAt.set(uri, now);
      const resumed = event.resumedBytes > 0 ? `, resuming at ${formatBytes(event.resumedBytes)}` : "";
      this.stream.write(
        `downloading ${uri} (${total === undefined ? "size unknown" : formatBytes(total)}${resumed})\n`,
      );
    } else if (event.type === "done") {
      this.lastLineAt.delete(uri);
      const seconds = (event.elapsedMs / 1000).toFixed(1);
      this.stream.write(`downloaded ${uri} (${formatBytes(current)} in ${seconds} s)\n`);
    } else if (now - (this.lastLineAt.get(uri) ?? 0) >= this.lineIntervalMs) {
      this.lastLineAt.set(uri, now);
      const percent = total ? ` ${((100 * current) / total).toFixed(0)}%` : "";
      this.stream.write(
        `downloading ${uri}:${percent} ${formatBytes(current)}${total ? ` of ${formatBytes(total)}` : ""}\n`,
      );
    }
  }
}

/**
 * Runs `work` with a download display of `style` (see {@link DownloadProgressView}) and closes it
 * afterwards, whether `work` succeeds or throws.
 * @example await withDownloadProgress(progressStyle(options.progress), (hub) => fetchDataset(name, { ...hub }))
 */
export async function withDownloadProgress<T>(
  style: ProgressStyle,
  work: (callbacks: DownloadCallbacks) => Promise<T>,
  options: ProgressViewOptions = {},
): Promise<T> {
  const view = new DownloadProgressView(style, options);
  try {
    return await work(view.callbacks);
  } finally {
    view.close();
  }
}

/**
 * Shows an annotation run (@pqm/data's `annotate` `onProgress`): a bar over the rows on a terminal,
 * else a line every `lineIntervalMs` (2 s) and one at the end:
 * `annotate: 40/96 rows (12 resumed, 1 failed), 2240 rollouts, 35.2 labeled steps/s, 4.1 s`.
 * Call `close` when the run is over, failed or not.
 */
export class AnnotationProgressView {
  /** Pass this as `onProgress`. */
  readonly onProgress: (progress: AnnotationProgress) => void;
  private readonly stream: NodeJS.WriteStream;
  private readonly lineIntervalMs: number;
  private lastLineAt = 0;
  private bar: cliProgress.SingleBar | undefined;

  constructor(
    private readonly style: ProgressStyle,
    options: ProgressViewOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.lineIntervalMs = options.lineIntervalMs ?? 2000;
    this.onProgress = (progress) => this.show(progress);
  }

  /** Stops the bar (left on screen as it is). */
  close(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  private show(progress: AnnotationProgress): void {
    if (this.style === "bar") this.drawBar(progress);
    else if (this.style === "lines") this.writeLine(progress);
  }

  private drawBar(progress: AnnotationProgress): void {
    const rate = progress.elapsedSeconds > 0 ? progress.labeledSteps / progress.elapsedSeconds : 0;
    const payload = {
      rows: progress.doneRows,
      resumed: progress.resumedRows,
      failed: progress.failedRows,
      rollouts: progress.rollouts,
      rate: rate.toFixed(1),
    };
    // The bar counts rows handled, failed ones included, so that it ends full.
    const handled = progress.doneRows + progress.failedRows;
    if (this.bar === undefined) {
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.stream,
          format:
            "annotate |{bar}| {rows}/{total} rows ({resumed} resumed, {failed} failed), " +
            "{rollouts} rollouts, {rate} labeled steps/s, {duration_formatted}",
          hideCursor: false,
          clearOnComplete: false,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(progress.totalRows, handled, payload);
    } else {
      this.bar.update(handled, payload);
    }
    if (progress.type === "end") this.close();
  }

  private writeLine(progress: AnnotationProgress): void {
    const now = Date.now();
    if (progress.type === "start") {
      this.lastLineAt = now;
      return;
    }
    if (progress.type === "row" && now - this.lastLineAt < this.lineIntervalMs) return;
    this.lastLineAt = now;
    const rate = progress.elapsedSeconds > 0 ? progress.labeledSteps / progress.elapsedSeconds : 0;
    this.stream.write(
      `annotate: ${progress.doneRows}/${progress.totalRows} rows (${progress.resumedRows} resumed, ${progress.failedRows} failed), ` +
        `${progress.rollouts} rollouts, ${rate.toFixed(1)} labeled steps/s, ${progress.elapsedSeconds.toFixed(1)} s\n`,
    );
  }
}
