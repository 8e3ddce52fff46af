// Builds the WebGPU benchmark for a machine that has a Node binary and a GPU but no network and no
// checkout: one ESM bundle of bench/webgpu/webgpu-bench.ts (with @pqm/model's sources, tfjs-core and
// tfjs-backend-webgpu inside), and beside it node_modules/webgpu with Dawn's native module for one
// platform (default: this one). Writes bench/webgpu/dist/ (git-ignored):
//
//   dist/webgpu-bench.mjs                      node dist/webgpu-bench.mjs --peer ... --out ...
//   dist/node_modules/webgpu/                  index.js, package.json, dist/<platform>/dawn.node
//
//   node bench/webgpu/build.mjs [--platform linux-x64]
import { cpSync, mkdirSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");
const index = process.argv.indexOf("--platform");
const platform =
  index < 0
    ? `${process.platform}-${process.platform === "darwin" ? "universal" : process.arch}`
    : process.argv[index + 1];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "webgpu-bench.ts")],
  outfile: join(out, "webgpu-bench.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // tfjs's packages import their kernels and backends for their side effects while their
  // package.json says they have none: keep those imports.
  ignoreAnnotations: true,
  // Native or optional modules, loaded (or not) at run time from node_modules beside the bundle.
  external: ["webgpu", "onnxruntime-node", "@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu"],
  // CommonJS dependencies inside an ESM bundle call require().
  banner: {
    js: "import { createRequire as __pqmCreateRequire } from 'node:module'; const require = __pqmCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
});

const source = dirname(createRequire(join(here, "..", "..", "package.json")).resolve("webgpu"));
const target = join(out, "node_modules", "webgpu");
for (const file of ["index.js", "package.json", "LICENSE.md"]) cpSync(join(source, file), join(target, file));
cpSync(join(source, "dist", platform), join(target, "dist", platform), { recursive: true });

const size = (path) => `${(statSync(path).size / 2 ** 20).toFixed(1)} MiB`;
process.stdout.write(
  `built ${join(out, "webgpu-bench.mjs")} (${size(join(out, "webgpu-bench.mjs"))}) and ${target} (${platform}: dawn.node ${size(join(target, "dist", platform, "dawn.node"))})\n`,
);
