import { describe, expect, it } from "vitest";
import { isEquivalent } from "./is-equivalent.js";

// Inputs built to make a checker slow or crash, and the gold each is compared with.
const ADVERSARIAL: ReadonlyArray<readonly [string, string, string]> = [
  ["deep braces", `${"{".repeat(5000)}1${"}".repeat(5000)}`, "1"],
  ["deep fractions", `${"\\frac{1}{".repeat(2000)}2${"}".repeat(2000)}`, "\\frac{1}{2}"],
  ["deep parentheses", `${"(".repeat(3000)}x${")".repeat(3000)}`, "x"],
  ["10k characters of digits", "9".repeat(10_000), "9"],
  ["10k-character sum", Array.from({ length: 2500 }, () => "x+1").join("+"), "2500x+2500"],
  ["10k-character list", Array.from({ length: 3300 }, (_, index) => String(index % 10)).join(","), "1,2"],
  ["power tower", "10^{10^{10^{10}}}", "10^{10^{10}}"],
  ["huge factorial", "100000!", "1"],
  ["huge binomial", "\\binom{1000000000}{500000000}", "1"],
  ["many \\pm", "1\\pm2\\pm3\\pm4\\pm5\\pm6\\pm7\\pm8", "1"],
  ["many variables", "abcdefghijklmnopqrstuvwxyz", "zyxwvutsrqponmlkjihgfedcba"],
  ["unbalanced", "\\frac{1}{2", "\\frac{1}{2}"],
];

describe("isEquivalent on adversarial inputs", () => {
  it.each(ADVERSARIAL)("%s finishes quickly without throwing", (_name, prediction, gold) => {
    isEquivalent(prediction, gold, "math");
    // Median of three, so one scheduling hiccup on a shared machine does not fail the test.
    const times: number[] = [];
    for (let run = 0; run < 3; run++) {
      const start = performance.now();
      isEquivalent(prediction, gold, "math");
      isEquivalent(gold, prediction, "math");
      times.push((performance.now() - start) / 2);
    }
    times.sort((a, b) => a - b);
    expect(times[1]).toBeLessThan(100);
  });
  it("gives the expected verdicts on the ones that have one", () => {
    expect(isEquivalent("abcdefghijklmnopqrstuvwxyz", "zyxwvutsrqponmlkjihgfedcba", "math")).toBe(true);
    expect(isEquivalent("10^{10^{10^{10}}}", "10^{10^{10}}", "math")).toBe(false);
    expect(isEquivalent("\\binom{1000000000}{500000000}", "1", "math")).toBe(false);
  });
});
