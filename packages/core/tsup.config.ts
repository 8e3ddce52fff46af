import { defineConfig } from "tsup";

export default defineConfig({
  // Two entries: the main one (with the TF.js losses) and `reference`, which never imports TF.js.
  // Code both use is split into a shared chunk, so classes such as LossInputError stay one class.
  entry: ["src/index.ts", "src/reference.ts"],
  format: ["esm"],
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  // Resolved by the user's runtime or bundler through package.json "imports" (see src/tensor-losses.ts).
  external: ["#register-gradients"],
});
