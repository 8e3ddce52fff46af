import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { defineConfig } from "tsup";

/**
 * Drops the embedded sources of bundled third-party code from the source maps in `dist` (about 0.7 MB
 * of tfjs-core sources); their mappings stay, and this package's own sources stay embedded.
 */
function trimThirdPartySources(): void {
  for (const file of readdirSync("dist").filter((name) => name.endsWith(".js.map"))) {
    const map = JSON.parse(readFileSync(`dist/${file}`, "utf8")) as {
      sources: string[];
      sourcesContent?: (string | null)[];
    };
    if (!map.sourcesContent) continue;
    map.sourcesContent = map.sourcesContent.map((content, i) =>
      map.sources[i]!.includes("node_modules") ? null : content,
    );
    writeFileSync(`dist/${file}`, JSON.stringify(map));
  }
}

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
  // tfjs-core's gradient definitions (`@tensorflow/tfjs-core/dist/gradients/*`, imported by
  // src/tfjs-gradient-configs.ts) are bundled: Node cannot import them from tfjs-core (extensionless
  // ESM imports). Only the exact specifier `@tensorflow/tfjs-core` stays external, so the bundled
  // code and the user's code share one tfjs-core: one engine, one gradient registry.
  noExternal: [/^@tensorflow\/tfjs-core\//],
  onSuccess: async () => trimThirdPartySources(),
  esbuildPlugins: [
    {
      name: "tfjs-core-external",
      setup(build) {
        build.onResolve({ filter: /^@tensorflow\/tfjs-core$/ }, (args) => ({
          path: args.path,
          external: true,
        }));
      },
    },
  ],
});
