import { readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const exampleFile = join(packageDir, ".readme-example.tmp.ts");

afterAll(async () => {
  await rm(exampleFile, { force: true });
});

describe("README", () => {
  it("has an Install line and an Example whose first ts block runs as written", async () => {
    const readme = await readFile(join(packageDir, "README.md"), "utf8");
    expect(readme).toContain("## Install\n\n```sh\nnpm install @pqm/search @pqm/data @pqm/core\n```");
    const example = readme.slice(readme.indexOf("## Example"));
    const block = /```ts\n([\s\S]*?)```/.exec(example)?.[1];
    expect(block).toBeDefined();
    await writeFile(exampleFile, block!);
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    });
    try {
      await import(exampleFile);
    } finally {
      log.mockRestore();
    }
    expect(lines[0]).toMatch(/^best-of-16 [\d.]+ [\d.]+ tokens per question$/);
    expect(lines[1]).toMatch(/^beam N=4 m=4 [\d.]+ [\d.]+ tokens per question$/);
    expect(lines).toHaveLength(3);
  });
});
