import { defineConfig } from "tsup";

export default defineConfig({
  // The worker thread that trains one model is an entry of its own, built beside index.js
  // (dist/pipeline-worker.js), where the package finds it relative to its own module URL.
  entry: { index: "src/index.ts", "pipeline-worker": "src/pipeline-worker.ts" },
  format: ["esm"],
  dts: { entry: { index: "src/index.ts" } },
  sourcemap: true,
  clean: true,
  target: "node20",
  splitting: true,
});
