import { PassThrough } from "node:stream";
import type { AnnotationProgress, HfDownloadProgress } from "@pqm/data";
import { describe, expect, it } from "vitest";
import {
  AnnotationProgressView,
  DownloadProgressView,
  formatBytes,
  progressStyle,
  withDownloadProgress,
} from "./progress-views.js";

/** A stream standing in for stderr, a terminal or not, that keeps what was written. */
function fakeStderr(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
  });
  Object.assign(stream, {
    isTTY,
    columns: 120,
    cursorTo: () => true,
    clearLine: () => true,
    clearScreenDown: () => true,
    moveCursor: () => true,
  });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

const download = (
  type: HfDownloadProgress["type"],
  downloadedBytes: number,
  extra: Partial<HfDownloadProgress> = {},
): HfDownloadProgress => ({
  type,
  uri: "hf://a/b/c",
  downloadedBytes,
  totalBytes: 4000,
  resumedBytes: 1000,
  elapsedMs: 1500,
  ...extra,
});

const annotation = (type: AnnotationProgress["type"], doneRows: number): AnnotationProgress => ({
  type,
  totalRows: 10,
  resumedRows: 2,
  doneRows,
  failedRows: 1,
  rollouts: 64,
  labeledSteps: 30,
  elapsedSeconds: 3,
});

describe("progressStyle", () => {
  it("is none when off, a bar on a terminal, lines elsewhere", () => {
    expect(progressStyle(false, fakeStderr(true).stream)).toBe("none");
    expect(progressStyle(true, fakeStderr(true).stream)).toBe("bar");
    expect(progressStyle(true, fakeStderr(false).stream)).toBe("lines");
  });
});

describe("DownloadProgressView", () => {
  it("writes a start line with the resume point, throttled progress lines, a done line and warnings", () => {
    const { stream, text } = fakeStderr(false);
    const view = new DownloadProgressView("lines", { stream, lineIntervalMs: 0 });
    view.callbacks.onProgress(download("start", 1000));
    view.callbacks.onProgress(download("progress", 2500));
    view.callbacks.onWarning("download of hf://a/b/c interrupted (reset); resuming in 10 ms (retry 1/3)");
    view.callbacks.onProgress(download("done", 4000));
    view.close();
    expect(text().split("\n")).toEqual([
      "downloading hf://a/b/c (4.0 kB, resuming at 1.0 kB)",
      "downloading hf://a/b/c: 63% 2.5 kB of 4.0 kB",
      "download of hf://a/b/c interrupted (reset); resuming in 10 ms (retry 1/3)",
      "downloaded hf://a/b/c (4.0 kB in 1.5 s)",
      "",
    ]);

    const slow = fakeStderr(false);
    const throttled = new DownloadProgressView("lines", { stream: slow.stream, lineIntervalMs: 60_000 });
    throttled.callbacks.onProgress(download("start", 0, { resumedBytes: 0, totalBytes: undefined }));
    throttled.callbacks.onProgress(download("progress", 2500, { resumedBytes: 0, totalBytes: undefined }));
    expect(slow.text()).toBe("downloading hf://a/b/c (size unknown)\n");
  });

  it("draws a bar on a terminal and prints nothing at all when none", async () => {
    const terminal = fakeStderr(true);
    await withDownloadProgress(
      "bar",
      async ({ onProgress }) => {
        onProgress(download("start", 0, { totalBytes: 2_000_000, resumedBytes: 0 }));
        onProgress(download("progress", 2_000_000, { totalBytes: 2_000_000, resumedBytes: 0 }));
        onProgress(download("done", 2_000_000, { totalBytes: 2_000_000, resumedBytes: 0 }));
      },
      { stream: terminal.stream },
    );
    expect(terminal.text()).toContain("hf://a/b/c |");
    expect(terminal.text()).toContain("100% 2.0 MB/2.0 MB");

    const quiet = fakeStderr(true);
    await expect(
      withDownloadProgress(
        "none",
        async ({ onProgress, onWarning }) => {
          onProgress(download("start", 0));
          onWarning("a retry");
          throw new Error("network down");
        },
        { stream: quiet.stream },
      ),
    ).rejects.toThrow("network down");
    expect(quiet.text()).toBe("");
  });
});

describe("AnnotationProgressView", () => {
  it("writes a line at most every interval and always one at the end", () => {
    const { stream, text } = fakeStderr(false);
    const view = new AnnotationProgressView("lines", { stream, lineIntervalMs: 60_000 });
    view.onProgress(annotation("start", 2));
    view.onProgress(annotation("row", 3));
    view.onProgress(annotation("end", 9));
    expect(text()).toBe(
      "annotate: 9/10 rows (2 resumed, 1 failed), 64 rollouts, 10.0 labeled steps/s, 3.0 s\n",
    );
  });

  it("draws a bar over the rows on a terminal", () => {
    const { stream, text } = fakeStderr(true);
    const view = new AnnotationProgressView("bar", { stream });
    view.onProgress(annotation("start", 2));
    view.onProgress(annotation("end", 9));
    view.close();
    expect(text()).toContain("annotate |");
    expect(text()).toContain("9/10 rows (2 resumed, 1 failed), 64 rollouts, 10.0 labeled steps/s");
  });
});

describe("formatBytes", () => {
  it("uses decimal units", () => {
    expect([999, 1500, 27_100_000, 1_200_000_000].map(formatBytes)).toEqual([
      "999 B",
      "1.5 kB",
      "27.1 MB",
      "1.20 GB",
    ]);
  });
});
