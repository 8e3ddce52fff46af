// A loopback HTTP server that answers like vLLM's pooling API (POST /pooling with STEP pooling, GET
// /v1/models), for the tests and the benchmark: it counts the step tag in every input and returns one
// row of probabilities per tag, computed from the text before that tag. Internal: not exported.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { PoolingReadout } from "../conventions/scoring-convention.js";

/** What the server saw of one request. */
export interface SeenRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

/** What to do with a request instead of answering it normally. */
export type LoopbackAction =
  | "normal"
  | "hang"
  | "drop"
  | { status: number; body: unknown; headers?: Record<string, string> }
  | { rewrite: (answer: PoolingAnswer) => unknown };

/** The normal answer of the server (vLLM's PoolingResponse). */
export interface PoolingAnswer {
  id: string;
  object: "list";
  created: number;
  model: string;
  data: Array<{ index: number; object: "pooling"; data: number[][] }>;
  usage: { prompt_tokens: number; total_tokens: number; completion_tokens: number };
}

/** Options of {@link startLoopbackPoolingServer}. */
export interface LoopbackPoolingServerOptions {
  /** The step tag as it appears in the input text. */
  stepTag: string;
  readout: PoolingReadout;
  /** The served model name (default `loopback-prm`). */
  model?: string;
  /** When set, requests without `Authorization: Bearer <key>` get 401. */
  requiredApiKey?: string;
  /** Decides per request (0-based count of POST /pooling requests) what happens; default normal. */
  action?: (request: SeenRequest, count: number) => LoopbackAction;
  /** Keep every request in `seen` (default true; the benchmark turns it off). */
  record?: boolean;
  /** Milliseconds to wait before a normal answer (default 0: answer at once). */
  delayMs?: number;
  /**
   * Computes the rows of one input instead of the hash (`loopbackRows`), e.g. from a real model's
   * scores as vLLM would return them; told the request's `add_special_tokens` (undefined when not sent).
   */
  rows?: (
    text: string,
    request: { addSpecialTokens: boolean | undefined },
  ) => Promise<number[][]> | number[][];
}

/** A running loopback server. */
export interface LoopbackPoolingServer {
  /** `http://127.0.0.1:<port>` (the root: /pooling is served there). */
  url: string;
  seen: SeenRequest[];
  /** POST /pooling requests received. */
  poolingRequests: number;
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

/** The probability a step is right that the server gives the text before a tag: a hash squashed through a sigmoid. */
export function loopbackProbability(segment: string): number {
  let hash = 2166136261;
  for (let i = 0; i < segment.length; i++) {
    hash ^= segment.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  const logit = ((hash >>> 0) % 6001) / 1000 - 3; // in [-3, 3]
  return 1 / (1 + Math.exp(-logit));
}

/** The row the server returns for the text before a tag, for a readout. */
export function loopbackRow(readout: PoolingReadout, segment: string): number[] {
  const p = loopbackProbability(segment);
  if (readout === "single") return [p];
  return readout === "two-class" ? [1 - p, p] : [p, 1 - p];
}

/** The rows for one input text: one per occurrence of the tag, from the text since the previous tag. */
export function loopbackRows(readout: PoolingReadout, stepTag: string, text: string): number[][] {
  const pieces = text.split(stepTag);
  return pieces.slice(0, -1).map((segment) => loopbackRow(readout, segment));
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  response.end(text);
}

/** Starts the server on 127.0.0.1 at a free port. */
export async function startLoopbackPoolingServer(
  options: LoopbackPoolingServerOptions,
): Promise<LoopbackPoolingServer> {
  const model = options.model ?? "loopback-prm";
  const record = options.record ?? true;
  const sockets = new Set<import("node:net").Socket>();
  const state = {
    url: "",
    seen: [] as SeenRequest[],
    poolingRequests: 0,
    inFlight: 0,
    maxInFlight: 0,
  };
  const handle = async (request: IncomingMessage, response: ServerResponse, raw: string) => {
    let body: unknown;
    try {
      body = raw === "" ? undefined : JSON.parse(raw);
    } catch {
      send(response, 400, {
        error: { message: "invalid JSON", type: "BadRequestError", param: null, code: 400 },
      });
      return;
    }
    const seen: SeenRequest = {
      method: request.method ?? "",
      path: request.url ?? "",
      authorization: request.headers.authorization,
      body,
    };
    if (record) state.seen.push(seen);
    if (options.requiredApiKey !== undefined && seen.authorization !== `Bearer ${options.requiredApiKey}`) {
      send(response, 401, { error: "Unauthorized" });
      return;
    }
    if (seen.method === "GET" && seen.path === "/v1/models") {
      send(response, 200, {
        object: "list",
        data: [{ id: model, object: "model", created: 0, owned_by: "vllm", root: model, parent: null }],
      });
      return;
    }
    if (seen.method !== "POST" || seen.path !== "/pooling") {
      send(response, 404, { detail: "Not Found" });
      return;
    }
    const count = state.poolingRequests++;
    const action = options.action?.(seen, count) ?? "normal";
    if (action === "hang") return;
    if (action === "drop") {
      response.socket?.destroy();
      return;
    }
    if (typeof action === "object" && "status" in action) {
      send(response, action.status, action.body, action.headers);
      return;
    }
    const request_ = body as { model?: unknown; input?: unknown; add_special_tokens?: unknown };
    if (request_.model !== undefined && request_.model !== model) {
      send(response, 404, {
        error: {
          message: `The model \`${String(request_.model)}\` does not exist.`,
          type: "NotFoundError",
          param: "model",
          code: 404,
        },
      });
      return;
    }
    const inputs = typeof request_.input === "string" ? [request_.input] : request_.input;
    if (!Array.isArray(inputs) || !inputs.every((input) => typeof input === "string")) {
      send(response, 400, {
        error: {
          message: "input must be a string or a list of strings",
          type: "BadRequestError",
          param: "input",
          code: 400,
        },
      });
      return;
    }
    const texts = inputs as string[];
    const tokens = texts.reduce((sum, text) => sum + text.length, 0);
    const addSpecialTokens =
      typeof request_.add_special_tokens === "boolean" ? request_.add_special_tokens : undefined;
    let rows: number[][][];
    try {
      rows = await Promise.all(
        texts.map((text) =>
          options.rows === undefined
            ? loopbackRows(options.readout, options.stepTag, text)
            : options.rows(text, { addSpecialTokens }),
        ),
      );
    } catch (error) {
      send(response, 500, {
        error: { message: String((error as Error).message), type: "InternalServerError", code: 500 },
      });
      return;
    }
    const answer: PoolingAnswer = {
      id: `pool-${count}`,
      object: "list",
      created: Math.floor(Date.now() / 1000),
      model,
      data: rows.map((data, index) => ({ index, object: "pooling", data })),
      usage: { prompt_tokens: tokens, total_tokens: tokens, completion_tokens: 0 },
    };
    const final = typeof action === "object" ? action.rewrite(answer) : answer;
    if (options.delayMs !== undefined && options.delayMs > 0) {
      setTimeout(() => send(response, 200, final), options.delayMs);
    } else {
      send(response, 200, final);
    }
  };
  const server: Server = createServer((request, response) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    response.on("close", () => state.inFlight--);
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => void handle(request, response, Buffer.concat(chunks).toString("utf8")));
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const result = state as typeof state & { close(): Promise<void> };
  result.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return result;
}
