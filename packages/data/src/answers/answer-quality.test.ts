import { sharedAvailable, sharedPath, sharedSkipReason } from "@pqm/testing";
import { describe, expect, it } from "vitest";
import {
  measureAnswerQuality,
  measureGsmPlusQuality,
  readGsm8k,
  readGsmPlus,
  readMath500,
} from "./answer-quality.js";

describe.skipIf(!sharedAvailable)(`answer checker on the shared reference data${sharedSkipReason}`, () => {
  const report = sharedAvailable
    ? measureAnswerQuality(
        readMath500(sharedPath("data", "math500", "test.jsonl")),
        readGsm8k(sharedPath("data", "gsm8k", "test.jsonl")),
        6000,
      )
    : null;

  it("judges every MATH500 answer equal to the last \\boxed{} of its solution", () => {
    expect(report?.math500.total).toBe(500);
    expect(report?.math500.failures).toEqual([]);
  });
  it("reads every GSM8K test gold back through the checker", () => {
    expect(report?.gsm8k.total).toBe(1319);
    expect(report?.gsm8k.failures).toEqual([]);
  });
  it("judges at most 0.1% of mismatched gold pairs equal", () => {
    const mismatched = report?.mismatched;
    expect(mismatched?.pairs).toBe(6000);
    expect(mismatched?.falseEqualRate).toBeLessThanOrEqual(0.001);
  });
  it("reads every GSM-Plus testmini solution as its answer, None items included", () => {
    const gsmPlus = measureGsmPlusQuality(readGsmPlus(sharedPath("data", "gsm-plus", "testmini.jsonl")));
    expect(gsmPlus.total).toBe(2400);
    expect(gsmPlus.failures).toEqual([]);
    expect(gsmPlus.unanswerable).toBe(300);
    // Without the "#### None" line the detector must still recognise nearly all of them.
    expect(gsmPlus.detectedWithoutMarker).toBeGreaterThanOrEqual(295);
  });
});
