import { mulberry32 } from "@pqm/core/reference";
import { describe, expect, it } from "vitest";
import { shuffled } from "./seeded-shuffle.js";

describe("seeded shuffling", () => {
  it("repeats for a seed, differs across seeds, and stays in [0, 1)", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const first = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(first);
    expect(first.every((value) => value >= 0 && value < 1)).toBe(true);
    expect(mulberry32(43)()).not.toBe(first[0]);
    const mean = first.reduce((sum, value) => sum + value, 0) / first.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
  });

  it("permutes without losing or repeating items, and leaves the input alone", () => {
    const items = Array.from({ length: 50 }, (_, index) => index);
    const out = shuffled(items, mulberry32(1));
    expect([...out].sort((x, y) => x - y)).toEqual(items);
    expect(out).not.toEqual(items);
    expect(items[0]).toBe(0);
  });
});
