import { inspect } from "node:util";
import type { Trajectory } from "@pqm/core";
import { HttpRequestError, MalformedResponseError } from "@pqm/data/http";
import { afterAll, describe, expect, it } from "vitest";
import { getScoringConvention, pqmExportConvention, scoringConventionNames } from "../conventions/index.js";
import {
  type LoopbackPoolingServer,
  type LoopbackPoolingServerOptions,
  loopbackRows,
  type PoolingAnswer,
  startLoopbackPoolingServer,
} from "./loopback-pooling-server.js";
import { poolingRowToLogOdds, vllmErrorMessage } from "./pooling-response.js";
import { PoolingStepCountError, ServedModelError } from "./remote-errors.js";
import { type PoolingConvention, VllmPoolingScorer } from "./vllm-pooling-scorer.js";

const KEY = "pqm-prm-test-key-4b8e1d0c";

// Two small conventions shaped like the published ones (the real ones live in ../conventions): a
// chat-style text with `<extra_0>` after each step read as two classes, and Math-Shepherd's
// "question step ки\nstep ки" read as the pair of returned tokens ('+', '-').
const twoClass: PoolingConvention = {
  name: "test-two-class",
  stepTag: "<extra_0>",
  poolingReadout: "two-class",
  renderText: (question, steps) =>
    `<|im_start|>user\n${question}<|im_end|>\n<|im_start|>assistant\n${steps.map((step) => `${step}<extra_0>`).join("")}<|im_end|><|endoftext|>`,
};
const tokenPair: PoolingConvention = {
  name: "test-token-pair",
  stepTag: "ки",
  poolingReadout: "token-pair",
  renderText: (question, steps) => `${question} ${steps.map((step) => `${step} ки`).join("\n")}`,
};
const single: PoolingConvention = { ...twoClass, name: "test-single", poolingReadout: "single" };

const servers: LoopbackPoolingServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function server(
  convention: PoolingConvention,
  options: Partial<LoopbackPoolingServerOptions> = {},
): Promise<LoopbackPoolingServer> {
  const started = await startLoopbackPoolingServer({
    stepTag: convention.stepTag!,
    readout: convention.poolingReadout!,
    ...options,
  });
  servers.push(started);
  return started;
}

function trajectory(id: string, question: string, steps: string[], candidate?: number): Trajectory {
  return {
    question: { id, text: question, answer: null, domain: "math" },
    steps,
    ...(candidate === undefined ? {} : { meta: { candidate } }),
  };
}

const questions: Trajectory[] = [
  trajectory("q0", "What is 2 + 3?", ["2 + 3 = 5.", "The answer is 5."], 0),
  trajectory("q0", "What is 2 + 3?", ["2 + 3 = 6.", "The answer is 6."], 1),
  trajectory("q1", "Halve 18, then add 4.", ["18 / 2 = 9.", "9 + 4 = 13.", "The answer is 13."], 0),
  trajectory("q1", "Halve 18, then add 4.", ["  leading spaces, a + and a -", "x\ny"], 1),
  trajectory("q2", "One step only?", ["Yes."], 0),
];

/** What the scores must be, computed here from the rows the server sends, by the readout's formula. */
function expected(convention: PoolingConvention, trajectories: readonly Trajectory[]): number[][] {
  return trajectories.map((t) =>
    loopbackRows(
      convention.poolingReadout!,
      convention.stepTag!,
      convention.renderText(t.question.text, t.steps),
    ).map((row) => {
      const offset = convention.poolingLogOddsOffset ?? 0;
      if (convention.poolingReadout === "two-class") return Math.log(row[1]!) - Math.log(row[0]!) + offset;
      if (convention.poolingReadout === "token-pair") return Math.log(row[0]!) - Math.log(row[1]!) + offset;
      return Math.log(row[0]!) - Math.log(1 - row[0]!) + offset;
    }),
  );
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

function scorer(
  convention: PoolingConvention,
  endpoints: string[],
  options: Partial<ConstructorParameters<typeof VllmPoolingScorer>[0]> = {},
) {
  return new VllmPoolingScorer({
    endpoints,
    convention,
    env: {},
    backoffMs: 5,
    timeoutMs: 5_000,
    ...options,
  });
}

describe("VllmPoolingScorer against a loopback server speaking vLLM's /pooling JSON", () => {
  it("scores a two-class PRM: list inputs of batchSize, one row per step tag, log p1 - log p0", async () => {
    const vllm = await server(twoClass);
    const events: string[] = [];
    const prm = scorer(twoClass, [vllm.url], {
      batchSize: 2,
      onProgress: (event) =>
        events.push(event.type === "batch" ? `${event.batchesDone}/${event.batchesTotal}` : event.type),
    });
    const scores = await prm.scoreSteps(questions);
    const want = expected(twoClass, questions);
    expect(scores.map((steps) => steps.length)).toEqual([2, 2, 3, 2, 1]);
    scores.forEach((steps, i) => {
      steps.forEach((score, s) => {
        expect(score).toBeCloseTo(want[i]![s]!, 12);
      });
    });
    // Three requests of 2, 2 and 1 texts, the documented request fields only.
    const bodies = vllm.seen.map((seen) => seen.body as { input: string[]; task: string; model?: string });
    expect(bodies.map((body) => body.input.length).sort()).toEqual([1, 2, 2]);
    expect(bodies.every((body) => body.task === "token_classify" && body.model === undefined)).toBe(true);
    expect(vllm.seen.every((seen) => seen.path === "/pooling" && seen.authorization === undefined)).toBe(
      true,
    );
    expect(bodies.flatMap((body) => body.input)).toContain(
      "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n2 + 3 = 5.<extra_0>The answer is 5.<extra_0><|im_end|><|endoftext|>",
    );
    expect(events).toEqual(["1/3", "2/3", "3/3"]);
    expect(prm.stats()).toMatchObject({ requests: 3, retries: 0, failures: 0, trajectories: 5, steps: 10 });
    expect(prm.name).toBe("vllm-pooling-test-two-class-default");
  });

  it("scores a token-pair PRM (Math-Shepherd's '+'/'-' rows): log p+ - log p-, and a single-label one", async () => {
    const vllm = await server(tokenPair);
    const scores = await scorer(tokenPair, [vllm.url], { batchSize: 8 }).scoreSteps(questions);
    const want = expected(tokenPair, questions);
    scores.forEach((steps, i) => {
      expect(steps).toHaveLength(questions[i]!.steps.length);
      steps.forEach((score, s) => {
        expect(score).toBeCloseTo(want[i]![s]!, 12);
      });
    });
    expect(vllm.poolingRequests).toBe(1);
    expect((vllm.seen[0]!.body as { input: string[] }).input[2]).toBe(
      "Halve 18, then add 4. 18 / 2 = 9. ки\n9 + 4 = 13. ки\nThe answer is 13. ки",
    );

    // A one-label classifier's rows, also as the flat list some servers send: log p - log (1 - p).
    const flat = await server(single, {
      action: () => ({
        rewrite: (answer) => ({
          ...answer,
          data: answer.data.map((entry) => ({ ...entry, data: entry.data.map((row) => row[0]) })),
        }),
      }),
    });
    const singles = await scorer(single, [flat.url]).scoreSteps(questions);
    expect(singles.flat()).toHaveLength(10);
    singles.forEach((steps, i) => {
      steps.forEach((score, s) => {
        expect(score).toBeCloseTo(expected(single, questions)[i]![s]!, 12);
      });
    });
  });

  it("turns saturated probabilities into large finite log-odds", () => {
    expect(poolingRowToLogOdds("two-class", [0, 1])).toBeCloseTo(87.3365, 3);
    expect(poolingRowToLogOdds("token-pair", [0, 1])).toBeCloseTo(-87.3365, 3);
    expect(poolingRowToLogOdds("single", [1])).toBeCloseTo(87.3365, 3);
    expect(poolingRowToLogOdds("two-class", [0.5, 0.5])).toBe(0);
  });

  it("retries a 503 and then succeeds, reporting the retry", async () => {
    const vllm = await server(twoClass, {
      action: (_seen, count) =>
        count === 0
          ? { status: 503, body: { error: { message: "busy", type: "ServiceUnavailableError", code: 503 } } }
          : "normal",
    });
    const events: string[] = [];
    const prm = scorer(twoClass, [vllm.url], {
      onProgress: (event) => {
        if (event.type === "retry") events.push(event.message);
      },
    });
    const scores = await prm.scoreSteps(questions.slice(0, 2));
    expect(scores.flat()).toHaveLength(4);
    expect(vllm.poolingRequests).toBe(2);
    expect(prm.stats()).toMatchObject({ requests: 2, retries: 1, failures: 0 });
    expect(events).toHaveLength(1);
    expect(events[0]).toContain(`${vllm.url}/pooling: HTTP 503`);
  });

  it("fails at once on a 400 with vLLM's error JSON, giving its message", async () => {
    const message =
      "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens in the input for embedding generation. Please reduce the length of the input.";
    const vllm = await server(twoClass, {
      action: () => ({
        status: 400,
        body: { error: { message, type: "BadRequestError", param: null, code: 400 } },
      }),
    });
    const error = await rejection(scorer(twoClass, [vllm.url]).scoreSteps(questions));
    expect(error).toBeInstanceOf(HttpRequestError);
    expect((error as HttpRequestError).status).toBe(400);
    expect((error as HttpRequestError).attempts).toBe(1);
    // The client keeps the first 200 characters of an error body: vLLM's message, perhaps cut short.
    expect(error.message).toBe(`${vllm.url}/pooling: HTTP 400: ${message}...`);
    expect(vllm.poolingRequests).toBe(1);
    // Older servers' error shape and FastAPI's.
    expect(
      vllmErrorMessage('HTTP 400: {"object":"error","message":"bad","type":"BadRequestError","code":400}'),
    ).toBe("bad (BadRequestError)");
    expect(vllmErrorMessage('{"detail":"Not Found"}')).toBe("Not Found");
  });

  it("names a wrong URL: no /pooling at a path, and accepts a trailing /v1", async () => {
    const vllm = await server(twoClass);
    const error = await rejection(scorer(twoClass, [`${vllm.url}/api`]).scoreSteps(questions.slice(0, 1)));
    expect(error.message).toContain(`${vllm.url}/api/pooling: HTTP 404: Not Found (no /pooling here`);
    expect(await scorer(twoClass, [`${vllm.url}/v1/`]).scoreSteps(questions.slice(0, 1))).toHaveLength(1);
  });

  it("times out a request that gets no answer, retrying it first", async () => {
    const vllm = await server(twoClass, { action: () => "hang" });
    const started = performance.now();
    const error = await rejection(
      scorer(twoClass, [vllm.url], { timeoutMs: 150, retries: 1 }).scoreSteps(questions.slice(0, 1)),
    );
    expect(error).toBeInstanceOf(HttpRequestError);
    expect(error.message).toContain("timed out after 150 ms");
    expect(error.message).toContain("gave up after 2 attempts");
    expect(vllm.poolingRequests).toBe(2);
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("refuses partial and malformed answers, naming the URL, the field or the question and candidate", async () => {
    const cases: Array<[string, (answer: PoolingAnswer) => unknown, RegExp]> = [
      [
        "too few rows",
        (answer) => {
          answer.data[1]!.data.pop();
          return answer;
        },
        /question "q0", candidate 1: the server returned 1 step row for 2 steps/,
      ],
      [
        "a non-number",
        (answer) => {
          (answer.data[0]!.data[1] as unknown[])[0] = "0.5";
          return answer;
        },
        /malformed response: field 'data\.0\.data\.1\.0': not a finite number: "0\.5"/,
      ],
      ["no data", ({ data: _data, ...rest }) => rest, /malformed response: field 'data': missing/],
      [
        "an entry short",
        (answer) => ({ ...answer, data: answer.data.slice(1) }),
        /field 'data': 1 entries for 2 inputs/,
      ],
      [
        "logits, not probabilities",
        (answer) => {
          answer.data[0]!.data[0] = [-2.5, 3.25];
          return answer;
        },
        /field 'data\.0\.data\.0': \[-2\.5,3\.25\] is not a row of probabilities .*use_activation/,
      ],
      [
        "a whole vocabulary per row",
        (answer) => {
          answer.data[0]!.data[0] = Array.from({ length: 32 }, () => 1 / 32);
          return answer;
        },
        /expected 2 values per step row for the two-class readout, got 32/,
      ],
      ["not an object", () => [1, 2], /field '\(body\)': expected a JSON object/],
    ];
    for (const [label, rewrite, message] of cases) {
      const vllm = await server(twoClass, { action: () => ({ rewrite }) });
      const error = await rejection(scorer(twoClass, [vllm.url]).scoreSteps(questions.slice(0, 2)));
      expect(error.message, label).toMatch(message);
      expect(error.message, label).toContain(`${vllm.url}/pooling`);
      expect(error, label).toBeInstanceOf(
        label === "too few rows" ? PoolingStepCountError : MalformedResponseError,
      );
      expect(vllm.poolingRequests, label).toBe(1);
    }
  });

  it("explains a step whose text holds the step tag", async () => {
    const vllm = await server(twoClass);
    const error = await rejection(
      scorer(twoClass, [vllm.url]).scoreSteps([trajectory("q9", "Q?", ["a", "b <extra_0> c", "d"], 4)]),
    );
    expect(error).toBeInstanceOf(PoolingStepCountError);
    expect(error.message).toBe(
      `${vllm.url}/pooling: question "q9", candidate 4: the server returned 4 step rows for 3 steps: step 1 holds the step tag "<extra_0>" in its text`,
    );
    expect(error).toMatchObject({ questionId: "q9", candidate: 4, steps: 3, rows: 4 });
  });

  it("shares the load between two endpoints, never more in flight than the limit", async () => {
    const a = await server(twoClass, { delayMs: 15 });
    const b = await server(twoClass, { delayMs: 15 });
    const many = Array.from({ length: 24 }, (_, i) => questions[i % questions.length]!);
    const prm = scorer(twoClass, [a.url, b.url], { batchSize: 1, concurrency: 4 });
    const scores = await prm.scoreSteps(many);
    expect(scores).toEqual(expected(twoClass, many).map((steps) => steps.map((s) => expect.closeTo(s, 12))));
    expect(a.poolingRequests + b.poolingRequests).toBe(24);
    expect(a.poolingRequests).toBeGreaterThanOrEqual(6);
    expect(b.poolingRequests).toBeGreaterThanOrEqual(6);
    expect(a.maxInFlight + b.maxInFlight).toBeLessThanOrEqual(4);
    expect(Object.keys(prm.stats().perEndpoint).sort()).toEqual([a.url, b.url].sort());
  });

  it("sends the API key from PQM_PRM_API_KEY as a Bearer token and keeps it out of errors and JSON", async () => {
    const vllm = await server(twoClass, {
      requiredApiKey: KEY,
      // A careless server that echoes the Authorization header in its error body.
      action: (seen, count) =>
        count === 1
          ? {
              status: 400,
              body: {
                error: { message: `refused ${seen.authorization}`, type: "BadRequestError", code: 400 },
              },
            }
          : "normal",
    });
    const prm = scorer(twoClass, [vllm.url], { env: { PQM_PRM_API_KEY: KEY } });
    await prm.scoreSteps(questions.slice(0, 1));
    expect(vllm.seen[0]!.authorization).toBe(`Bearer ${KEY}`);
    const error = await rejection(prm.scoreSteps(questions.slice(0, 1)));
    expect(error.message).toContain("refused Bearer [redacted]");
    expect(`${error.message} ${String((error as { cause?: Error }).cause?.message)}`).not.toContain(KEY);
    expect(JSON.stringify(prm)).not.toContain(KEY);
    expect(inspect(prm, { depth: 10, showHidden: true })).not.toContain(KEY);
    // Without the key the server refuses (401, not retried).
    const refused = await rejection(scorer(twoClass, [vllm.url]).scoreSteps(questions.slice(0, 1)));
    expect(refused.message).toContain("HTTP 401");
    // A variable named as the source must be set.
    expect(() => scorer(twoClass, [vllm.url], { apiKeyEnv: "PQM_TEST_UNSET_KEY" })).toThrow(
      /PQM_TEST_UNSET_KEY/,
    );
    // Another variable, e.g. the server's own VLLM_API_KEY, when named.
    const other = scorer(twoClass, [vllm.url], { apiKeyEnv: "VLLM_API_KEY", env: { VLLM_API_KEY: KEY } });
    expect((await other.scoreSteps(questions.slice(2, 3)))[0]).toHaveLength(3);
  });

  it("aborts: a signal cancels requests in flight, an aborted signal sends nothing", async () => {
    const vllm = await server(twoClass, { action: () => "hang" });
    const controller = new AbortController();
    const prm = scorer(twoClass, [vllm.url]);
    const started = performance.now();
    setTimeout(() => controller.abort(new Error("stopped by the test")), 50);
    const error = await rejection(prm.scoreSteps(questions, { signal: controller.signal }));
    expect(error.message).toBe("stopped by the test");
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(vllm.poolingRequests).toBe(1);
    const again = await rejection(prm.scoreSteps(questions, { signal: controller.signal }));
    expect(again.message).toBe("stopped by the test");
    expect(vllm.poolingRequests).toBe(1);
    // The scorer's own signal works the same way.
    const own = scorer(twoClass, [vllm.url], { signal: AbortSignal.abort(new Error("scorer stopped")) });
    expect((await rejection(own.scoreSteps(questions))).message).toBe("scorer stopped");
  });

  it("connect: learns the served model from /v1/models, sends it, and names the scorer after it", async () => {
    const vllm = await server(twoClass, { model: "Qwen/Qwen2.5-Math-PRM-7B" });
    const prm = await VllmPoolingScorer.connect({ endpoints: [vllm.url], convention: twoClass, env: {} });
    expect(prm.model).toBe("Qwen/Qwen2.5-Math-PRM-7B");
    expect(prm.name).toBe("vllm-pooling-test-two-class-Qwen/Qwen2.5-Math-PRM-7B");
    await prm.scoreSteps(questions.slice(0, 1));
    expect((vllm.seen.at(-1)!.body as { model: string }).model).toBe("Qwen/Qwen2.5-Math-PRM-7B");
    const other = await server(twoClass, { model: "peiyi9979/math-shepherd-mistral-7b-prm" });
    const error = await rejection(
      VllmPoolingScorer.connect({ endpoints: [vllm.url, other.url], convention: twoClass, env: {} }),
    );
    expect(error).toBeInstanceOf(ServedModelError);
    expect(error.message).toContain(`${other.url} serves "peiyi9979/math-shepherd-mistral-7b-prm"`);
    const down = await rejection(
      VllmPoolingScorer.connect({ endpoints: ["http://127.0.0.1:9"], convention: twoClass, env: {} }),
    );
    expect(down.message).toMatch(/^http:\/\/127\.0\.0\.1:9\/v1\/models: cannot list the served models/);
    // A wrong model name is the server's 404, passed on with its message.
    const wrong = await rejection(
      scorer(twoClass, [vllm.url], { model: "nope" }).scoreSteps(questions.slice(0, 1)),
    );
    expect(wrong.message).toContain("HTTP 404: The model `nope` does not exist. (NotFoundError)");
  });

  it("sends nothing for trajectories without steps, and refuses what cannot work", async () => {
    const vllm = await server(twoClass);
    const prm = scorer(twoClass, [vllm.url]);
    expect(await prm.scoreSteps([trajectory("e", "Q?", [])])).toEqual([[]]);
    expect(await prm.scoreSteps([])).toEqual([]);
    expect(vllm.poolingRequests).toBe(0);
    expect(() => scorer({ ...twoClass, name: "local-only", poolingReadout: null }, [vllm.url])).toThrow(
      /local-only convention cannot be served by vLLM's pooling runner/,
    );
    expect(() => scorer(twoClass, [])).toThrow(/no endpoints/);
    expect(() => scorer(twoClass, ["http://user:pw@127.0.0.1:1"])).toThrow(/credentials/);
    expect(() => scorer(twoClass, [vllm.url], { batchSize: 0 })).toThrow(/batchSize/);
  });

  it("works with every published convention vLLM can serve: one row per step, the readout's log-odds", async () => {
    // pqm-export renders the prompt recorded in an export's pqm_export.json: one recorded here (the
    // Alpaca template, BOS first, the bias kept out of the weights), as the export's folder gives it.
    const exported = pqmExportConvention(
      {
        file: "pqm_export.json",
        target: "vllm",
        stepTag: { text: "[PRM]", id: 32000, mode: "special" },
        scoreBias: { value: 0.25, in: "pqm_export.json" },
        template: {
          name: "pqm-alpaca",
          layout: { head: "### Instruction:\n", middle: "\n\n### Response:\n", tail: "" },
          stepFormat: { numberSteps: true, tagSeparator: " ", stepSeparator: "\n" },
        },
        addBos: true,
        bosTokenId: 1,
      },
      "<s>",
    );
    const served = scoringConventionNames
      .map((name) => (name === "pqm-export" ? exported : getScoringConvention(name)))
      .filter((convention) => convention.poolingReadout !== null);
    expect(served.map((convention) => convention.name).sort()).toEqual(
      ["math-shepherd", "pqm-export", "qwen2.5-math-prm", "trl-token-classification"].sort(),
    );
    expect(exported.renderText("Q?", ["a", "Step 7: b"])).toBe(
      "<s>### Instruction:\nQ?\n\n### Response:\nStep 1: a [PRM]\nStep 2: b [PRM]",
    );
    // Steps without newlines: the TRL layout's step tag is the newline itself.
    const plain = questions.filter((t) => t.steps.every((step) => !step.includes("\n")));
    for (const convention of served) {
      const vllm = await server(convention);
      const scores = await scorer(convention, [vllm.url], { batchSize: 3 }).scoreSteps(plain);
      const sent = vllm.seen.map(
        (seen) => (seen.body as { add_special_tokens?: unknown }).add_special_tokens,
      );
      expect(new Set(sent), convention.name).toEqual(
        new Set([convention.name === "pqm-export" ? false : undefined]),
      );
      const want = expected(convention, plain);
      scores.forEach((steps, i) => {
        expect(steps, convention.name).toHaveLength(plain[i]!.steps.length);
        steps.forEach((score, s) => {
          expect(score, convention.name).toBeCloseTo(want[i]![s]!, 12);
        });
      });
    }
    const refused = scoringConventionNames.filter(
      (name) => getScoringConvention(name).poolingReadout === null,
    );
    for (const name of refused) {
      expect(() => scorer(getScoringConvention(name), ["http://127.0.0.1:1"])).toThrow(/cannot be served/);
    }
  });
});
