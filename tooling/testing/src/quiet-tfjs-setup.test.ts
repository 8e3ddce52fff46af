import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { afterEach, describe, expect, it, vi } from "vitest";

// The cpu backend prints its "Hi, looks like you are running TensorFlow.js in Node.js" banner
// through console.warn on the first tensor each backend instance stores.
function firstWriteWarnings(): string[] {
  const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
  try {
    const backend = new MathBackendCPU();
    backend.write(new Float32Array([1, 2]), [2], "float32");
    backend.dispose();
    return warn.mock.calls.map((call) => call.map(String).join(" "));
  } finally {
    warn.mockRestore();
  }
}

describe("the shared vitest setup", () => {
  afterEach(() => {
    tf.env().set("PROD", true);
  });

  it("keeps the cpu backend's banner out of the test output", () => {
    expect(tf.env().getBool("PROD")).toBe(true);
    expect(firstWriteWarnings()).toEqual([]);
  });

  it("would let the banner through without its PROD flag (the check above can fail)", () => {
    tf.env().set("PROD", false);
    expect(firstWriteWarnings().join("\n")).toMatch(
      /Hi, looks like you are running TensorFlow\.js in Node\.js/,
    );
  });
});
