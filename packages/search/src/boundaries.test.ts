import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));

describe("dependencies", () => {
  it("imports only @pqm/core/reference (no TF.js), @pqm/data, @pqm/data/http and Node built-ins, never @pqm/model", async () => {
    const files = (await readdir(here)).filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts"));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const text = await readFile(join(here, file), "utf8");
      for (const match of text.matchAll(/from "([^"]+)"/g)) {
        const source = match[1]!;
        const allowed =
          source.startsWith("./") ||
          source.startsWith("node:") ||
          ["@pqm/core/reference", "@pqm/data", "@pqm/data/http"].includes(source);
        expect(allowed, `${file} imports ${source}`).toBe(true);
      }
    }
    const manifest = JSON.parse(await readFile(join(here, "..", "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(manifest.dependencies).sort()).toEqual(["@pqm/core", "@pqm/data"]);
  });
});
