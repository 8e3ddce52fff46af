import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArithEnvironment } from "../arith/index.js";
import { HttpRequestError, MalformedResponseError } from "../http/http-errors.js";
import type { ArithCompletionServer, ArithServerRequest } from "./arith-completion-server.js";
import { sendJson, startArithCompletionServer } from "./arith-completion-server.js";
import { annotate } from "./monte-carlo-annotator.js";
import type { OpenAICompatiblePolicyOptions } from "./openai-compatible-policy.js";
import { OpenAICompatiblePolicy } from "./openai-compatible-policy.js";

const KEY = "sk-pqm-test-4b1f9e2d7c6a";
const KEY_VARIABLE = "PQM_TEST_COMPLETER_KEY";
const environment = new ArithEnvironment({ seed: 31 });
const questions = environment.trainQuestions(4);
const question = questions[0]!;
const prefix = environment.sampleSolutions(question, 1, 2)[0]!.steps.slice(0, 1);

type Intercept = (request: ArithServerRequest, response: ServerResponse) => boolean | Promise<boolean>;

describe("OpenAICompatiblePolicy against a loopback server backed by the arith policy", () => {
  const servers: ArithCompletionServer[] = [];
  const logs: string[] = [];
  const messages: string[] = [];
  let intercept: Intercept | undefined;
  let dir: string;

  const start = async (hook?: () => Intercept | undefined) => {
    const server = await startArithCompletionServer({
      environment,
      requiredApiKey: KEY,
      intercept: (request, response) => (hook ?? (() => intercept))()?.(request, response) ?? false,
    });
    servers.push(server);
    return server;
  };
  const client = (endpoints: string[], options: Partial<OpenAICompatiblePolicyOptions> = {}) =>
    new OpenAICompatiblePolicy({
      endpoints,
      model: "arith",
      apiKeyEnv: KEY_VARIABLE,
      env: { [KEY_VARIABLE]: KEY },
      backoffMs: 5,
      timeoutMs: 5_000,
      log: (line) => logs.push(line),
      ...options,
    });
  const failure = async (promise: Promise<unknown>): Promise<Error> => {
    try {
      await promise;
    } catch (error) {
      messages.push(String(error), (error as Error).stack ?? "");
      return error as Error;
    }
    throw new Error("expected a failure");
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pqm-openai-"));
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it("continues a prefix through /v1/completions and /v1/chat/completions exactly as the policy does", async () => {
    intercept = undefined;
    const server = await start();
    const direct = await environment.policy.complete(question, prefix, { n: 3, seed: 7 });
    for (const api of ["completions", "chat"] as const) {
      const remote = await client([server.url], { api }).complete(question, prefix, { n: 3, seed: 7 });
      expect(remote.map((c) => [c.text, c.steps, c.finalAnswer])).toEqual(
        direct.map((c) => [c.text, c.steps, c.finalAnswer]),
      );
      expect(remote.every((c) => (c.usage?.completionTokens ?? 0) > 0)).toBe(true);
    }
    // n larger than one request may carry is split into several requests.
    const before = server.requests;
    const split = await client([server.url], { maxChoicesPerRequest: 2 }).complete(question, prefix, {
      n: 5,
      seed: 1,
    });
    expect(split).toHaveLength(5);
    expect(server.requests - before).toBe(3);
  });

  it("retries a slow response after its timeout", async () => {
    let first = true;
    intercept = (_request, response) => {
      if (!first) return false;
      first = false;
      setTimeout(() => sendJson(response, 200, { choices: [] }), 1500).unref();
      return true;
    };
    const server = await start();
    const policy = client([server.url], { timeoutMs: 300 });
    const result = await policy.complete(question, prefix, { n: 2, seed: 1 });
    expect(result).toHaveLength(2);
    expect(policy.stats().retries).toBe(1);
    expect(logs.some((line) => line.includes("timed out after 300 ms"))).toBe(true);
  });

  it("waits as long as Retry-After says on a 429", async () => {
    let first = true;
    intercept = (_request, response) => {
      if (!first) return false;
      first = false;
      response.writeHead(429, { "retry-after": "1", "content-type": "application/json" });
      response.end('{"error":"slow down"}');
      return true;
    };
    const server = await start();
    const started = performance.now();
    const result = await client([server.url]).complete(question, prefix, { n: 1, seed: 1 });
    expect(result).toHaveLength(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("retries 500s, then gives up naming the endpoint and status", async () => {
    let failures = 2;
    intercept = (request, response) => {
      if (failures-- <= 0) return false;
      // A careless server echoing the request's headers must not leak the key into messages.
      sendJson(response, 500, { error: `boom ${request.headers.authorization}` });
      return true;
    };
    const server = await start();
    const policy = client([server.url], { retries: 3 });
    expect(await policy.complete(question, prefix, { n: 1, seed: 1 })).toHaveLength(1);
    expect(policy.stats().retries).toBe(2);

    failures = 100;
    const error = await failure(client([server.url], { retries: 1 }).complete(question, prefix, { n: 1 }));
    expect(error).toBeInstanceOf(HttpRequestError);
    expect((error as HttpRequestError).status).toBe(500);
    expect(error.message).toContain(`${server.url}/completions`);
    expect(error.message).toContain("HTTP 500");
  });

  it("retries a dropped connection", async () => {
    let first = true;
    intercept = (request, response) => {
      if (!first) return false;
      first = false;
      void request;
      response.socket?.destroy();
      return true;
    };
    const server = await start();
    const policy = client([server.url]);
    expect(await policy.complete(question, prefix, { n: 1, seed: 3 })).toHaveLength(1);
    expect(policy.stats().retries).toBe(1);
  });

  it("names the endpoint and the field of a malformed response", async () => {
    let body: string | object = { choices: [{ text: 5 }] };
    intercept = (_request, response) => {
      if (typeof body === "string") {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(body);
      } else sendJson(response, 200, body);
      return true;
    };
    const server = await start();
    let error = await failure(client([server.url]).complete(question, prefix, { n: 1 }));
    expect(error).toBeInstanceOf(MalformedResponseError);
    expect((error as MalformedResponseError).field).toBe("choices.0.text");
    expect(error.message).toContain(`${server.url}/completions`);

    body = { choices: [{ message: { content: null } }] };
    error = await failure(client([server.url], { api: "chat" }).complete(question, prefix, { n: 1 }));
    expect((error as MalformedResponseError).field).toBe("choices.0.message.content");
    expect(error.message).toContain(`${server.url}/chat/completions`);

    body = "<html>gateway</html>";
    error = await failure(client([server.url]).complete(question, prefix, { n: 1 }));
    expect((error as MalformedResponseError).field).toBe("(body)");

    body = { choices: [{ text: "Step 2: x" }], usage: { prompt_tokens: "many" } };
    error = await failure(client([server.url]).complete(question, prefix, { n: 1 }));
    expect((error as MalformedResponseError).field).toBe("usage.prompt_tokens");
  });

  it("balances two endpoints round robin and by fewest requests in flight", async () => {
    intercept = undefined;
    let slowA = false;
    const a = await start(() => (slowA ? slow : undefined));
    const b = await start(() => undefined);
    const slow: Intercept = async () => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return false;
    };
    const roundRobin = client([a.url, b.url], { loadBalancing: "round-robin" });
    for (let i = 0; i < 10; i++) await roundRobin.complete(question, prefix, { n: 1, seed: i });
    expect(Object.values(roundRobin.stats().perEndpoint)).toEqual([5, 5]);

    slowA = true;
    const least = client([a.url, b.url], { loadBalancing: "least-in-flight", concurrency: 4 });
    await Promise.all(
      Array.from({ length: 24 }, (_, i) => least.complete(question, prefix, { n: 1, seed: i })),
    );
    const counts = least.stats().perEndpoint;
    // The slow endpoint holds its requests longer, so the fast one is free more often.
    expect(counts[b.url] ?? 0).toBeGreaterThan(counts[a.url] ?? 0);
    expect((counts[a.url] ?? 0) + (counts[b.url] ?? 0)).toBe(24);
  });

  it("labels the same through HTTP as with the policy itself", async () => {
    intercept = undefined;
    const server = await start();
    const trajectories = environment.sampleTrajectories({ questions: 3, samplesPerQuestion: 1 });
    const options = { n: 4, seed: 5 };
    const viaHttp = await annotate(trajectories, {
      ...options,
      completer: client([server.url], { api: "chat" }),
      output: join(dir, "http.jsonl"),
    });
    const direct = await annotate(trajectories, { ...options, completer: environment.policy });
    expect(viaHttp.rows.map((row) => [row.hardLabels, row.softLabels])).toEqual(
      direct.rows.map((row) => [row.hardLabels, row.softLabels]),
    );
    expect(viaHttp.summary.promptTokens).toBeGreaterThan(0);
  });

  it("reads keys from a named variable or a file and never shows them", async () => {
    const keyFile = join(dir, "key.txt");
    await writeFile(keyFile, `${KEY}\n`);
    intercept = undefined;
    const server = await start();
    const fromFile = new OpenAICompatiblePolicy({
      endpoints: [server.url],
      model: "arith",
      apiKeyFile: keyFile,
      env: {},
    });
    expect(await fromFile.complete(question, prefix, { n: 1 })).toHaveLength(1);
    const noKey = new OpenAICompatiblePolicy({
      endpoints: [server.url],
      model: "arith",
      env: {},
      retries: 0,
    });
    const unauthorized = await failure(noKey.complete(question, prefix, { n: 1 }));
    expect((unauthorized as HttpRequestError).status).toBe(401);
    const missing = await failure(Promise.resolve().then(() => client([server.url], { env: {} })));
    expect(missing.message).toContain(KEY_VARIABLE);

    // A failing annotation run through a server that echoes the key in its error bodies.
    intercept = (request, response) => {
      sendJson(response, 503, { error: `bad auth ${request.headers.authorization}` });
      return true;
    };
    const output = join(dir, "leak.jsonl");
    const run = await annotate(environment.sampleTrajectories({ questions: 2, samplesPerQuestion: 1 }), {
      completer: client([server.url], { retries: 1 }),
      n: 2,
      retries: 0,
      output,
    });
    expect(run.summary.failures.length).toBe(2);
    const texts = [
      ...logs,
      ...messages,
      ...run.summary.failures.map((f) => f.reason),
      await readFile(output, "utf8"),
      await readFile(`${output}.failures.jsonl`, "utf8"),
      JSON.stringify(client([server.url])),
      inspect(client([server.url]), { depth: 10, showHidden: true }),
    ].join("\n");
    expect(texts).toContain("bad auth Bearer [redacted]");
    expect(texts).not.toContain(KEY);
  });
});
