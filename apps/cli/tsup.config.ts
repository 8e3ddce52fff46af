import { defineConfig } from "tsup";

export default defineConfig({
  // The demo's worker thread is an entry of its own, built beside the bin (dist/demo-worker.js).
  entry: { bin: "src/bin.ts", "demo-worker": "src/commands/demo/demo-worker.ts" },
  format: ["esm"],
  sourcemap: true,
  clean: true,
  target: "node20",
  splitting: true,
  banner: { js: "#!/usr/bin/env node" },
});
