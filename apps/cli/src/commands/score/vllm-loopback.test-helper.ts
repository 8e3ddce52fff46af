// A server on 127.0.0.1 that speaks vLLM's pooling JSON (POST /pooling with STEP pooling, GET
// /v1/models), for the `--prm-url` tests of pqm score and pqm search. It finds the step tag in every
// input and answers one row of probabilities per tag; the log-odds a row stands for is
// `(characters since the previous tag) % 11 - 5`, so a test knows every score the command must write.
import type { Server } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** Options of {@link startVllmLoopback}. */
export interface VllmLoopbackOptions {
  /** The step tag as text (`<extra_0>`, `ки`). */
  tag: string;
  /** `two-class` rows `[p0, p1]` or `token-pair` rows `[p+, p-]`. */
  readout: "two-class" | "token-pair";
  model: string;
  /** Requests without `Authorization: Bearer <key>` get 401. */
  requiredApiKey?: string;
  /** Inputs for which to answer 400 with vLLM's error JSON instead (the message echoes the request's Authorization). */
  refuse?: (input: string) => boolean;
}

/** A running loopback server. */
export interface VllmLoopback {
  /** The root URL (`http://127.0.0.1:<port>`). */
  url: string;
  /** Every input text received by /pooling, in order. */
  inputs: string[];
  /** Authorization headers seen. */
  authorizations: Array<string | undefined>;
  /** POST /pooling requests received. */
  requests: number;
  close(): Promise<void>;
}

/** The log-odds the server encodes for the text between two tags. */
export function loopbackLogOdds(segment: string): number {
  return (segment.length % 11) - 5;
}

/** The log-odds of every tag in `text`, as the server answers them. */
export function loopbackScores(text: string, tag: string): number[] {
  return text
    .split(tag)
    .slice(0, -1)
    .map((segment) => loopbackLogOdds(segment));
}

function json(response: import("node:http").ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

/** Starts the server. */
export async function startVllmLoopback(options: VllmLoopbackOptions): Promise<VllmLoopback> {
  const state: VllmLoopback = {
    url: "",
    inputs: [],
    authorizations: [],
    requests: 0,
    close: async () => {},
  };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const authorization = request.headers.authorization;
      state.authorizations.push(authorization);
      if (options.requiredApiKey !== undefined && authorization !== `Bearer ${options.requiredApiKey}`) {
        json(response, 401, { error: "Unauthorized" });
        return;
      }
      if (request.method === "GET" && request.url === "/v1/models") {
        json(response, 200, {
          object: "list",
          data: [{ id: options.model, object: "model", owned_by: "vllm", root: options.model, parent: null }],
        });
        return;
      }
      if (request.method !== "POST" || request.url !== "/pooling") {
        json(response, 404, { detail: "Not Found" });
        return;
      }
      state.requests++;
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { input: string[]; model?: string };
      if (body.model !== undefined && body.model !== options.model) {
        json(response, 404, {
          error: { message: `The model \`${body.model}\` does not exist.`, type: "NotFoundError", code: 404 },
        });
        return;
      }
      state.inputs.push(...body.input);
      if (options.refuse !== undefined && body.input.some(options.refuse)) {
        json(response, 400, {
          error: { message: `input refused (auth was ${authorization})`, type: "BadRequestError", code: 400 },
        });
        return;
      }
      json(response, 200, {
        id: `pool-${state.requests}`,
        object: "list",
        created: 0,
        model: options.model,
        data: body.input.map((text, index) => ({
          index,
          object: "pooling",
          data: loopbackScores(text, options.tag).map((logOdds) => {
            const p = 1 / (1 + Math.exp(-logOdds));
            return options.readout === "two-class" ? [1 - p, p] : [p, 1 - p];
          }),
        })),
        usage: { prompt_tokens: 0, total_tokens: 0, completion_tokens: 0 },
      });
    });
  });
  const sockets = new Set<import("node:net").Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return state;
}
