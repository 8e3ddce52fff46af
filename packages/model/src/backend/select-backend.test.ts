import * as tf from "@tensorflow/tfjs-core";
import { afterEach, describe, expect, it } from "vitest";
import { fastWasmMatMulInstalled } from "./fast-wasm-matmul.js";
import { onnxMatMulStatistics } from "./onnx-matmul.js";
import { currentBackendSelection, resetBackendSelection, selectBackend } from "./select-backend.js";

describe("selectBackend", () => {
  afterEach(() => {
    resetBackendSelection();
  });

  it("skips the native packages that are not installed and picks wasm, logging one line", async () => {
    const lines: string[] = [];
    const selection = await selectBackend({ log: (line) => lines.push(line) });
    expect(selection.backend).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(selection.skipped).toEqual({
      "@tensorflow/tfjs-node-gpu": "not installed",
      "@tensorflow/tfjs-node": "not installed",
    });
    expect(lines).toEqual([
      "training on wasm (SIMD, matmuls on ONNX Runtime, 1 thread); install @tensorflow/tfjs-node-gpu for CUDA",
    ]);
    expect(selection.matmul).toBe("onnxruntime");
    expect(onnxMatMulStatistics()).not.toBeNull();
    expect(fastWasmMatMulInstalled()).toBe(true);
    // A second call keeps the first choice and logs nothing.
    expect(await selectBackend({ log: (line) => lines.push(line) })).toBe(selection);
    expect(lines.length).toBe(1);
    expect(currentBackendSelection()).toBe(selection);
  });

  it("reports a native package that is present but fails to load", async () => {
    const selection = await selectBackend({
      log: () => undefined,
      importModule: async (specifier) => {
        if (specifier === "@tensorflow/tfjs-node-gpu")
          throw new Error("libcudart.so.11.0: cannot open shared object file");
        return import(specifier);
      },
    });
    expect(selection.skipped["@tensorflow/tfjs-node-gpu"]).toBe(
      "failed to load: libcudart.so.11.0: cannot open shared object file",
    );
    expect(selection.skipped["@tensorflow/tfjs-node"]).toBe("not installed");
  });

  it("honours a forced backend and PQM_BACKEND, and names the package a forced native backend needs", async () => {
    const cpu = await selectBackend({ backend: "cpu", log: () => undefined });
    expect(cpu.tfBackend).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    resetBackendSelection();
    await expect(selectBackend({ backend: "tensorflow", log: () => undefined })).rejects.toThrow(
      /PQM_BACKEND=tensorflow: @tensorflow\/tfjs-node not installed/,
    );
    process.env.PQM_BACKEND = "tpu";
    try {
      await expect(selectBackend({ log: () => undefined })).rejects.toThrow(
        /PQM_BACKEND=tpu is not a backend/,
      );
      process.env.PQM_BACKEND = "wasm";
      expect((await selectBackend({ log: () => undefined })).backend).toBe("wasm");
    } finally {
      delete process.env.PQM_BACKEND;
    }
  });

  it("keeps the wasm backend's own matmuls on request (PQM_WASM_MATMUL=wasm) and rejects unknown values", async () => {
    process.env.PQM_WASM_MATMUL = "wasm";
    try {
      const lines: string[] = [];
      const selection = await selectBackend({ log: (line) => lines.push(line) });
      expect(selection.matmul).toBe("backend");
      expect(onnxMatMulStatistics()).toBeNull();
      expect(lines).toEqual([
        "training on wasm (SIMD, 1 thread); install @tensorflow/tfjs-node-gpu for CUDA",
      ]);
      resetBackendSelection();
      process.env.PQM_WASM_MATMUL = "blas";
      await expect(selectBackend({ log: () => undefined })).rejects.toThrow(
        /PQM_WASM_MATMUL=blas must be auto, onnxruntime or wasm/,
      );
      resetBackendSelection();
      delete process.env.PQM_WASM_MATMUL;
      expect((await selectBackend({ matmul: "onnxruntime", log: () => undefined })).matmul).toBe(
        "onnxruntime",
      );
    } finally {
      delete process.env.PQM_WASM_MATMUL;
    }
  });
});
