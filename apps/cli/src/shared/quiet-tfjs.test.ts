import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { quietTfjs } from "./quiet-tfjs.js";

// What a fresh cpu backend writes with console.warn on its first tensor: its tfjs-node banner.
function firstWriteWarnings(): string {
  const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
  try {
    const backend = new MathBackendCPU();
    backend.write(new Float32Array([1]), [1], "float32");
    backend.dispose();
    return warn.mock.calls.map((call) => call.map(String).join(" ")).join("\n");
  } finally {
    warn.mockRestore();
  }
}

describe("quietTfjs", () => {
  const debug = process.env.PQM_DEBUG;
  afterEach(() => {
    if (debug === undefined) delete process.env.PQM_DEBUG;
    else process.env.PQM_DEBUG = debug;
    tf.env().set("PROD", true);
  });

  it("keeps the cpu backend's banner off the screen", () => {
    delete process.env.PQM_DEBUG;
    tf.env().set("PROD", false);
    expect(firstWriteWarnings()).toMatch(/Hi, looks like you are running TensorFlow\.js in Node\.js/);
    quietTfjs();
    expect(firstWriteWarnings()).toBe("");
  });

  it("lets TF.js's messages through when PQM_DEBUG is set", () => {
    process.env.PQM_DEBUG = "1";
    tf.env().set("PROD", false);
    quietTfjs();
    expect(tf.env().getBool("PROD")).toBe(false);
  });
});
