import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HubError } from "./hub-error.js";
import { isHfOffline, resolveHfCacheDir, resolveHfEndpoint, resolveHfToken } from "./hub-settings.js";

const home = mkdtempSync(join(tmpdir(), "pqm-hf-home-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("resolveHfEndpoint", () => {
  it("prefers the option, then HF_ENDPOINT, then huggingface.co, without trailing slashes", () => {
    expect(resolveHfEndpoint({ env: {} })).toBe("https://huggingface.co");
    expect(resolveHfEndpoint({ env: { HF_ENDPOINT: "https://mirror.example/" } })).toBe(
      "https://mirror.example",
    );
    expect(
      resolveHfEndpoint({ endpoint: "http://127.0.0.1:8080//", env: { HF_ENDPOINT: "https://x" } }),
    ).toBe("http://127.0.0.1:8080");
  });

  it("rejects what is not an http(s) URL", () => {
    expect(() => resolveHfEndpoint({ endpoint: "ftp://x" })).toThrow(HubError);
    expect(() => resolveHfEndpoint({ endpoint: "not a url" })).toThrow("invalid Hub endpoint");
  });
});

describe("resolveHfCacheDir", () => {
  it("prefers the option, then HF_HUB_CACHE, then $HF_HOME/hub, then ~/.cache/huggingface/hub", () => {
    expect(resolveHfCacheDir({ cacheDir: "/c", env: { HF_HUB_CACHE: "/x" } })).toBe(resolve("/c"));
    expect(resolveHfCacheDir({ env: { HF_HUB_CACHE: "/x", HF_HOME: "/h" } })).toBe(resolve("/x"));
    expect(resolveHfCacheDir({ env: { HF_HOME: "/h" } })).toBe(join(resolve("/h"), "hub"));
    expect(resolveHfCacheDir({ env: {} })).toBe(join(homedir(), ".cache", "huggingface", "hub"));
  });
});

describe("resolveHfToken", () => {
  it("prefers the option, then HF_TOKEN, then the token file in HF_HOME", () => {
    writeFileSync(join(home, "token"), "hf_fromFile1234\n");
    expect(resolveHfToken({ token: "opt", env: { HF_TOKEN: "env", HF_HOME: home } })).toBe("opt");
    expect(resolveHfToken({ env: { HF_TOKEN: "env", HF_HOME: home } })).toBe("env");
    expect(resolveHfToken({ env: { HF_HOME: home } })).toBe("hf_fromFile1234");
    expect(resolveHfToken({ token: false, env: { HF_TOKEN: "env", HF_HOME: home } })).toBeUndefined();
  });

  it("reads HF_TOKEN_PATH, and gives undefined when no token is anywhere", () => {
    const other = join(home, "elsewhere");
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, "tok"), "  from-path  \n");
    expect(resolveHfToken({ env: { HF_TOKEN_PATH: join(other, "tok") } })).toBe("from-path");
    expect(resolveHfToken({ env: { HF_HOME: join(home, "empty") } })).toBeUndefined();
  });
});

describe("isHfOffline", () => {
  it("reads the option, else HF_HUB_OFFLINE's usual truthy spellings", () => {
    for (const value of ["1", "true", "YES", "On"])
      expect(isHfOffline({ env: { HF_HUB_OFFLINE: value } })).toBe(true);
    for (const value of ["0", "false", "", undefined])
      expect(isHfOffline({ env: { HF_HUB_OFFLINE: value } })).toBe(false);
    expect(isHfOffline({ offline: false, env: { HF_HUB_OFFLINE: "1" } })).toBe(false);
    expect(isHfOffline({ offline: true, env: {} })).toBe(true);
  });
});
