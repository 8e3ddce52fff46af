import { defineConfig } from "tsup";

export default defineConfig({
  // Two entries: the package (`@pqm/data`) and the shared HTTP machinery (`@pqm/data/http`). Code
  // both use goes into a shared chunk, so a class such as HttpRequestError stays one class.
  entry: ["src/index.ts", "src/http/index.ts"],
  format: ["esm"],
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
});
