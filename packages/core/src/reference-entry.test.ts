/**
 * `@pqm/core/reference` must work without TF.js: no module it reaches may import @tensorflow/*.
 * Checked on the sources (always) and on the built files (when `dist` exists).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as main from "./index.js";
import * as reference from "./reference.js";

const here = dirname(fileURLToPath(import.meta.url));
const importPattern = /(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\sfrom\s+)?["']([^"']+)["']/g;

/** Every module specifier reachable from `entry` through relative imports (sources or built files). */
function reachableImports(entry: string, toFile: (specifier: string, from: string) => string): Set<string> {
  const specifiers = new Set<string>();
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const match of readFileSync(file, "utf8").matchAll(importPattern)) {
      const specifier = match[1]!;
      specifiers.add(specifier);
      if (specifier.startsWith(".")) queue.push(toFile(specifier, file));
    }
  }
  return specifiers;
}

describe("@pqm/core/reference", () => {
  it("reaches no @tensorflow module from its sources", () => {
    const specifiers = reachableImports(join(here, "reference.ts"), (specifier, from) =>
      resolve(dirname(from), specifier.replace(/\.js$/, ".ts")),
    );
    expect([...specifiers].filter((s) => s.startsWith("./")).length).toBeGreaterThan(4);
    expect([...specifiers].filter((s) => s.includes("@tensorflow"))).toEqual([]);
  });

  const built = join(here, "..", "dist", "reference.js");
  describe.skipIf(!existsSync(built))(
    `built entry${existsSync(built) ? "" : " [skipped: run tsup first]"}`,
    () => {
      it("reaches no @tensorflow module from dist/reference.js; dist/index.js imports only tfjs-core's main entry", () => {
        const toFile = (specifier: string, from: string) => resolve(dirname(from), specifier);
        expect([...reachableImports(built, toFile)].filter((s) => s.includes("@tensorflow"))).toEqual([]);
        const mainImports = reachableImports(join(here, "..", "dist", "index.js"), toFile);
        // The gradient definitions are bundled; no deep tfjs-core path (which Node cannot load) remains.
        expect([...mainImports].filter((s) => !s.startsWith("."))).toEqual(["@tensorflow/tfjs-core"]);
      });
    },
  );

  it("exports the references, their error, aggregation and the ordering checker; the main entry adds getLoss", () => {
    for (const name of [
      "referenceLoss",
      "lossNames",
      "LossInputError",
      "aggregateStepScores",
      "checkQValueOrdering",
      "LABEL_PAD",
    ]) {
      expect(reference, name).toHaveProperty(name);
      expect((main as Record<string, unknown>)[name], name).toBe(
        (reference as Record<string, unknown>)[name],
      );
    }
    expect(reference).not.toHaveProperty("getLoss");
    // The building blocks stay inside: reached through getAggregation, getLoss and the loss checks.
    for (const internal of ["minScore", "logSumExp", "validateReferenceInputs", "pqmRankingLossTensor"]) {
      expect(main, internal).not.toHaveProperty(internal);
    }
    expect(typeof main.getLoss).toBe("function");
    expect(reference).not.toHaveProperty("registerGradients");
    expect(typeof main.registerGradients).toBe("function");
  });
});
