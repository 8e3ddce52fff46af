import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sharedAvailable, sharedPath, sharedSkipReason } from "@pqm/testing";
import { afterAll, describe, expect, it } from "vitest";
import { parseHfUri } from "./hf-uri.js";
import {
  fetchDataset,
  knownDatasets,
  PQM_BON_POLICIES,
  PQM_BON_TESTS,
  resolveDatasetName,
} from "./known-datasets.js";

const emptyDir = mkdtempSync(join(tmpdir(), "pqm-data-dir-"));
afterAll(() => rmSync(emptyDir, { recursive: true, force: true }));

describe("knownDatasets", () => {
  it("holds valid hf:// URIs whose extension matches the declared format", () => {
    for (const [name, entry] of Object.entries(knownDatasets)) {
      const ref = parseHfUri(entry.uri);
      expect(ref.path.endsWith(`.${entry.format}`), name).toBe(true);
      expect(entry.description.length, name).toBeGreaterThan(0);
    }
  });

  it("has an entry for every PQM best-of-n test and policy, in the Windy0822/PQM model repo", () => {
    for (const test of PQM_BON_TESTS) {
      for (const policy of PQM_BON_POLICIES) {
        const entry = knownDatasets[`pqm-bon/${test}-${policy}`];
        expect(entry?.uri).toMatch(/^hf:\/\/Windy0822\/PQM\/eval_data\/.+-128\.json$/);
        expect(entry?.format).toBe("json");
      }
    }
    expect(knownDatasets["pqm-bon/math500-metamath-mistral-7b"]?.uri).toBe(
      "hf://Windy0822/PQM/eval_data/math-metamath-mistral-128.json",
    );
  });
});

describe("resolveDatasetName", () => {
  it("maps short names to the Hub files and formats of the issue", () => {
    const env = {};
    expect(resolveDatasetName("math500", { env })).toEqual({
      name: "math500",
      uri: "hf://datasets/HuggingFaceH4/MATH-500/test.jsonl",
      format: "jsonl",
      localPath: undefined,
    });
    expect(resolveDatasetName("gsm8k", { env })).toMatchObject({
      uri: "hf://datasets/openai/gsm8k/main/test-00000-of-00001.parquet",
      format: "parquet",
    });
    expect(resolveDatasetName("math-shepherd", { env }).uri).toBe(
      "hf://datasets/peiyi9979/Math-Shepherd/math-shepherd.jsonl",
    );
    expect(resolveDatasetName("processbench/math", { env })).toMatchObject({
      uri: "hf://datasets/Qwen/ProcessBench/math.json",
      format: "json",
    });
  });

  it("explains unknown names and families", () => {
    expect(() => resolveDatasetName("processbench", { env: {} })).toThrow(
      /processbench\/gsm8k.*processbench\/omnimath/,
    );
    expect(() => resolveDatasetName("nope", { env: {} })).toThrow(
      /unknown data set 'nope'; known names: .*math500/,
    );
  });

  it("accepts hf:// URIs and overrides", () => {
    expect(resolveDatasetName("hf://datasets/a/b/c.parquet")).toMatchObject({
      format: "parquet",
      localPath: undefined,
    });
    expect(() => resolveDatasetName("hf://datasets/a/b/c.csv")).toThrow("cannot tell the format");
    const datasets = {
      "pqm-bon/math500-llama-3-70b-instruct": {
        uri: "hf://Windy0822/PQM/eval_data/real-name.json",
        format: "json" as const,
        description: "corrected",
      },
    };
    expect(resolveDatasetName("pqm-bon/math500-llama-3-70b-instruct", { datasets, env: {} }).uri).toBe(
      "hf://Windy0822/PQM/eval_data/real-name.json",
    );
  });

  it("prefers a local copy in the data folder, with the local format", async () => {
    mkdirSync(join(emptyDir, "gsm8k"), { recursive: true });
    writeFileSync(join(emptyDir, "gsm8k", "test.jsonl"), '{"question":"q","answer":"#### 1"}\n');
    const resolved = resolveDatasetName("gsm8k", { env: { PQM_DATA_DIR: emptyDir } });
    expect(resolved).toMatchObject({ format: "jsonl", localPath: join(emptyDir, "gsm8k", "test.jsonl") });
    // No local copy: the Hub file, fetched offline from an empty cache, fails with the cache folder named.
    await expect(
      fetchDataset("math500", {
        dataDir: emptyDir,
        offline: true,
        cacheDir: join(emptyDir, "cache"),
        env: {},
      }),
    ).rejects.toThrow(join(emptyDir, "cache", "datasets--HuggingFaceH4--MATH-500"));
    expect(await fetchDataset("gsm8k", { dataDir: emptyDir, offline: true, env: {} })).toEqual({
      path: join(emptyDir, "gsm8k", "test.jsonl"),
      format: "jsonl",
      source: "local",
    });
  });
});

describe.skipIf(!sharedAvailable)(`resolveDatasetName on the shared data folder${sharedSkipReason}`, () => {
  it("finds the reference copies of the test sets", () => {
    const dataDir = sharedPath("data");
    const env = {};
    expect(resolveDatasetName("math500", { dataDir, env }).localPath).toBe(
      sharedPath("data", "math500", "test.jsonl"),
    );
    expect(resolveDatasetName("gsm-plus", { dataDir, env }).localPath).toBe(
      sharedPath("data", "gsm-plus", "testmini.jsonl"),
    );
    expect(resolveDatasetName("processbench/omnimath", { dataDir, env })).toMatchObject({
      format: "json",
      localPath: sharedPath("data", "processbench", "omnimath.json"),
    });
    expect(resolveDatasetName("math-shepherd", { dataDir, env }).localPath).toBeUndefined();
  });
});
