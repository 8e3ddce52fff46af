import { describe, expect, it } from "vitest";
import { environmentSecrets, REDACTED, redactSecrets } from "./redact-secrets.js";

describe("redactSecrets", () => {
  it("removes each listed secret wherever it appears, whatever it looks like", () => {
    const text = "token abc-123-secret, again abc-123-secret.";
    expect(redactSecrets(text, ["abc-123-secret"])).toBe(`token ${REDACTED}, again ${REDACTED}.`);
  });

  it("removes a listed secret in its JSON-escaped form too, and the longer of two overlapping ones", () => {
    const secret = 'pa"ss\\word-42';
    expect(redactSecrets(JSON.stringify({ key: secret }), [secret])).toBe(`{"key":"${REDACTED}"}`);
    expect(redactSecrets("k=abcd-1234-efgh", ["abcd", "abcd-1234-efgh"])).toBe(`k=${REDACTED}`);
  });

  it("removes Hugging Face tokens without being told", () => {
    expect(redactSecrets("sent hf_AbCdEfGhIjKlMnOp to the Hub")).toBe(`sent ${REDACTED} to the Hub`);
  });

  it("removes OpenAI-style keys without being told", () => {
    expect(redactSecrets("key sk-ABCDEFGHIJKLMNOPQRSTUVWX1 ok")).toBe(`key ${REDACTED} ok`);
    expect(redactSecrets("key sk-proj-Ab_cD-3fGhIjKlMnOpQrStUv ok")).toBe(`key ${REDACTED} ok`);
  });

  it("removes GitHub tokens without being told", () => {
    expect(redactSecrets("ghp_0123456789abcdefghijABCD")).toBe(REDACTED);
  });

  it("removes the value of a Bearer header, whatever the token looks like", () => {
    expect(redactSecrets("Authorization: Bearer xyz.789; next")).toBe(
      `Authorization: Bearer ${REDACTED}; next`,
    );
    expect(redactSecrets('{"authorization":"bearer q-1"}')).toBe(`{"authorization":"bearer ${REDACTED}"}`);
  });

  it("removes the password of a URL", () => {
    expect(redactSecrets("GET https://user:pw@host/x")).toBe(`GET https://user:${REDACTED}@host/x`);
  });

  it("leaves ordinary text, short token-like words and very short secrets alone", () => {
    const text = "not found: hf://datasets/a/b/c (https://x/y); sk-learn; task-runner-with-a-long-name; hf_x";
    expect(redactSecrets(text, ["a", undefined])).toBe(text);
  });
});

describe("environmentSecrets", () => {
  it("takes the values of secret-named variables of 8 characters or more", () => {
    const env = {
      MY_API_KEY: "s3cr3t-value-123",
      HF_TOKEN: "tok-0123456789",
      PATH: "/usr/bin:/bin",
      SHORT_KEY: "abc",
      UNSET_SECRET: undefined,
    };
    expect(environmentSecrets(env).sort()).toEqual(["s3cr3t-value-123", "tok-0123456789"]);
    expect(redactSecrets("key s3cr3t-value-123 path /usr/bin:/bin abc", environmentSecrets(env))).toBe(
      `key ${REDACTED} path /usr/bin:/bin abc`,
    );
  });
});
