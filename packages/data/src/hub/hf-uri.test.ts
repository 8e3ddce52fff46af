import { describe, expect, it } from "vitest";
import { formatHfUri, isCommitHash, parseHfUri, resolveHfUrl } from "./hf-uri.js";
import { HubError } from "./hub-error.js";

describe("parseHfUri", () => {
  it("reads dataset URIs, with and without a revision", () => {
    expect(parseHfUri("hf://datasets/HuggingFaceH4/MATH-500/test.jsonl")).toEqual({
      repoType: "dataset",
      owner: "HuggingFaceH4",
      name: "MATH-500",
      revision: "main",
      path: "test.jsonl",
    });
    expect(parseHfUri("hf://datasets/openai/gsm8k@v1.2/main/test-00000-of-00001.parquet")).toMatchObject({
      repoType: "dataset",
      owner: "openai",
      name: "gsm8k",
      revision: "v1.2",
      path: "main/test-00000-of-00001.parquet",
    });
  });

  it("reads model URIs and percent-encoded revisions", () => {
    expect(parseHfUri("hf://Windy0822/PQM/eval_data/math-muggle-128.json")).toMatchObject({
      repoType: "model",
      owner: "Windy0822",
      name: "PQM",
      revision: "main",
      path: "eval_data/math-muggle-128.json",
    });
    expect(parseHfUri("hf://datasets/a/b@refs%2Fconvert%2Fparquet/x.parquet").revision).toBe(
      "refs/convert/parquet",
    );
  });

  it.each([
    ["https://huggingface.co/a/b/c", "hf://"],
    ["hf://datasets/a", "<owner>/<name>/<path>"],
    ["hf://a/b", "no file path"],
    ["hf://a/b/", "no file path"],
    ["hf://a/b/../../etc/passwd", "'..'"],
    ["hf://a/b/x//y", "empty"],
    ["hf://a/b@/x", "empty revision"],
    ["hf://a/b@..%2F..%2Fx/y", "not a safe"],
    ["hf://a b/c/d", "owner"],
    ["hf://spaces/a/b/app.py", "Spaces"],
    ["hf://a/b/c\\d", "backslash"],
  ])("rejects %s", (uri, reason) => {
    expect(() => parseHfUri(uri)).toThrow(HubError);
    expect(() => parseHfUri(uri)).toThrow(reason);
    expect(() => parseHfUri(uri)).toThrow(uri);
  });

  it("round-trips through formatHfUri", () => {
    for (const uri of [
      "hf://datasets/a/b/c/d.jsonl",
      "hf://a/b@v2/c.json",
      "hf://datasets/a/b@refs%2Fpr%2F3/x.parquet",
    ]) {
      expect(formatHfUri(parseHfUri(uri))).toBe(uri);
    }
  });
});

describe("resolveHfUrl", () => {
  it("builds the Hub's resolve URLs for datasets and models", () => {
    expect(resolveHfUrl("hf://datasets/HuggingFaceH4/MATH-500/test.jsonl", { env: {} })).toBe(
      "https://huggingface.co/datasets/HuggingFaceH4/MATH-500/resolve/main/test.jsonl",
    );
    expect(
      resolveHfUrl("hf://Windy0822/PQM@abc/eval_data/x y.json", { endpoint: "http://127.0.0.1:9/" }),
    ).toBe("http://127.0.0.1:9/Windy0822/PQM/resolve/abc/eval_data/x%20y.json");
    expect(resolveHfUrl("hf://datasets/a/b@refs%2Fconvert%2Fparquet/d/t.parquet", { env: {} })).toBe(
      "https://huggingface.co/datasets/a/b/resolve/refs%2Fconvert%2Fparquet/d/t.parquet",
    );
  });

  it("takes the endpoint from the option, then HF_ENDPOINT", () => {
    const env = { HF_ENDPOINT: "https://hf-mirror.example" };
    expect(resolveHfUrl("hf://a/b/c", { env })).toBe("https://hf-mirror.example/a/b/resolve/main/c");
    expect(resolveHfUrl("hf://a/b/c", { env, endpoint: "https://other.example" })).toBe(
      "https://other.example/a/b/resolve/main/c",
    );
  });
});

describe("isCommitHash", () => {
  it("accepts 40 lowercase hex digits only", () => {
    expect(isCommitHash("0123456789abcdef0123456789abcdef01234567")).toBe(true);
    expect(isCommitHash("main")).toBe(false);
    expect(isCommitHash("0123456789ABCDEF0123456789abcdef01234567")).toBe(false);
  });
});
