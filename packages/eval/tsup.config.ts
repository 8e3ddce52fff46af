import { defineConfig } from "tsup";

export default defineConfig({
  // Two entries: the main one and `report` (the building blocks of the reports, dist/report/index.js).
  // Code both use is split into a shared chunk.
  entry: ["src/index.ts", "src/report/index.ts"],
  format: ["esm"],
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
});
