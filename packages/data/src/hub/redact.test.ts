import { describe, expect, it } from "vitest";
import { REDACTED, redactSecrets } from "./redact.js";

describe("redactSecrets", () => {
  it("removes each listed secret wherever it appears", () => {
    const text = "token abc-123-secret, again abc-123-secret.";
    expect(redactSecrets(text, ["abc-123-secret"])).toBe(`token ${REDACTED}, again ${REDACTED}.`);
  });

  it("removes Hugging Face tokens, Bearer values and URL passwords without being told", () => {
    const text = "sent hf_AbCdEfGhIjKlMnOp; Authorization: Bearer xyz.789; https://user:pw@host/x";
    const redacted = redactSecrets(text);
    expect(redacted).not.toContain("hf_AbCdEfGhIjKlMnOp");
    expect(redacted).not.toContain("xyz.789");
    expect(redacted).not.toContain("pw@");
    expect(redacted).toContain("https://user:[redacted]@host/x");
  });

  it("leaves ordinary text and very short secrets alone", () => {
    expect(redactSecrets("not found: hf://datasets/a/b/c (https://x/y)", ["a", undefined])).toBe(
      "not found: hf://datasets/a/b/c (https://x/y)",
    );
  });
});
