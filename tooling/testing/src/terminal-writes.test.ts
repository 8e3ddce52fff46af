import { describe, expect, it } from "vitest";
import { repoRoot } from "./shared-data.js";
import { findLibraryTerminalWrites, findTerminalWrites } from "./terminal-writes.js";

describe("findTerminalWrites", () => {
  it("finds console, process.stdout/stderr and cli-progress, with their lines", () => {
    const source = [
      'import cliProgress from "cli-progress";',
      "export function f(): void {",
      '  console.warn("careful");',
      '  process.stderr.write("x\\n");',
      "  const out = process.stdout;",
      '  globalThis.process["stderr"].write("y");',
      "  const log = console;",
      '  void import("cli-progress");',
      "}",
    ].join("\n");
    expect(findTerminalWrites(source, "a.ts").map(({ line, what }) => `${line}: ${what}`)).toEqual([
      '1: import "cli-progress"',
      "3: console.warn",
      "4: process.stderr",
      "5: process.stdout",
      "6: process.stderr",
      "7: console",
      '8: import("cli-progress")',
    ]);
  });

  it("ignores comments, strings, property names and other modules", () => {
    const source = [
      "// console.log(x) in a comment, process.stderr too",
      "/** Like `console.warn`, but through a callback. */",
      'export const note = "console.log and process.stdout in a string";',
      "export const options = { console: true, stderr: 1 };",
      "export const level = options.console;",
      'import { SingleBar } from "./cli-progress-like.js";',
      "export const env = process.env.HOME;",
    ].join("\n");
    expect(findTerminalWrites(source, "b.ts")).toEqual([]);
  });
});

describe("the pqm libraries", () => {
  it("never write to the terminal (console, process.stdout/stderr, cli-progress) outside tests", () => {
    const found = findLibraryTerminalWrites(repoRoot);
    const listing = found.map(({ file, line, what }) => `${file}:${line}: ${what}`).join("\n");
    expect(listing, "libraries report through callbacks; these places print").toBe("");
  });
});
