/**
 * Gradient registration: the bundled list covers every gradient of the installed tfjs-core,
 * `registerGradients` is idempotent, and the built main entry makes `tf.valueAndGrad` of a loss work
 * under plain Node (a child process, no vitest transform), without printing anything.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { build, type Options } from "tsup";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import tsupConfig from "../tsup.config.js";
import { referenceLoss } from "./losses/reference-losses.js";
import { tfjsGradientConfigs } from "./tfjs-gradient-configs.js";
import { registerGradients } from "./tfjs-gradients.js";

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, "..");

describe("tfjs gradient configs", () => {
  it("import exactly the *_grad files of the installed tfjs-core (else rerun scripts/generate-gradient-configs.mjs)", () => {
    const require = createRequire(import.meta.url);
    const dir = join(dirname(require.resolve("@tensorflow/tfjs-core/package.json")), "dist", "gradients");
    const installed = readdirSync(dir)
      .filter((file) => file.endsWith("_grad.js"))
      .map((file) => file.slice(0, -".js".length))
      .sort();
    const source = readFileSync(join(here, "tfjs-gradient-configs.ts"), "utf8");
    const imported = [...source.matchAll(/from "@tensorflow\/tfjs-core\/dist\/gradients\/(\w+)\.js"/g)]
      .map((match) => match[1]!)
      .sort();
    expect(installed.length).toBeGreaterThan(90);
    expect(imported).toEqual(installed);
    expect(tfjsGradientConfigs).toHaveLength(installed.length);
  });

  it("name one kernel each, RealDiv, BatchMatMul and Softplus among them", () => {
    const kernels = tfjsGradientConfigs.map((config) => config.kernelName);
    expect(new Set(kernels).size).toBe(kernels.length);
    for (const kernel of [tf.RealDiv, tf.BatchMatMul, tf.Softplus, tf.Max, tf.Exp])
      expect(kernels).toContain(kernel);
  });

  it("are all registered after registerGradients(), and a second call registers nothing", () => {
    registerGradients();
    for (const config of tfjsGradientConfigs)
      expect(tf.getGradient(config.kernelName), config.kernelName).toBeDefined();
    expect(registerGradients()).toBe(0);
  });
});

/** The child: plain Node, the built main entry, the cpu backend; prints one JSON line. */
const childScript = `
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
const before = tf.getGradient("RealDiv") === undefined;
const core = await import(process.argv[2]);
const again = core.registerGradients();
const loss = core.getLoss("pqm", { zeta: 4 });
const labels = tf.tensor2d(JSON.parse(process.argv[4]));
const { value, grad } = tf.valueAndGrad((s) => loss(s, labels))(tf.tensor2d(JSON.parse(process.argv[3])));
process.stdout.write(JSON.stringify({ before, again, value: value.dataSync()[0], grad: grad.arraySync() }));
`;

// The tfjs-backend-cpu hint about tfjs-node (its own, printed on first use in Node): not ours.
const cpuHint = /\s*=+\s*Hi, looks like you are running TensorFlow\.js in Node\.js\.[^=]*=+\s*/;

describe("built main entry under plain Node", () => {
  // Built fresh from tsup.config.ts (JavaScript only) inside node_modules, so that the bundle's
  // external `@tensorflow/tfjs-core` resolves to this package's copy.
  let outDir = "";
  beforeAll(async () => {
    outDir = mkdtempSync(join(packageRoot, "node_modules", ".gradient-test-"));
    await build({
      ...(tsupConfig as Options),
      config: false,
      outDir,
      dts: false,
      sourcemap: false,
      onSuccess: undefined,
      silent: true,
    });
    writeFileSync(join(outDir, "child.mjs"), childScript);
  }, 120_000);
  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it("registers the gradients on import: tf.valueAndGrad of getLoss('pqm') matches finite differences, silently", async () => {
    const scores = [
      [1, 2, 3, -1],
      [0, 0.5, 0, 0],
    ];
    const labels = [
      [1, 1, 1, 0],
      [1, 1, 0, -100],
    ];
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [join(outDir, "child.mjs"), join(outDir, "index.js"), JSON.stringify(scores), JSON.stringify(labels)],
      { cwd: outDir },
    );
    expect(stderr.replace(cpuHint, "")).toBe("");
    const result = JSON.parse(stdout) as { before: boolean; again: number; value: number; grad: number[][] };
    expect(result.before).toBe(true);
    expect(result.again).toBe(0);
    expect(result.value).toBeCloseTo(referenceLoss("pqm", scores, labels, { zeta: 4 }), 5);
    const h = 1e-5;
    for (let i = 0; i < scores.length; i++) {
      for (let j = 0; j < scores[i]!.length; j++) {
        const shifted = (delta: number) =>
          referenceLoss(
            "pqm",
            scores.map((row, r) => row.map((s, c) => (r === i && c === j ? s + delta : s))),
            labels,
            { zeta: 4 },
          );
        const numeric = (shifted(h) - shifted(-h)) / (2 * h);
        expect(Math.abs(result.grad[i]![j]! - numeric), `grad[${i}][${j}]`).toBeLessThan(1e-4);
      }
    }
    expect(result.grad[1]![3]).toBe(0);
  }, 120_000);
});
