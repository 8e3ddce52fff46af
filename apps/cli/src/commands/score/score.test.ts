import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCandidateFile, readScoresFile } from "@pqm/eval";
import { getScoringConvention } from "@pqm/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../run-cli.test-helper.js";
import type { ScoreCommandResult } from "./score.js";
import { loopbackScores, startVllmLoopback, type VllmLoopback } from "./vllm-loopback.test-helper.js";

const KEY = "pqm-prm-cli-key-2c7f9a41d3";
const MODEL = "Qwen/Qwen2.5-Math-PRM-7B";
let folder = "";
let candidatesFile = "";
const servers: VllmLoopback[] = [];

// Six questions of three candidates, their steps given (no splitting involved).
const candidateSets = Array.from({ length: 6 }, (_, q) => ({
  question: `What is ${q + 2} times ${q + 3}, plus one?`,
  responses: Array.from({ length: 3 }, (_, c) => {
    const steps = [
      `${q + 2} times ${q + 3} is ${(q + 2) * (q + 3) + c}.`,
      `Adding one gives ${(q + 2) * (q + 3) + c + 1}.`,
      ...(c === 2 ? ["So the answer is that number."] : []),
    ];
    return { text: steps.join("\n"), model_name: "test-policy", steps };
  }),
}));

async function loopback(
  options: Partial<Parameters<typeof startVllmLoopback>[0]> = {},
): Promise<VllmLoopback> {
  const server = await startVllmLoopback({
    tag: "<extra_0>",
    readout: "two-class",
    model: MODEL,
    requiredApiKey: KEY,
    ...options,
  });
  servers.push(server);
  return server;
}

/** The scores the command must write: the convention's text, cut at its tags, as the server encodes them. */
function expectedScores(convention: string): number[][][] {
  const rendering = getScoringConvention(convention);
  return candidateSets.map((set) =>
    set.responses.map((response) =>
      loopbackScores(rendering.renderText(set.question, response.steps), rendering.stepTag!),
    ),
  );
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-cli-score-"));
  candidatesFile = join(folder, "candidates.json");
  await writeFile(candidatesFile, JSON.stringify(candidateSets));
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await rm(folder, { recursive: true, force: true });
});

describe("pqm score --prm-url (a PRM behind vLLM's pooling API)", () => {
  it("scores through two servers with the key from PQM_PRM_API_KEY, writes the file, reuses the cache", async () => {
    const a = await loopback();
    const b = await loopback();
    const out = join(folder, "two", "scores.jsonl");
    const cacheDir = join(folder, "two-cache");
    const args = [
      "score",
      ...["--prm-url", `${a.url},${b.url}/v1`, "--convention", "qwen2.5-math-prm"],
      ...["--prm-batch-size", "2", "--candidates", candidatesFile, "--out", out, "--cache-dir", cacheDir],
    ];
    const run = await runCli([...args, "--json"], { env: { PQM_PRM_API_KEY: KEY } });
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as ScoreCommandResult;
    expect(result).toMatchObject({
      scorer: `vllm-pooling-qwen2.5-math-prm-${MODEL}`,
      questions: 6,
      candidates: 18,
      steps: 6 * 7,
      cached: false,
    });
    const scores = await readScoresFile(out, { candidates: await readCandidateFile(candidatesFile) });
    expect(scores.header.scorer).toBe(result.scorer);
    const want = expectedScores("qwen2.5-math-prm");
    scores.scores.forEach((question, q) => {
      question.forEach((steps, c) => {
        expect(steps).toHaveLength(want[q]![c]!.length);
        steps.forEach((score, s) => {
          expect(score).toBeCloseTo(want[q]![c]![s]!, 9);
        });
      });
    });
    // Both servers scored (18 candidates in requests of 2), always with the key; the key is printed nowhere.
    expect(a.requests).toBeGreaterThan(0);
    expect(b.requests).toBeGreaterThan(0);
    expect(a.inputs.length + b.inputs.length).toBe(18);
    expect([...a.authorizations, ...b.authorizations].every((header) => header === `Bearer ${KEY}`)).toBe(
      true,
    );
    expect(run.stdout + run.stderr).not.toContain(KEY);
    expect(await readFile(out, "utf8")).not.toContain(KEY);

    // A rerun copies the cached file: the servers are asked for the model name only.
    const before = a.requests + b.requests;
    const again = await runCli([...args, "--json"], { env: { PQM_PRM_API_KEY: KEY } });
    expect(again.exitCode, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as ScoreCommandResult).cached).toBe(true);
    expect(a.requests + b.requests).toBe(before);

    // Another scorer's run into the same --out is refused, naming what the file holds; --overwrite replaces it.
    const written = await readFile(out, "utf8");
    const other = [
      "score",
      ...["--prm-url", a.url, "--convention", "qwen2.5-math-prm", "--prm-model", "other/model"],
      ...["--candidates", candidatesFile, "--out", out, "--cache-dir", cacheDir],
    ];
    const otherServer = await loopback({ model: "other/model" });
    other[2] = otherServer.url;
    const refused = await runCli(other, { env: { PQM_PRM_API_KEY: KEY } });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`${out}: holds scores by vllm-pooling-qwen2.5-math-prm-${MODEL}`);
    expect(refused.stderr).toContain("pass --overwrite to replace it");
    expect(await readFile(out, "utf8")).toBe(written);
    const replaced = await runCli([...other, "--overwrite", "--json"], { env: { PQM_PRM_API_KEY: KEY } });
    expect(replaced.exitCode, replaced.stderr).toBe(0);
    expect((JSON.parse(replaced.stdout) as ScoreCommandResult).scorer).toBe(
      "vllm-pooling-qwen2.5-math-prm-other/model",
    );
  }, 120_000);

  it("stops at a refused request with vLLM's message, keeps what was scored, and resumes from there", async () => {
    // Question 3 is refused the first time: its text holds "5 times 6".
    let refuse = true;
    const server = await loopback({
      tag: "ки",
      readout: "token-pair",
      model: "peiyi9979/math-shepherd-mistral-7b-prm",
      refuse: (input) => refuse && input.includes("5 times 6"),
    });
    const out = join(folder, "resume", "scores.jsonl");
    const cacheDir = join(folder, "resume-cache");
    const args = [
      "score",
      ...[
        "--prm-url",
        server.url,
        "--convention",
        "math-shepherd",
        "--prm-model",
        "peiyi9979/math-shepherd-mistral-7b-prm",
      ],
      ...["--candidates", candidatesFile, "--out", out, "--cache-dir", cacheDir],
    ];
    const failed = await runCli(args, { env: { PQM_PRM_API_KEY: KEY } });
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toContain(
      `pqm: ${server.url}/pooling: HTTP 400: input refused (auth was Bearer [redacted] (BadRequestError)`,
    );
    expect(failed.stderr).not.toContain(KEY);
    expect(existsSync(out)).toBe(false);
    // Questions 0 to 2 are in the cache's partial file.
    const partial = readdirSync(cacheDir).find((name) => name.endsWith(".partial"));
    expect(partial).toBeDefined();
    const kept = (await readFile(join(cacheDir, partial!), "utf8")).trim().split("\n");
    expect(kept).toHaveLength(1 + 3);

    refuse = false;
    const inputsBefore = server.inputs.length;
    const resumed = await runCli([...args, "--json"], { env: { PQM_PRM_API_KEY: KEY } });
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    // Only questions 3 to 5 were asked for again.
    const asked = server.inputs.slice(inputsBefore);
    expect(asked).toHaveLength(9);
    expect(asked.some((input) => input.includes("What is 2 times 3"))).toBe(false);
    const scores = await readScoresFile(out, { candidates: await readCandidateFile(candidatesFile) });
    const want = expectedScores("math-shepherd");
    expect(scores.scores.flat(2)).toHaveLength(42);
    scores.scores.flat(2).forEach((score, i) => {
      expect(score).toBeCloseTo(want.flat(2)[i]!, 9);
    });
    expect(scores.header.scorer).toBe("vllm-pooling-math-shepherd-peiyi9979/math-shepherd-mistral-7b-prm");
  }, 120_000);

  it("refuses usage errors with exit code 2, and names servers it cannot ask", async () => {
    const base = ["score", "--candidates", candidatesFile, "--out", join(folder, "x.jsonl")];
    const cases: Array<[string[], RegExp]> = [
      [
        [...base, "--model", folder, "--prm-url", "http://127.0.0.1:9", "--convention", "math-shepherd"],
        /exactly one of --model/,
      ],
      [base, /exactly one of --model/],
      [[...base, "--prm-url", "http://127.0.0.1:9"], /--prm-url needs --convention/],
      [
        [...base, "--prm-url", "http://127.0.0.1:9", "--convention", "nope"],
        /--convention: unknown scoring convention "nope"; known: pqm-release/,
      ],
      [
        [...base, "--prm-url", "http://127.0.0.1:9", "--convention", "pqm-release"],
        /cannot serve this family; score it locally/,
      ],
      [
        [...base, "--prm-url", "ftp://127.0.0.1:9", "--convention", "math-shepherd"],
        /--prm-url: not an http/,
      ],
      [
        [
          ...base,
          "--prm-url",
          "http://127.0.0.1:9",
          "--convention",
          "math-shepherd",
          "--prm-api-key",
          "sk-secret-value",
        ],
        /--prm-api-key is refused/,
      ],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args);
      expect(run.exitCode, args.join(" ")).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toContain("sk-secret-value");
    }
    const down = await runCli([...base, "--prm-url", "http://127.0.0.1:9", "--convention", "math-shepherd"]);
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toMatch(
      /http:\/\/127\.0\.0\.1:9\/v1\/models: cannot list the served models.*--prm-model/,
    );
  }, 120_000);
});
