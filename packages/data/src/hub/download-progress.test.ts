import { describe, expect, it } from "vitest";
import type { HfDownloadProgress } from "./download-progress.js";
import { createProgressReporter } from "./download-progress.js";

describe("createProgressReporter", () => {
  it("sends start, one progress per update and done, with the resumed prefix and a size learnt late", () => {
    const events: HfDownloadProgress[] = [];
    const reporter = createProgressReporter("hf://a/b/c", (event) => events.push(event));
    reporter.start(1000, undefined);
    reporter.update(2500, 4000);
    reporter.update(4000, 4000);
    reporter.finish();
    expect(
      events.map(({ type, downloadedBytes, totalBytes, resumedBytes }) => ({
        type,
        downloadedBytes,
        totalBytes,
        resumedBytes,
      })),
    ).toEqual([
      { type: "start", downloadedBytes: 1000, totalBytes: undefined, resumedBytes: 1000 },
      { type: "progress", downloadedBytes: 2500, totalBytes: 4000, resumedBytes: 1000 },
      { type: "progress", downloadedBytes: 4000, totalBytes: 4000, resumedBytes: 1000 },
      { type: "done", downloadedBytes: 4000, totalBytes: 4000, resumedBytes: 1000 },
    ]);
    expect(events.every((event) => event.uri === "hf://a/b/c" && event.elapsedMs >= 0)).toBe(true);
  });

  it("does nothing without a callback", () => {
    const reporter = createProgressReporter("hf://a/b/c", undefined);
    expect(() => {
      reporter.start(0, 10);
      reporter.update(10);
      reporter.finish();
    }).not.toThrow();
  });
});
