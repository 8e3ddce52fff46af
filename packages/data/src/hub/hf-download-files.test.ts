import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LoopbackHub, startLoopbackHub } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hfDownloadFiles } from "./hf-download-files.js";
import { HubError } from "./hub-error.js";

let hub: LoopbackHub;
let cacheDir: string;

beforeAll(async () => {
  hub = await startLoopbackHub();
  cacheDir = mkdtempSync(join(tmpdir(), "pqm-hub-files-"));
});
afterAll(async () => {
  await hub.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

const settings = () => ({
  endpoint: hub.endpoint,
  cacheDir,
  env: {},
  retries: 0,
});

describe("hfDownloadFiles", () => {
  it("downloads several files of a repository into one snapshot folder, subfolders kept", async () => {
    hub.addFile("acme/tok", "tokenizer.json", '{"model": {}}');
    hub.addFile("acme/tok", "tokenizer_config.json", '{"tokenizer_class": "X"}');
    hub.addFile("acme/tok", "extra/vocab.txt", "a\nb\n", { lfs: true });
    const folder = await hfDownloadFiles(
      "acme/tok",
      ["tokenizer.json", "tokenizer_config.json", "extra/vocab.txt"],
      settings(),
    );
    expect(folder).toContain(join("models--acme--tok", "snapshots", hub.commit));
    expect(readFileSync(join(folder, "tokenizer.json"), "utf8")).toBe('{"model": {}}');
    expect(readFileSync(join(folder, "tokenizer_config.json"), "utf8")).toBe('{"tokenizer_class": "X"}');
    expect(readFileSync(join(folder, "extra", "vocab.txt"), "utf8")).toBe("a\nb\n");
  });

  it("fails on the first missing file with the Hub's not-found error", async () => {
    hub.addFile("acme/half", "tokenizer.json", "{}");
    const error = await hfDownloadFiles(
      "acme/half",
      ["tokenizer.json", "tokenizer_config.json"],
      settings(),
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe("not-found");
    expect((error as HubError).message).toMatch(/tokenizer_config\.json/);
  });

  it("refuses an empty file list", async () => {
    await expect(hfDownloadFiles("acme/tok", [], settings())).rejects.toThrow(/no files/);
  });
});
