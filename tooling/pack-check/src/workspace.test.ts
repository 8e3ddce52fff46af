import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  codeExportEntries,
  findWorkspaceRoot,
  publishablePackages,
  referencedFiles,
  runtimeDependencies,
} from "./workspace.js";

describe("codeExportEntries", () => {
  it("lists the subpaths of an exports map, without package.json and other non-code files", () => {
    const exports = {
      ".": { types: "./dist/index.d.ts", import: "./dist/index.js" },
      "./reference": "./dist/r.js",
    };
    expect(codeExportEntries({ exports: { ...exports, "./package.json": "./package.json" } })).toEqual([
      ".",
      "./reference",
    ]);
  });

  it("treats conditions at the top level, a string and a bare main as one entry", () => {
    expect(codeExportEntries({ exports: { import: "./a.js", types: "./a.d.ts" } })).toEqual(["."]);
    expect(codeExportEntries({ exports: "./a.js" })).toEqual(["."]);
    expect(codeExportEntries({ main: "./a.js" })).toEqual(["."]);
  });

  it("gives nothing for a command-only package", () => {
    expect(
      codeExportEntries({ bin: { pqm: "./dist/bin.js" }, exports: { "./package.json": "./package.json" } }),
    ).toEqual([]);
  });
});

describe("runtimeDependencies", () => {
  it("has dependencies, optional dependencies and the peers npm installs, not the optional peers", () => {
    expect(
      runtimeDependencies({
        dependencies: { a: "1" },
        optionalDependencies: { b: "2" },
        peerDependencies: { c: "3", d: "4" },
        peerDependenciesMeta: { d: { optional: true } },
      }),
    ).toEqual({ a: "1", b: "2", c: "3" });
  });
});

describe("referencedFiles", () => {
  it("collects main, types, bin and every exports target", () => {
    expect(
      referencedFiles({
        main: "./dist/index.js",
        types: "./dist/index.d.ts",
        bin: { pqm: "./dist/bin.js" },
        exports: { ".": { types: "./dist/index.d.ts", import: "./dist/index.js" }, "./x/*": "./dist/x/*.js" },
      }).sort(),
    ).toEqual(["dist/bin.js", "dist/index.d.ts", "dist/index.js"]);
  });
});

describe("publishablePackages (this workspace)", () => {
  it("finds the public packages from the workspace globs, dependencies first, private ones left out", async () => {
    const root = findWorkspaceRoot(dirname(fileURLToPath(import.meta.url)));
    const names = (await publishablePackages(root)).map((p) => p.name);
    expect(names).toEqual(
      expect.arrayContaining(["@pqm/core", "@pqm/data", "@pqm/model", "@pqm/eval", "@pqm/cli"]),
    );
    expect(names).not.toContain("@pqm/testing");
    expect(names).not.toContain("@pqm/pack-check");
    expect(names.indexOf("@pqm/core")).toBeLessThan(names.indexOf("@pqm/data"));
    expect(names.indexOf("@pqm/data")).toBeLessThan(names.indexOf("@pqm/cli"));
  });
});
