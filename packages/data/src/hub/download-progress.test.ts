import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import type { HfDownloadProgress } from "./download-progress.js";
import { createProgressReporter, formatBytes } from "./download-progress.js";

function fakeStderr(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
  });
  Object.assign(stream, {
    isTTY,
    columns: 100,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
  });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

describe("createProgressReporter", () => {
  it("writes plain lines in auto mode when stderr is not a terminal, and tells the callback every step", () => {
    const lines: string[] = [];
    const events: HfDownloadProgress[] = [];
    const { stream, text } = fakeStderr(false);
    const reporter = createProgressReporter("hf://a/b/c", {
      mode: "auto",
      log: (line) => lines.push(line),
      onProgress: (event) => events.push(event),
      lineIntervalMs: 0,
      stream,
    });
    reporter.start(1000, 4000);
    reporter.update(2500);
    reporter.finish();
    expect(text()).toBe("");
    expect(lines[0]).toBe("downloading hf://a/b/c (4.0 kB, resuming at 1.0 kB)");
    expect(lines[1]).toBe("downloading hf://a/b/c: 63% 2.5 kB of 4.0 kB");
    expect(lines[2]).toMatch(/^downloaded hf:\/\/a\/b\/c \(2\.5 kB in \d+\.\d s\)$/);
    expect(events.map((event) => [event.downloadedBytes, event.done])).toEqual([
      [1000, false],
      [2500, false],
      [2500, true],
    ]);
  });

  it("draws a bar when asked, even off a terminal, and stays quiet when silent", () => {
    const bar = fakeStderr(false);
    const lines: string[] = [];
    const reporter = createProgressReporter("hf://a/b/c", {
      mode: "bar",
      log: (line) => lines.push(line),
      onProgress: undefined,
      lineIntervalMs: 0,
      stream: bar.stream,
    });
    reporter.start(0, 2_000_000);
    reporter.update(2_000_000);
    reporter.finish();
    expect(bar.text()).toContain("hf://a/b/c");
    expect(bar.text()).toContain("100%");
    expect(lines).toEqual([]);

    const silent = fakeStderr(true);
    const quiet = createProgressReporter("hf://a/b/c", {
      mode: "silent",
      log: (line) => lines.push(line),
      onProgress: undefined,
      lineIntervalMs: 0,
      stream: silent.stream,
    });
    quiet.start(0, 10);
    quiet.finish();
    expect(silent.text()).toBe("");
    expect(lines).toEqual([]);
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
