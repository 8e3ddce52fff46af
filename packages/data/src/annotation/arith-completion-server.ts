import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { ArithEnvironment } from "../arith/index.js";
import { parseChatPrompt, parseCompletionPrompt } from "./prompt-format.js";

/** A request as the fault hook sees it. */
export interface ArithServerRequest {
  /** 1-based count of requests this server has received. */
  number: number;
  path: string;
  headers: IncomingMessage["headers"];
  body: unknown;
}

/** Options of `startArithCompletionServer`. */
export interface ArithCompletionServerOptions {
  environment: ArithEnvironment;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** When set, requests without `Authorization: Bearer <key>` get 401. */
  requiredApiKey?: string;
  /**
   * Called before the normal answer; it may answer the request itself (a fault: a 429, a 500, a
   * slow or dropped response...) and return true, or return false to let the server answer.
   */
  intercept?: (request: ArithServerRequest, response: ServerResponse) => boolean | Promise<boolean>;
}

/** A running server: its base URL (with `/v1`), a request counter, and `close`. */
export interface ArithCompletionServer {
  url: string;
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * An OpenAI-compatible server on loopback (`/v1/completions` and `/v1/chat/completions`) whose
 * "model" is the arith environment's policy: it reads the default prompt formats back into
 * question and prefix and answers with the policy's continuations (and word counts as usage). For
 * tests, benchmarks and trying an HTTP pipeline without a language model.
 */
export async function startArithCompletionServer(
  options: ArithCompletionServerOptions,
): Promise<ArithCompletionServer> {
  let requests = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const number = ++requests;
      void answer(number, request, response, Buffer.concat(chunks).toString("utf8")).catch(
        (error: unknown) => {
          if (!response.headersSent) sendJson(response, 500, { error: { message: String(error) } });
        },
      );
    });
  });

  const answer = async (number: number, request: IncomingMessage, response: ServerResponse, text: string) => {
    const path = (request.url ?? "").split("?")[0] ?? "";
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return sendJson(response, 400, { error: { message: "the body is not JSON" } });
    }
    if (
      options.intercept &&
      (await options.intercept({ number, path, headers: request.headers, body }, response))
    )
      return;
    if (
      options.requiredApiKey !== undefined &&
      request.headers.authorization !== `Bearer ${options.requiredApiKey}`
    ) {
      return sendJson(response, 401, { error: { message: "missing or wrong API key" } });
    }
    if (request.method !== "POST" || (path !== "/v1/completions" && path !== "/v1/chat/completions")) {
      return sendJson(response, 404, { error: { message: `no route ${request.method} ${path}` } });
    }
    const record = body as Record<string, unknown>;
    const n = typeof record.n === "number" ? record.n : 1;
    const chat = path === "/v1/chat/completions";
    let parsed: ReturnType<typeof parseCompletionPrompt>;
    try {
      if (chat) {
        const messages = record.messages as Array<{ content?: unknown }> | undefined;
        const content = messages?.[messages.length - 1]?.content;
        if (typeof content !== "string") throw new Error("no user message");
        parsed = parseChatPrompt(content);
      } else {
        if (typeof record.prompt !== "string") throw new Error("no prompt");
        parsed = parseCompletionPrompt(record.prompt);
      }
    } catch (error) {
      return sendJson(response, 400, { error: { message: (error as Error).message } });
    }
    const question = options.environment.findQuestionByText(parsed.questionText);
    if (question === undefined) return sendJson(response, 400, { error: { message: "unknown question" } });
    const seed = typeof record.seed === "number" ? record.seed : undefined;
    const completions = options.environment.policy.completeSync(question, parsed.prefix, {
      n,
      ...(seed === undefined ? {} : { seed }),
    });
    const header = `Step ${parsed.prefix.length + 1}:`;
    const choices = completions.map((completion, index) => {
      // A completion model continues after the prompt's trailing header; a chat model writes it.
      const continuation = chat ? completion.text : completion.text.slice(header.length);
      return chat
        ? { index, message: { role: "assistant", content: continuation }, finish_reason: "stop" }
        : { index, text: continuation, finish_reason: "stop" };
    });
    const promptTokens = completions[0]?.usage?.promptTokens ?? 0;
    const completionTokens = completions.reduce((sum, c) => sum + (c.usage?.completionTokens ?? 0), 0);
    sendJson(response, 200, {
      id: `arith-${number}`,
      object: chat ? "chat.completion" : "text_completion",
      model: typeof record.model === "string" ? record.model : "arith",
      choices,
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/v1`,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** Writes a JSON response with its status code. */
export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}
