// Global setup of this package's tests: builds the package's entries (index and the worker thread)
// from the current sources into node_modules/.cache, so the tests run the code as it ships: worker
// threads need a JavaScript entry beside the module that starts them, which the sources do not have.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "tsup";

const packageRoot = fileURLToPath(new URL("..", import.meta.url));

/** Where the test build goes (a folder Node treats as ES modules: it gets its own package.json). */
export const testBuildDir = join(packageRoot, "node_modules", ".cache", "pqm-pipeline-test");

export default async function setup(): Promise<void> {
  await build({
    config: false,
    entry: {
      index: join(packageRoot, "src/index.ts"),
      "pipeline-worker": join(packageRoot, "src/pipeline-worker.ts"),
    },
    outDir: testBuildDir,
    format: ["esm"],
    target: "node20",
    splitting: true,
    dts: false,
    sourcemap: true,
    clean: true,
    silent: true,
    // Every package import stays an import, resolved from this package's node_modules as when installed.
    skipNodeModulesBundle: true,
  });
  await mkdir(testBuildDir, { recursive: true });
  await writeFile(join(testBuildDir, "package.json"), `${JSON.stringify({ type: "module" })}\n`);
}
