import * as tf from "@tensorflow/tfjs-core";
import { afterEach, describe, expect, it } from "vitest";
import { onnxMatMulStatistics, uninstallOnnxMatMul } from "../onnx/runtime-matmul.js";
import { fastWasmMatMulInstalled } from "./fast-wasm-matmul.js";
import { currentBackendSelection, resetBackendSelection, selectBackend } from "./select-backend.js";

describe("selectBackend", () => {
  afterEach(() => {
    resetBackendSelection();
  });

  it("skips the native packages that are not installed and picks wasm, describing it without a warning", async () => {
    const warnings: string[] = [];
    const selection = await selectBackend({ onWarning: (message) => warnings.push(message) });
    expect(selection.backend).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(selection.skipped).toEqual({
      "@tensorflow/tfjs-node-gpu": "not installed",
      // The WebGPU packages are dev dependencies: what is skipped depends on the machine's adapter.
      webgpu: expect.stringMatching(
        /^(no GPU device|no WebGPU adapter|only a software WebGPU adapter|the WebGPU probe failed)/,
      ),
      "@tensorflow/tfjs-node": "not installed",
    });
    expect(selection.description).toBe("wasm (SIMD, matmuls on ONNX Runtime, 1 thread)");
    expect(selection.advice).toBe("install @tensorflow/tfjs-node-gpu for CUDA");
    expect(warnings).toEqual([]);
    expect(selection.matmul).toBe("onnxruntime");
    expect(onnxMatMulStatistics()).not.toBeNull();
    expect(fastWasmMatMulInstalled()).toBe(true);
    // A second call keeps the first choice.
    expect(await selectBackend({ onWarning: (message) => warnings.push(message) })).toBe(selection);
    expect(warnings).toEqual([]);
    expect(currentBackendSelection()).toBe(selection);
  });

  it("falls back to wasm's own matmuls when onnxruntime-node cannot be imported, and says so through onWarning", async () => {
    const absent = (specifier: string) => {
      if (specifier === "onnxruntime-node") {
        const error = new Error(`Cannot find package 'onnxruntime-node' imported from ${import.meta.url}`);
        return Promise.reject(Object.assign(error, { code: "ERR_MODULE_NOT_FOUND" }));
      }
      return import(specifier);
    };
    uninstallOnnxMatMul(); // installed by an earlier test of this file
    const warnings: string[] = [];
    const selection = await selectBackend({
      threads: 2,
      importModule: absent,
      onWarning: (message) => warnings.push(message),
    });
    expect(selection.matmul).toBe("backend");
    expect(selection.threads).toBe(1);
    expect(onnxMatMulStatistics()).toBeNull();
    expect(selection.description).toBe("wasm (SIMD, 1 thread)");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^the wasm backend computes its own matrix products .* on 1 thread, not 2: /);
    expect(warnings[0]).toContain("onnxruntime-node is not installed");
    expect(warnings[0]).toContain("npm install onnxruntime-node@1.30.0");
    expect(selection.skipped["onnxruntime-node"]).toContain("onnxruntime-node is not installed");
    resetBackendSelection();
    await expect(selectBackend({ matmul: "onnxruntime", importModule: absent })).rejects.toThrow(
      /PQM_WASM_MATMUL=onnxruntime: onnxruntime-node is not installed: computing matrix products on ONNX Runtime needs it \(an optional peer dependency of @pqm\/model\)\. Install it: npm install onnxruntime-node@1\.30\.0/,
    );
  });

  it("reports a native package that is present but fails to load", async () => {
    const selection = await selectBackend({
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

  it("honors a forced backend and PQM_BACKEND, and names the package a forced native backend needs", async () => {
    const cpu = await selectBackend({ backend: "cpu" });
    expect(cpu.tfBackend).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    resetBackendSelection();
    await expect(selectBackend({ backend: "tensorflow" })).rejects.toThrow(
      /@tensorflow\/tfjs-node is not installed: PQM_BACKEND=tensorflow needs it.*Install it: npm install @tensorflow\/tfjs-node@4\.22\.0/,
    );
    process.env.PQM_BACKEND = "tpu";
    try {
      await expect(selectBackend()).rejects.toThrow(/PQM_BACKEND=tpu is not a backend/);
      process.env.PQM_BACKEND = "wasm";
      expect((await selectBackend()).backend).toBe("wasm");
    } finally {
      delete process.env.PQM_BACKEND;
    }
  });

  it("keeps the wasm backend's own matmuls on request (PQM_WASM_MATMUL=wasm) and rejects unknown values", async () => {
    process.env.PQM_WASM_MATMUL = "wasm";
    try {
      const warnings: string[] = [];
      const selection = await selectBackend({ onWarning: (message) => warnings.push(message) });
      expect(selection.matmul).toBe("backend");
      expect(onnxMatMulStatistics()).toBeNull();
      expect(selection.description).toBe("wasm (SIMD, 1 thread)");
      expect(warnings).toEqual([]);
      resetBackendSelection();
      process.env.PQM_WASM_MATMUL = "blas";
      await expect(selectBackend()).rejects.toThrow(/PQM_WASM_MATMUL=blas must be auto, onnxruntime or wasm/);
      resetBackendSelection();
      delete process.env.PQM_WASM_MATMUL;
      expect((await selectBackend({ matmul: "onnxruntime" })).matmul).toBe("onnxruntime");
    } finally {
      delete process.env.PQM_WASM_MATMUL;
    }
  });
});
