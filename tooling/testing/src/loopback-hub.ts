// A small stand-in for the Hugging Face Hub on loopback, for tests of Hub clients: a "hub" server that serves
// `/{datasets/}owner/name/resolve/{rev}/{path}` from files in a temp folder, and a "CDN" server on
// another port (another origin) that LFS files redirect to. Both record every request.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** One request as a server saw it. */
export interface SeenRequest {
  server: "hub" | "cdn";
  method: string;
  path: string;
  authorization: string | undefined;
  range: string | undefined;
}

/** Misbehaviors to switch on for the next requests. */
export interface HubBehavior {
  /** The next CDN or hub GET sends this many body bytes, then destroys the socket (once). */
  dropNextGetAfter: number | undefined;
  /** The next GET sends this many body bytes, then nothing more while keeping the socket open (once). */
  stallNextGetAfter: number | undefined;
  /** Answer Range requests with the whole file (200). */
  ignoreRange: boolean;
  /** Announce this size in X-Linked-Size / Content-Length of HEAD instead of the real one. */
  announcedSize: number | undefined;
  /** Serve the file with its first byte changed (same size). */
  corrupt: boolean;
  /** Answer this many next hub requests with 503. */
  failNextWith503: number;
  /** Omit X-Repo-Commit. */
  noCommitHeader: boolean;
}

/** The running pair of servers. */
export interface LoopbackHub {
  /** `http://127.0.0.1:{hubPort}`: pass as `endpoint`. */
  endpoint: string;
  /** `http://127.0.0.1:{cdnPort}`. */
  cdnOrigin: string;
  /** The commit every revision resolves to. */
  commit: string;
  /** The folder the files are served from. */
  root: string;
  requests: SeenRequest[];
  behavior: HubBehavior;
  /**
   * Adds a file. `repo` is `datasets/owner/name` or `owner/name`. `lfs` files redirect to the CDN with
   * a sha256 ETag; `gatedToken` files answer 401 unless that token is sent.
   */
  addFile(
    repo: string,
    path: string,
    content: Buffer | string,
    options?: { lfs?: boolean; gatedToken?: string },
  ): Buffer;
  /** Makes `fromRepo` answer with a relative 307 to `toRepo` (a renamed repository). */
  addRename(fromRepo: string, toRepo: string): void;
  close(): Promise<void>;
}

interface FileInfo {
  lfs: boolean;
  gatedToken: string | undefined;
}

/** Starts the hub and CDN servers on 127.0.0.1, ports chosen by the system. */
export async function startLoopbackHub(): Promise<LoopbackHub> {
  const root = mkdtempSync(join(tmpdir(), "pqm-loopback-hub-"));
  const commit = createHash("sha1").update(root).digest("hex");
  const files = new Map<string, FileInfo>();
  const renames = new Map<string, string>();
  const requests: SeenRequest[] = [];
  const behavior: HubBehavior = {
    dropNextGetAfter: undefined,
    stallNextGetAfter: undefined,
    ignoreRange: false,
    announcedSize: undefined,
    corrupt: false,
    failNextWith503: 0,
    noCommitHeader: false,
  };

  const record = (server: "hub" | "cdn", request: IncomingMessage): SeenRequest => {
    const seen: SeenRequest = {
      server,
      method: request.method ?? "",
      path: decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname),
      authorization: request.headers.authorization,
      range: request.headers.range,
    };
    requests.push(seen);
    return seen;
  };

  const readContent = (key: string): Buffer => {
    const content = readFileSync(join(root, key));
    if (!behavior.corrupt) return content;
    const copy = Buffer.from(content);
    copy[0] = (copy[0] ?? 0) ^ 0xff;
    return copy;
  };

  const serveBytes = (
    request: IncomingMessage,
    response: ServerResponse,
    content: Buffer,
    headers: Record<string, string>,
  ) => {
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? "");
    let start = 0;
    if (range !== null && !behavior.ignoreRange) {
      start = Number(range[1]);
      if (start >= content.length) {
        response.writeHead(416, { "content-range": `bytes */${content.length}` });
        response.end();
        return;
      }
      response.writeHead(206, {
        ...headers,
        "content-length": String(content.length - start),
        "content-range": `bytes ${start}-${content.length - 1}/${content.length}`,
      });
    } else {
      response.writeHead(200, { ...headers, "content-length": String(content.length) });
    }
    if (request.method === "HEAD") {
      response.end();
      return;
    }
    const body = content.subarray(start);
    const drop = behavior.dropNextGetAfter;
    if (drop !== undefined) {
      behavior.dropNextGetAfter = undefined;
      response.write(body.subarray(0, drop), () => {
        // Let the bytes reach the client before the connection goes.
        setTimeout(() => response.socket?.destroy(), 20);
      });
      return;
    }
    const stall = behavior.stallNextGetAfter;
    if (stall !== undefined) {
      behavior.stallNextGetAfter = undefined;
      // The client's idle timeout has to end this one; close() ends the socket otherwise.
      response.write(body.subarray(0, stall));
      return;
    }
    response.end(body);
  };

  const hub = createServer((request, response) => {
    record("hub", request);
    if (behavior.failNextWith503 > 0) {
      behavior.failNextWith503--;
      response.writeHead(503, { "content-type": "text/plain" });
      response.end("try later");
      return;
    }
    const url = new URL(request.url ?? "/", "http://x");
    const match = /^\/((?:datasets\/)?[^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (match === null) {
      response.writeHead(404).end();
      return;
    }
    const [, repo = "", , encodedPath = ""] = match;
    const renamed = renames.get(repo);
    if (renamed !== undefined) {
      response.writeHead(307, { location: url.pathname.replace(`/${repo}/`, `/${renamed}/`) });
      response.end();
      return;
    }
    const path = encodedPath.split("/").map(decodeURIComponent).join("/");
    const key = `${repoFolder(repo)}/${path}`;
    const info = files.get(key);
    if (info === undefined) {
      response.writeHead(404, { "x-error-code": "EntryNotFound", "x-error-message": "Entry not found" });
      response.end(request.method === "HEAD" ? undefined : "Entry not found");
      return;
    }
    if (info.gatedToken !== undefined && request.headers.authorization !== `Bearer ${info.gatedToken}`) {
      // Echo what was sent, as a careless server might: the client must not repeat it.
      const echoed = `Access to this repository is restricted; you sent '${request.headers.authorization ?? "nothing"}'`;
      response.writeHead(401, { "x-error-code": "GatedRepo", "x-error-message": echoed });
      response.end(request.method === "HEAD" ? undefined : echoed);
      return;
    }
    const content = readContent(key);
    const real = readFileSync(join(root, key));
    const size = String(behavior.announcedSize ?? real.length);
    const commitHeader: Record<string, string> = behavior.noCommitHeader ? {} : { "x-repo-commit": commit };
    if (info.lfs) {
      const sha = createHash("sha256").update(real).digest("hex");
      response.writeHead(302, {
        location: `${cdnOrigin()}/blobs/${key}`,
        "x-linked-etag": `"${sha}"`,
        "x-linked-size": size,
        etag: `W/"${createHash("sha1").update(key).digest("hex")}"`,
        "content-length": "0",
        ...commitHeader,
      });
      response.end();
      return;
    }
    const etag = `"${createHash("sha1").update(real).digest("hex")}"`;
    if (request.method === "HEAD") {
      response.writeHead(200, { etag, "content-length": size, ...commitHeader });
      response.end();
      return;
    }
    serveBytes(request, response, content, { etag, ...commitHeader });
  });

  const cdn = createServer((request, response) => {
    record("cdn", request);
    const url = new URL(request.url ?? "/", "http://x");
    const key = decodeURIComponent(url.pathname.replace(/^\/blobs\//, ""));
    if (!files.has(key)) {
      response.writeHead(404).end();
      return;
    }
    serveBytes(request, response, readContent(key), {});
  });

  const listen = (server: Server): Promise<number> =>
    new Promise((resolvePort) =>
      server.listen(0, "127.0.0.1", () => resolvePort((server.address() as AddressInfo).port)),
    );
  const hubPort = await listen(hub);
  const cdnPort = await listen(cdn);
  const cdnOrigin = (): string => `http://127.0.0.1:${cdnPort}`;

  return {
    endpoint: `http://127.0.0.1:${hubPort}`,
    cdnOrigin: cdnOrigin(),
    commit,
    root,
    requests,
    behavior,
    addFile(repo, path, content, options = {}) {
      const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
      const key = `${repoFolder(repo)}/${path}`;
      mkdirSync(dirname(join(root, key)), { recursive: true });
      writeFileSync(join(root, key), bytes);
      files.set(key, { lfs: options.lfs ?? false, gatedToken: options.gatedToken });
      return bytes;
    },
    addRename(fromRepo, toRepo) {
      renames.set(fromRepo, toRepo);
    },
    async close() {
      for (const server of [hub, cdn]) {
        server.closeAllConnections();
        await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

// `datasets/o/n` -> `datasets/o/n`, `o/n` -> `models/o/n`: one folder per repo type on disk.
function repoFolder(repo: string): string {
  return repo.startsWith("datasets/") ? repo : `models/${repo}`;
}
