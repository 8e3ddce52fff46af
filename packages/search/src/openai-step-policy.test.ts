import type { ServerResponse } from "node:http";
import type { ArithCompletionServer, ArithServerRequest } from "@pqm/data";
import { ArithEnvironment, parseCompletionPrompt, startArithCompletionServer } from "@pqm/data";
import { HttpRequestError, MalformedResponseError } from "@pqm/data/http";
import { afterAll, describe, expect, it } from "vitest";
import type { OpenAIStepPolicyOptions } from "./openai-step-policy.js";
import { OpenAIStepPolicy } from "./openai-step-policy.js";

const KEY = "sk-pqm-search-test-91c2e4f7a0b3";
const KEY_VARIABLE = "PQM_TEST_SEARCH_KEY";
const environment = new ArithEnvironment({ seed: 17 });
const questions = environment.trainQuestions(3);
const question = questions[0]!;
const solution = environment.referenceSteps(question);

type Intercept = (request: ArithServerRequest, response: ServerResponse) => boolean | Promise<boolean>;

/** Answers an intercepted request with `body` as JSON. */
function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

/**
 * Answers like vLLM does: the arith policy's continuation cut at the first stop string, which is
 * dropped (unless `include_stop_str_in_output`), with `stop_reason` naming it (null at the end).
 */
function vllmLike(options: { stopReason: boolean }): Intercept {
  return (request, response) => {
    const body = request.body as Record<string, unknown>;
    const parsed = parseCompletionPrompt(body.prompt as string);
    const asked = environment.findQuestionByText(parsed.questionText)!;
    const n = (body.n as number | undefined) ?? 1;
    const completions = environment.policy.completeSync(asked, parsed.prefix, {
      n,
      ...(typeof body.seed === "number" ? { seed: body.seed } : {}),
    });
    const header = `Step ${parsed.prefix.length + 1}:`;
    const stops = (body.stop as string[] | undefined) ?? [];
    const choices = completions.map((completion, index) => {
      let text = completion.text.slice(header.length);
      let stopReason: string | null = null;
      for (const stop of stops) {
        const at = text.indexOf(stop);
        if (at >= 0) {
          text =
            body.include_stop_str_in_output === true ? text.slice(0, at + stop.length) : text.slice(0, at);
          stopReason = stop;
          break;
        }
      }
      return {
        index,
        text,
        finish_reason: "stop",
        ...(options.stopReason ? { stop_reason: stopReason } : {}),
      };
    });
    sendJson(response, 200, {
      choices,
      usage: { prompt_tokens: 10, completion_tokens: choices.reduce((sum, c) => sum + c.text.length, 0) },
    });
    return true;
  };
}

describe("OpenAIStepPolicy against the loopback arith completion server", () => {
  const servers: ArithCompletionServer[] = [];
  const bodies: Array<Record<string, unknown>> = [];
  const logs: string[] = [];
  let intercept: Intercept | undefined;

  const start = async () => {
    const server = await startArithCompletionServer({
      environment,
      requiredApiKey: KEY,
      intercept: async (request, response) => {
        bodies.push(request.body as Record<string, unknown>);
        return (await intercept?.(request, response)) ?? false;
      },
    });
    servers.push(server);
    return server;
  };
  const policyFor = (endpoints: string[], options: Partial<OpenAIStepPolicyOptions> = {}) =>
    new OpenAIStepPolicy({
      endpoints,
      model: "arith",
      apiKeyEnv: KEY_VARIABLE,
      env: { [KEY_VARIABLE]: KEY },
      backoffMs: 5,
      timeoutMs: 5_000,
      log: (line) => logs.push(line),
      ...options,
    });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    // The key never reaches a log line.
    expect(logs.join("\n")).not.toContain(KEY);
  });

  it("extends by one step (the server ignores stop: the text is cut at the delimiter, which raw keeps)", async () => {
    intercept = undefined;
    const server = await start();
    bodies.length = 0;
    const prefix = solution.slice(0, 1);
    const batch = await policyFor([server.url]).extend(question, prefix, { k: 3, seed: 7 });
    const direct = environment.policy.completeSync(question, prefix, { n: 3, seed: 7 });
    expect(batch.proposals.map((p) => p.text)).toEqual(direct.map((c) => c.steps[0]));
    for (const proposal of batch.proposals) {
      expect(proposal.stop).toBe("delimiter");
      expect(proposal.raw.endsWith("\n")).toBe(true);
      expect(proposal.raw.trim()).toBe(proposal.text);
      expect(proposal.terminal).toBe(false);
    }
    expect(bodies[0]).toMatchObject({ model: "arith", n: 3, seed: 7, stop: ["\n"] });
    expect(batch.calls).toBe(1);
    // Usage as the server reports it (it generated whole solutions), shared among the samples.
    expect(batch.proposals.reduce((sum, p) => sum + p.tokens, 0)).toBe(batch.completionTokens);
    expect(batch.completionTokens).toBe(direct.reduce((sum, c) => sum + c.usage!.completionTokens, 0));
  });

  it("ends the solution at the step that states the answer", async () => {
    intercept = undefined;
    const server = await start();
    const prefix = solution.slice(0, -1);
    const batch = await policyFor([server.url]).extend(question, prefix, { k: 4, seed: 1 });
    for (const proposal of batch.proposals) {
      expect(proposal.stop).toBe("end");
      expect(proposal.terminal).toBe(true);
      expect(proposal.finalAnswer).not.toBeNull();
      expect(proposal.raw.endsWith("\n")).toBe(false);
    }
  });

  it("puts the dropped stop string back when vLLM's stop_reason names it, and reads a null stop_reason as the end", async () => {
    intercept = vllmLike({ stopReason: true });
    const server = await start();
    const policy = policyFor([server.url]);
    const middle = await policy.extend(question, solution.slice(0, 1), { k: 3, seed: 4 });
    const direct = environment.policy.completeSync(question, solution.slice(0, 1), { n: 3, seed: 4 });
    expect(middle.proposals.map((p) => p.text)).toEqual(direct.map((c) => c.steps[0]));
    for (const proposal of middle.proposals) {
      expect(proposal.stop).toBe("delimiter");
      expect(proposal.raw).toBe(` ${proposal.text}\n`);
    }
    const last = await policy.extend(question, solution.slice(0, -1), { k: 3, seed: 4 });
    for (const proposal of last.proposals) {
      expect(proposal.stop).toBe("end");
      expect(proposal.raw.endsWith("\n")).toBe(false);
    }
  });

  it("with include_stop_str_in_output, a text without the delimiter ended the solution", async () => {
    intercept = vllmLike({ stopReason: false });
    const server = await start();
    bodies.length = 0;
    const policy = policyFor([server.url], { includeStopStrInOutput: true, answerEndsSolution: false });
    const middle = await policy.extend(question, solution.slice(0, 1), { k: 2, seed: 9 });
    expect(bodies[0]).toMatchObject({ include_stop_str_in_output: true });
    expect(middle.proposals.every((p) => p.stop === "delimiter" && p.raw.endsWith("\n"))).toBe(true);
    const last = await policy.extend(question, solution.slice(0, -1), { k: 2, seed: 9 });
    expect(last.proposals.every((p) => p.stop === "end" && p.terminal)).toBe(true);
  });

  it("without any stop signal (an OpenAI-style server), a step that states no answer ended at the delimiter", async () => {
    intercept = vllmLike({ stopReason: false });
    const server = await start();
    const policy = policyFor([server.url]);
    const middle = await policy.extend(question, solution.slice(0, 1), { k: 2, seed: 2 });
    expect(middle.proposals.every((p) => p.stop === "delimiter" && p.raw.endsWith("\n") && !p.terminal)).toBe(
      true,
    );
    const last = await policy.extend(question, solution.slice(0, -1), { k: 2, seed: 2 });
    expect(last.proposals.every((p) => p.stop === "end" && p.terminal && p.finalAnswer !== null)).toBe(true);
  });

  it("splits k over requests of at most maxChoicesPerRequest, with distinct seeds, over several endpoints", async () => {
    intercept = undefined;
    const a = await start();
    const b = await start();
    bodies.length = 0;
    const policy = policyFor([a.url, b.url], { maxChoicesPerRequest: 2, loadBalancing: "round-robin" });
    const batch = await policy.extend(question, [], { k: 5, seed: 11 });
    expect(batch.proposals).toHaveLength(5);
    expect(batch.calls).toBe(3);
    expect(bodies.map((body) => body.n).sort()).toEqual([1, 2, 2]);
    expect(new Set(bodies.map((body) => body.seed)).size).toBe(3);
    const stats = policy.stats();
    expect(stats.perEndpoint[a.url]).toBeGreaterThan(0);
    expect(stats.perEndpoint[b.url]).toBeGreaterThan(0);
  });

  it("retries 5xx answers with backoff, then succeeds", async () => {
    let failures = 2;
    intercept = (_request, response) => {
      if (failures <= 0) return false;
      failures -= 1;
      sendJson(response, 503, { error: { message: "overloaded" } });
      return true;
    };
    const server = await start();
    const policy = policyFor([server.url]);
    const batch = await policy.extend(question, [], { k: 2, seed: 1 });
    expect(batch.proposals).toHaveLength(2);
    expect(policy.stats().retries).toBe(2);
    expect(logs.some((line) => line.includes("HTTP 503"))).toBe(true);
  });

  it("gives up after the retries with a HttpRequestError naming the endpoint", async () => {
    intercept = (_request, response) => {
      sendJson(response, 500, { error: { message: "broken" } });
      return true;
    };
    const server = await start();
    const error = await policyFor([server.url], { retries: 2 })
      .extend(question, [], { k: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpRequestError);
    expect(String(error)).toContain(`${server.url}/completions`);
    expect(String(error)).toContain("gave up after 3 attempts");
  });

  it("sends the key from the environment, and no error or log line ever shows it", async () => {
    // A server that echoes the Authorization header back in its error body.
    intercept = (request, response) => {
      sendJson(response, 403, { error: { message: `bad key ${String(request.headers.authorization)}` } });
      return true;
    };
    const server = await start();
    const error = await policyFor([server.url])
      .extend(question, [], { k: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpRequestError);
    expect(String(error)).not.toContain(KEY);
    expect(String(error)).toContain("Bearer [redacted]");
    expect(JSON.stringify(policyFor([server.url]))).not.toContain(KEY);
    // Without the key the real server refuses the request.
    intercept = undefined;
    const keyless = new OpenAIStepPolicy({ endpoints: [server.url], model: "arith", env: {} });
    await expect(keyless.extend(question, [], { k: 1 })).rejects.toThrow(/HTTP 401/);
    // A named variable that is not set is an error naming the variable.
    expect(
      () => new OpenAIStepPolicy({ endpoints: [server.url], model: "arith", apiKeyEnv: "NOPE", env: {} }),
    ).toThrow(/NOPE/);
  });

  it("reads finish_reason length as a cut step with no answer, and refuses a malformed body naming the field", async () => {
    intercept = (_request, response) => {
      sendJson(response, 200, {
        choices: [{ text: " After buying more, Mia has", finish_reason: "length" }],
      });
      return true;
    };
    const server = await start();
    const [cut] = (await policyFor([server.url]).extend(question, [], { k: 1 })).proposals;
    expect(cut).toMatchObject({ stop: "length", terminal: true, finalAnswer: null });
    intercept = (_request, response) => {
      sendJson(response, 200, { choices: [{ text: 5 }] });
      return true;
    };
    const error = await policyFor([server.url])
      .extend(question, [], { k: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedResponseError);
    expect((error as MalformedResponseError).field).toBe("choices.0.text");
  });

  it("completes whole solutions into steps, as the environment's policy writes them", async () => {
    intercept = undefined;
    const server = await start();
    bodies.length = 0;
    const batch = await policyFor([server.url]).complete(question, solution.slice(0, 1), { k: 3, seed: 5 });
    const direct = environment.policy.completeSync(question, solution.slice(0, 1), { n: 3, seed: 5 });
    expect(batch.rollouts.map((r) => r.steps.map((s) => s.text))).toEqual(direct.map((c) => c.steps));
    expect(batch.rollouts.map((r) => r.steps.at(-1)!.finalAnswer)).toEqual(direct.map((c) => c.finalAnswer));
    expect(bodies[0]!.stop).toBeUndefined();
    const tokens = batch.rollouts.flatMap((r) => r.steps).reduce((sum, s) => sum + s.tokens, 0);
    expect(tokens).toBe(batch.completionTokens);
  });
});
