import { spawn } from "node:child_process";
import { delimiter, isAbsolute, relative } from "node:path";

/** What a finished command left behind. */
export interface RunResult {
  /** The command line as shown in messages. */
  command: string;
  cwd: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** stdout and stderr interleaved in arrival order. */
  output: string;
  seconds: number;
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

/** Runs `file args...` without a shell, capturing stdout and stderr together; never throws for a failure. */
export function run(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const started = performance.now();
  const command = [file, ...args].map(quoteForDisplay).join(" ");
  return new Promise((resolvePromise) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group, so a timeout ends the command's children too (npm's install scripts, tsx's node).
      detached: process.platform !== "win32",
    });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => chunks.push(chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child.pid);
    }, options.timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null, extra = "") => {
      clearTimeout(timer);
      resolvePromise({
        command,
        cwd: options.cwd,
        code,
        signal,
        timedOut,
        output: Buffer.concat(chunks).toString("utf8") + extra,
        seconds: (performance.now() - started) / 1000,
      });
    };
    child.on("error", (error) => finish(null, null, `\n${error.message}`));
    child.on("close", (code, signal) => finish(code, signal));
  });
}

/** npm's messages for a registry that did not answer in time or dropped the connection. */
const TRANSIENT_NETWORK = /\b(ETIMEDOUT|ECONNRESET|ECONNREFUSED|EAI_AGAIN|ENOTFOUND|socket hang up)\b/;

/**
 * Whether a failed `npm install` is worth one more try: it timed out, or npm reports a network error.
 * A registry that stalls for minutes once in a while should not fail a whole check.
 */
export function transientInstallFailure(result: RunResult): boolean {
  if (succeeded(result)) return false;
  return result.timedOut || TRANSIENT_NETWORK.test(result.output);
}

/**
 * `run`, tried once more when `retryIf` says the failure was transient; the result is the last try's,
 * its output headed by a line saying what happened to the first.
 */
export async function runWithRetry(
  file: string,
  args: readonly string[],
  options: RunOptions,
  retryIf: (result: RunResult) => boolean,
): Promise<RunResult> {
  const first = await run(file, args, options);
  if (!retryIf(first)) return first;
  const why = first.timedOut ? `timed out after ${Math.round(first.seconds)} s` : "failed on the network";
  const second = await run(file, args, options);
  return { ...second, output: `(the first try ${why}; this is the second)\n${second.output}` };
}

function killTree(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(process.platform === "win32" ? pid : -pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

function quoteForDisplay(part: string): string {
  return /^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replaceAll("'", "'\\''")}'`;
}

/** True when the command exited 0 on its own. */
export function succeeded(result: RunResult): boolean {
  return result.code === 0 && !result.timedOut;
}

/** One line saying how a command ended: exit code, signal or timeout. */
export function describeEnd(result: RunResult): string {
  if (result.timedOut) return `timed out after ${result.seconds.toFixed(0)} s`;
  if (result.signal) return `killed by ${result.signal}`;
  return `exit code ${result.code}`;
}

/** The last `lines` lines of a command's output, without ANSI colour codes. */
export function tail(output: string, lines = 40): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences start with ESC.
  const plain = output.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "").trimEnd();
  const all = plain.split("\n");
  const kept = all.slice(-lines);
  return (all.length > lines ? [`... (${all.length - lines} earlier lines)`, ...kept] : kept).join("\n");
}

/**
 * The environment a user's shell would give npm: this process's environment without what pnpm and npm
 * add to a script's (npm_config_*, npm_package_*, npm_lifecycle_* ...) and without PATH entries inside
 * the workspace (pnpm puts the workspace's node_modules/.bin folders first), so nothing of the workspace
 * leaks into the consumer projects.
 */
export function consumerEnv(workspaceRoot: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (value === undefined) continue;
    if (/^npm_/i.test(key) || /^pnpm_/i.test(key) || key === "NODE_PATH" || key === "INIT_CWD") continue;
    env[key] = value;
  }
  const pathKey = Object.keys(env).find((key) => key.toUpperCase() === "PATH") ?? "PATH";
  const entries = (env[pathKey] ?? "").split(delimiter).filter((entry) => entry.length > 0);
  env[pathKey] = entries.filter((entry) => !isInside(workspaceRoot, entry)).join(delimiter);
  return env;
}

/** True when `path` is `folder` or lies inside it. */
export function isInside(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}
