import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findInterruptedSwap, replaceAtomic, writeFileAtomic, writeFolderAtomic } from "./atomic-write.js";

const here = dirname(fileURLToPath(import.meta.url));
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "pqm-atomic-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Names in `folder` that a write left behind under a temporary name. */
async function leftovers(folder: string): Promise<string[]> {
  return (await readdir(folder)).filter((name) => name.includes(".tmp-") || name.includes(".old-"));
}

describe("writeFileAtomic", () => {
  it("writes text and bytes, creating the folders, and replaces an existing file", async () => {
    const path = join(dir, "a", "b", "file.txt");
    await writeFileAtomic(path, "first");
    expect(await readFile(path, "utf8")).toBe("first");
    await writeFileAtomic(path, new TextEncoder().encode("second é"));
    expect(await readFile(path, "utf8")).toBe("second é");
    expect(await leftovers(join(dir, "a", "b"))).toEqual([]);
  });

  it("streams chunks from a generator, in order", async () => {
    const path = join(dir, "lines.jsonl");
    async function* lines() {
      for (let i = 0; i < 1000; i++) yield `{"i":${i}}\n`;
    }
    await writeFileAtomic(path, lines());
    const text = await readFile(path, "utf8");
    expect(text.split("\n").length).toBe(1001);
    expect(text.startsWith('{"i":0}\n{"i":1}\n')).toBe(true);
    await writeFileAtomic(path, ["x", new Uint8Array([0x79]), "z"]);
    expect(await readFile(path, "utf8")).toBe("xyz");
  });

  it("leaves the old file and no temporary behind when the content fails half-way", async () => {
    const path = join(dir, "kept.txt");
    await writeFile(path, "old");
    async function* failing() {
      yield "new part";
      throw new Error("source broke");
    }
    await expect(writeFileAtomic(path, failing())).rejects.toThrow(/source broke/);
    expect(await readFile(path, "utf8")).toBe("old");
    expect(await leftovers(dir)).toEqual([]);
  });
});

describe("replaceAtomic", () => {
  it("renames what `create` made over the path, or removes it when `create` fails", async () => {
    const pointer = join(dir, "pointer");
    await replaceAtomic(pointer, (temporary) => symlink("blob-1", temporary));
    expect(await readlink(pointer)).toBe("blob-1");
    await replaceAtomic(pointer, (temporary) => symlink("blob-2", temporary));
    expect(await readlink(pointer)).toBe("blob-2");
    await expect(
      replaceAtomic(pointer, async (temporary) => {
        await writeFile(temporary, "half");
        throw new Error("no");
      }),
    ).rejects.toThrow("no");
    expect(await readlink(pointer)).toBe("blob-2");
    expect(await leftovers(dir)).toEqual([]);
  });
});

describe("writeFolderAtomic", () => {
  it("builds a folder with sub-folders and swaps it for an existing one", async () => {
    const target = join(dir, "checkpoint");
    await writeFolderAtomic(target, async (write) => {
      await write("config.json", "{}");
      await write("sub/weights.bin", new Uint8Array([1, 2, 3]));
    });
    expect(await readFile(join(target, "sub", "weights.bin"))).toEqual(Buffer.from([1, 2, 3]));
    await writeFolderAtomic(target, async (write) => write("only.txt", "new"));
    expect((await readdir(target)).sort()).toEqual(["only.txt"]);
    expect(await leftovers(dir)).toEqual([]);
  });

  it("leaves the old folder untouched when filling fails", async () => {
    const target = join(dir, "checkpoint");
    await writeFolderAtomic(target, async (write) => write("a.txt", "old"));
    const written: string[] = [];
    await expect(
      writeFolderAtomic(
        target,
        async (write) => {
          await write("a.txt", "new");
          await write("b.txt", "new");
        },
        {
          onFileWritten: (path) => {
            written.push(path);
            if (path === "b.txt") throw new Error("crash after b.txt");
          },
        },
      ),
    ).rejects.toThrow(/crash after b.txt/);
    expect(written).toEqual(["a.txt", "b.txt"]);
    expect(await readFile(join(target, "a.txt"), "utf8")).toBe("old");
    expect(await leftovers(dir)).toEqual([]);
  });

  it("removes the temporary folder a killed writer left, on the next write, and keeps a live one's", async () => {
    const target = join(dir, "checkpoint");
    // A real writer, killed while its folder is half written.
    const writer = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `import { writeFolderAtomic } from ${JSON.stringify(join(here, "atomic-write.ts"))};
         await writeFolderAtomic(${JSON.stringify(target)}, async (write) => {
           await write("weights.bin", "half");
           process.stdout.write("written\\n");
           await new Promise(() => setInterval(() => {}, 1000));
         });`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve, reject) => {
      writer.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("written")) resolve();
      });
      writer.on("exit", (code) => reject(new Error(`the writer exited early (${code})`)));
    });
    const exited = new Promise((resolve) => writer.on("exit", resolve));
    writer.kill("SIGKILL");
    await exited;
    const debris = await leftovers(dir);
    expect(debris).toHaveLength(1);
    expect(debris[0]).toMatch(new RegExp(`^\\.checkpoint\\.tmp-${writer.pid}-`));
    // Another process's temporary that is still being written (this process's own pid: alive).
    const live = join(dir, `.checkpoint.tmp-${process.pid}-live0000`);
    await mkdir(live);
    await writeFolderAtomic(target, async (write) => write("a.txt", "new"));
    expect(await readFile(join(target, "a.txt"), "utf8")).toBe("new");
    expect(await leftovers(dir)).toEqual([`.checkpoint.tmp-${process.pid}-live0000`]);
  }, 30_000);

  it("finds the copy an interrupted swap left", async () => {
    const target = join(dir, "checkpoint");
    expect(await findInterruptedSwap(target)).toBeUndefined();
    expect(await findInterruptedSwap(join(dir, "missing-parent", "x"))).toBeUndefined();
    await mkdir(join(dir, ".checkpoint.old-1-abcd"));
    expect(await findInterruptedSwap(target)).toBe(join(dir, ".checkpoint.old-1-abcd"));
    expect(existsSync(target)).toBe(false);
  });
});
