import { defineConfig } from "tsup";

export default defineConfig({
  // The module @pqm/pipeline's training workers import first (to quiet TF.js in each thread) is an
  // entry of its own, built beside the bin (dist/pipeline-worker-setup.js).
  entry: { bin: "src/bin.ts", "pipeline-worker-setup": "src/shared/pipeline-worker-setup.ts" },
  format: ["esm"],
  sourcemap: true,
  clean: true,
  target: "node20",
  splitting: true,
  banner: { js: "#!/usr/bin/env node" },
});
