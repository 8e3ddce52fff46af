import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { ConcurrencyLimiter } from "./concurrency-limiter.js";
import { HttpRequestError, MalformedResponseError } from "./http-errors.js";
import type { JsonHttpClientOptions } from "./json-http-client.js";
import { JsonHttpClient } from "./json-http-client.js";
import { abortableSleep, backoffDelay, parseRetryAfter } from "./retry-timing.js";

const KEY = "pqm-http-test-key-7f3a9c";
const KEY_VARIABLE = "PQM_TEST_HTTP_KEY";

/** What the loopback server saw of one request. */
interface Seen {
  path: string;
  authorization: string | undefined;
  body: unknown;
}

type Handler = (request: IncomingMessage, response: ServerResponse, seen: Seen) => void | Promise<void>;

interface Loopback {
  url: string;
  seen: Seen[];
  inFlight: number;
  maxInFlight: number;
}

const servers: Server[] = [];

/** A real HTTP server on 127.0.0.1 whose answers `handler` writes. */
async function loopback(handler: Handler): Promise<Loopback> {
  const state: Loopback = { url: "", seen: [], inFlight: 0, maxInFlight: 0 };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const seen: Seen = {
        path: request.url ?? "",
        authorization: request.headers.authorization,
        body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
      };
      state.seen.push(seen);
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      response.on("close", () => state.inFlight--);
      void handler(request, response, seen);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return state;
}

function answer(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
}

const echo: Handler = (_request, response, seen) => answer(response, 200, { echoed: seen.body });

function client(endpoints: string[], options: Partial<JsonHttpClientOptions> = {}, logs: string[] = []) {
  return new JsonHttpClient({
    endpoints,
    apiKeyEnv: KEY_VARIABLE,
    env: { [KEY_VARIABLE]: KEY },
    backoffMs: 5,
    timeoutMs: 5_000,
    log: (line) => logs.push(line),
    ...options,
  });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

describe("JsonHttpClient against loopback servers", () => {
  it("POSTs JSON with the key in the Authorization header only, and returns the answer and its URL", async () => {
    const server = await loopback(echo);
    const http = client([`${server.url}/`]);
    const { json, url } = await http.post("/completions", { prompt: "2+2", n: 1 });
    expect(json).toEqual({ echoed: { prompt: "2+2", n: 1 } });
    expect(url).toBe(`${server.url}/completions`);
    expect(server.seen[0]?.authorization).toBe(`Bearer ${KEY}`);
    expect(http.endpoints).toEqual([server.url]);
    expect(http.stats()).toEqual({ requests: 1, retries: 0, failures: 0, perEndpoint: { [server.url]: 1 } });
    // The key lives in a private field: not in JSON, not in util.inspect.
    expect(JSON.stringify(http)).not.toContain(KEY);
    expect(inspect(http, { depth: 10, showHidden: true })).not.toContain(KEY);
  });

  it("sends no Authorization header without a key", async () => {
    const server = await loopback(echo);
    await new JsonHttpClient({ endpoints: [server.url], env: {} }).post("/x", {});
    expect(server.seen[0]?.authorization).toBeUndefined();
  });

  it("retries 429 and 5xx answers, waiting as long as Retry-After says", async () => {
    let failures = 2;
    const server = await loopback((request, response, seen) => {
      if (failures-- > 0)
        answer(response, failures === 1 ? 429 : 503, { error: "busy" }, { "retry-after": "0.3" });
      else echo(request, response, seen);
    });
    const logs: string[] = [];
    const http = client([server.url], {}, logs);
    const started = performance.now();
    await http.post("/completions", { n: 1 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(550);
    expect(http.stats().retries).toBe(2);
    expect(logs.filter((line) => line.startsWith("retry "))).toHaveLength(2);
    expect(logs[0]).toContain("HTTP 429");
  });

  it("gives up after the retries with an HttpRequestError naming URL and status, the key redacted", async () => {
    // A careless server that echoes the request's Authorization header in its error bodies.
    const server = await loopback((request, response) =>
      answer(response, 500, { error: `boom ${request.headers.authorization}` }),
    );
    const logs: string[] = [];
    const http = client([server.url], { retries: 2 }, logs);
    const error = await rejection(http.post("/completions", {}));
    expect(error).toBeInstanceOf(HttpRequestError);
    expect((error as HttpRequestError).status).toBe(500);
    expect((error as HttpRequestError).attempts).toBe(3);
    expect((error as HttpRequestError).url).toBe(`${server.url}/completions`);
    expect(error.message).toContain(`${server.url}/completions: HTTP 500`);
    expect(error.message).toContain("gave up after 3 attempts");
    expect(server.seen).toHaveLength(3);
    expect(http.stats()).toMatchObject({ requests: 3, retries: 2, failures: 1 });
    const texts = [error.message, ...logs].join("\n");
    expect(texts).toContain("Bearer [redacted]");
    expect(texts).not.toContain(KEY);
  });

  it("fails at once on another 4xx, and on a 2xx body that is not JSON", async () => {
    let status = 400;
    const server = await loopback((_request, response) => {
      if (status === 200) {
        response.writeHead(200, { "content-type": "text/html" });
        response.end("<html>gateway</html>");
      } else answer(response, status, { error: "bad request" });
    });
    const http = client([server.url]);
    const badRequest = await rejection(http.post("/completions", {}));
    expect(badRequest).toBeInstanceOf(HttpRequestError);
    expect((badRequest as HttpRequestError).status).toBe(400);
    expect((badRequest as HttpRequestError).attempts).toBe(1);
    expect(badRequest.message).toContain("bad request");
    status = 200;
    const malformed = await rejection(http.post("/completions", {}));
    expect(malformed).toBeInstanceOf(MalformedResponseError);
    expect((malformed as MalformedResponseError).field).toBe("(body)");
    expect(malformed.message).toContain(`${server.url}/completions: malformed response`);
    expect(server.seen).toHaveLength(2);
    expect(http.stats()).toMatchObject({ retries: 0, failures: 2 });
  });

  it("retries a response slower than the timeout, and a dropped connection", async () => {
    let calls = 0;
    const server = await loopback((request, response, seen) => {
      calls++;
      if (calls === 1) setTimeout(() => answer(response, 200, { late: true }), 1_000).unref();
      else if (calls === 2) response.socket?.destroy();
      else echo(request, response, seen);
    });
    const logs: string[] = [];
    const http = client([server.url], { timeoutMs: 200 }, logs);
    expect((await http.post("/completions", { n: 2 })).json).toEqual({ echoed: { n: 2 } });
    expect(http.stats().retries).toBe(2);
    expect(logs[0]).toContain("timed out after 200 ms");
    expect(logs[1]).toContain("connection failed");
  });

  it("keeps at most `concurrency` requests in flight", async () => {
    const server = await loopback((request, response, seen) => {
      setTimeout(() => echo(request, response, seen), 30);
    });
    const http = client([server.url], { concurrency: 3 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => http.post("/x", { i })));
    expect(server.seen).toHaveLength(12);
    expect(server.maxInFlight).toBe(3);
  });

  it("spreads requests over endpoints in turn, and away from a slow one", async () => {
    const a = await loopback(echo);
    const b = await loopback(echo);
    const roundRobin = client([a.url, b.url], { loadBalancing: "round-robin" });
    for (let i = 0; i < 6; i++) await roundRobin.post("/x", { i });
    expect(roundRobin.stats().perEndpoint).toEqual({ [a.url]: 3, [b.url]: 3 });

    const slow = await loopback((request, response, seen) => {
      setTimeout(() => echo(request, response, seen), 150);
    });
    const fast = await loopback(echo);
    const least = client([slow.url, fast.url], { concurrency: 4 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => least.post("/x", { i })));
    const counts = least.stats().perEndpoint;
    expect((counts[fast.url] ?? 0) + (counts[slow.url] ?? 0)).toBe(20);
    expect(counts[fast.url] ?? 0).toBeGreaterThan(counts[slow.url] ?? 0);
  });

  it("stops with the signal's reason when aborted while backing off", async () => {
    const server = await loopback((_request, response) => answer(response, 503, {}, { "retry-after": "30" }));
    const controller = new AbortController();
    const pending = client([server.url]).post("/x", {}, controller.signal);
    setTimeout(() => controller.abort(new Error("stopped by the caller")), 100);
    const error = await rejection(pending);
    expect(error.message).toBe("stopped by the caller");
  });

  it("refuses bad endpoints and unreadable key sources, naming the cause but not a key", () => {
    expect(() => new JsonHttpClient({ endpoints: [] })).toThrow(/no endpoints/);
    expect(() => new JsonHttpClient({ endpoints: ["localhost:8000"], env: {} })).toThrow(RangeError);
    expect(() => new JsonHttpClient({ endpoints: ["http://user:pw@127.0.0.1:1/v1"], env: {} })).toThrow(
      /credentials/,
    );
    expect(
      () => new JsonHttpClient({ endpoints: ["http://127.0.0.1:1/v1"], apiKeyEnv: "PQM_UNSET", env: {} }),
    ).toThrow(/PQM_UNSET/);
    expect(
      () => new JsonHttpClient({ endpoints: ["http://127.0.0.1:1/v1"], apiKeyFile: "/nonexistent/pqm-key" }),
    ).toThrow("cannot read the API key file /nonexistent/pqm-key: ENOENT");
  });
});

describe("retry timing", () => {
  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(" 1.5 ")).toBe(1500);
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it("backs off exponentially between half and all of the capped ceiling", () => {
    expect(backoffDelay(0, 100, 1_000, () => 0)).toBe(50);
    expect(backoffDelay(0, 100, 1_000, () => 1)).toBe(100);
    expect(backoffDelay(3, 100, 1_000, () => 1)).toBe(800);
    expect(backoffDelay(10, 100, 1_000, () => 0.5)).toBe(750);
  });

  it("sleeps until aborted", async () => {
    const controller = new AbortController();
    const sleeping = abortableSleep(10_000, controller.signal);
    controller.abort(new Error("woken"));
    await expect(sleeping).rejects.toThrow("woken");
    await expect(abortableSleep(1)).resolves.toBeUndefined();
  });
});

describe("ConcurrencyLimiter", () => {
  it("runs at most `limit` tasks at once, in FIFO order, and drops a waiter whose signal aborts", async () => {
    const limiter = new ConcurrencyLimiter(2);
    const order: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = [1, 2].map((n) =>
      limiter.run(async () => {
        order.push(n);
        await gate;
      }),
    );
    const controller = new AbortController();
    const dropped = limiter.run(async () => order.push(99), controller.signal);
    const third = limiter.run(async () => order.push(3));
    expect([limiter.active, limiter.pending]).toEqual([2, 2]);
    controller.abort(new Error("gave up waiting"));
    await expect(dropped).rejects.toThrow("gave up waiting");
    expect(limiter.pending).toBe(1);
    release();
    await Promise.all([...running, third]);
    expect(order).toEqual([1, 2, 3]);
    expect(() => new ConcurrencyLimiter(0)).toThrow(RangeError);
  });
});
