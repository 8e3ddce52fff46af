import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { installFastWasmMatMul } from "./fast-wasm-matmul.js";
import { initializeWasmBackend, prepareWasmThreads } from "./wasm-threads.js";

// Its own file: the thread count is fixed when the wasm backend first starts in a process.
describe("wasm threads shim", () => {
  it("starts the wasm backend with 2 threads and computes the same matmul as cpu", async () => {
    expect(await prepareWasmThreads(2)).toBe(true);
    expect(await initializeWasmBackend()).toBe(2);
    installFastWasmMatMul();
    const a = Float32Array.from({ length: 96 * 80 }, (_, index) => Math.sin(index));
    const b = Float32Array.from({ length: 80 * 72 }, (_, index) => Math.cos(index));
    const product = (): Float32Array =>
      tf.tidy(() => tf.matMul(tf.tensor2d(a, [96, 80]), tf.tensor2d(b, [80, 72])).dataSync() as Float32Array);
    const threaded = product();
    await tf.setBackend("cpu");
    const reference = product();
    const differences = [...threaded].map((value, index) => Math.abs(value - (reference[index] as number)));
    expect(Math.max(...differences)).toBeLessThan(1e-4);
    // Too late once the backend has started.
    expect(await prepareWasmThreads(2)).toBe(false);
  });
});
