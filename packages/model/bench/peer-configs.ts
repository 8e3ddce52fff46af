// The S / M / L shapes of ../shared/bench/torch-peer (same vocabulary, sizes, sequence and batch), the
// Qwen2-style decoder the peer builds, how to run the peer, and how a child process is measured (wall
// time and peak resident memory, the same way for the project's children and the peer's).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRandomDecoder } from "../src/backbone/create-random-decoder.js";
import type { DecoderBackbone } from "../src/backbone/decoder-backbone.js";

export const CONFIGS = {
  S: { vocab: 512, hidden: 128, layers: 2, heads: 4, kvHeads: 2, intermediate: 344, seq: 128, batch: 16 },
  M: { vocab: 4096, hidden: 256, layers: 4, heads: 8, kvHeads: 4, intermediate: 688, seq: 256, batch: 8 },
  L: { vocab: 32000, hidden: 512, layers: 6, heads: 8, kvHeads: 8, intermediate: 1376, seq: 512, batch: 4 },
} as const;
export type ConfigName = keyof typeof CONFIGS;
/** One shape (a peer configuration, possibly with a smaller batch or sequence). */
export interface PeerShape {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  seq: number;
  batch: number;
}

/** The median of a non-empty list. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A random decoder shaped like the peer's: Qwen2-style q/k/v biases, RoPE theta 1e6, eps 1e-6, tied head. */
export function peerDecoder(name: ConfigName, maxPositions: number = CONFIGS[name].seq): DecoderBackbone {
  const shape = CONFIGS[name];
  return createRandomDecoder(
    {
      model_type: "qwen2",
      vocab_size: shape.vocab,
      hidden_size: shape.hidden,
      num_hidden_layers: shape.layers,
      num_attention_heads: shape.heads,
      num_key_value_heads: shape.kvHeads,
      intermediate_size: shape.intermediate,
      rope_theta: 1_000_000,
      rms_norm_eps: 1e-6,
      tie_word_embeddings: true,
      max_position_embeddings: maxPositions,
    },
    0,
  );
}

/** The PyTorch peer's folder: `../shared/bench/torch-peer` beside the checkout, or under `PQM_SHARED_DIR`. */
export const PEER_DIR: string = process.env.PQM_SHARED_DIR
  ? resolve(process.env.PQM_SHARED_DIR, "bench", "torch-peer")
  : resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "shared", "bench", "torch-peer");

/** Why the peer cannot run here, or null when it can (its script exists and Debian's PyTorch imports). */
export function peerUnavailableReason(): string | null {
  if (!existsSync(join(PEER_DIR, "torch_prm_step.py")))
    return `the peer is not at ${PEER_DIR} (set PQM_SHARED_DIR to the shared folder)`;
  const probe = spawnSync("/usr/bin/python3", ["-c", "import torch"], { stdio: "ignore" });
  if (probe.status !== 0)
    return "PyTorch is not installed (/usr/bin/python3 -c 'import torch' failed); apt-get install -y python3-torch libopenblas0-openmp";
  return null;
}

/** The peer's command line for one configuration and thread count (as its run.sh, 10 timed steps after 3). */
export function peerCommand(name: ConfigName, threads: number): string[] {
  const shape = CONFIGS[name];
  const flags: [string, number | string][] = [
    ["--vocab", shape.vocab],
    ["--hidden", shape.hidden],
    ["--layers", shape.layers],
    ["--heads", shape.heads],
    ["--kv-heads", shape.kvHeads],
    ["--intermediate", shape.intermediate],
    ["--seq", shape.seq],
    ["--batch", shape.batch],
    ["--threads", threads],
    ["--steps", 10],
    ["--warmup", 3],
    ["--tag", name],
  ];
  return ["/usr/bin/python3", join(PEER_DIR, "torch_prm_step.py"), ...flags.flat().map(String)];
}

/** What one measured child process printed and used. */
export interface MeasuredRun {
  /** The last line of standard output that parses as a JSON object. */
  result: Record<string, unknown>;
  /** Peak resident set size of the process, MiB. */
  peakRssMiB: number;
  /** How the peak was measured. */
  memoryMethod: "/usr/bin/time -v" | "/proc VmHWM polling";
  wallSeconds: number;
}

const GNU_TIME = "/usr/bin/time";

/**
 * Runs `command` and measures its peak resident memory the same way for every process: under GNU
 * `/usr/bin/time -v` where it exists (its "Maximum resident set size"), else by polling the child's
 * `/proc/<pid>/status` VmHWM (a high-water mark, so the last read is at most one poll late). Child
 * standard error is passed through when `echo` is set. Rejects with the command's exit status and
 * its last lines of error output.
 */
export function measureProcess(
  command: string[],
  options: { env?: NodeJS.ProcessEnv; echo?: boolean; timeoutSeconds?: number } = {},
): Promise<MeasuredRun> {
  const useTime = existsSync(GNU_TIME);
  const argv = useTime ? [GNU_TIME, "-v", ...command] : command;
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let polledKiB = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    let pending = "";
    child.stderr.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      stderr += text;
      if (options.echo !== true) return;
      // Pass the child's own lines through; GNU time's report lines start with a tab.
      const lines = (pending + text).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines)
        if (line !== "" && !line.startsWith("\t")) process.stderr.write(`    ${line}\n`);
    });
    const poll = useTime
      ? undefined
      : setInterval(() => {
          try {
            const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
            const match = /VmHWM:\s+(\d+) kB/.exec(status);
            if (match !== null) polledKiB = Math.max(polledKiB, Number(match[1]));
          } catch {
            // the process has exited
          }
        }, 50);
    const timer =
      options.timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => child.kill("SIGKILL"), options.timeoutSeconds * 1000);
    child.on("close", (code, signal) => {
      if (poll !== undefined) clearInterval(poll);
      if (timer !== undefined) clearTimeout(timer);
      const wallSeconds = (performance.now() - started) / 1000;
      if (code !== 0) {
        // The child's own last lines: not GNU time's report (tab-indented), not minified source lines.
        const tail = stderr
          .replace(/\r/g, "\n")
          .split("\n")
          .filter((line) => line.trim() !== "" && !line.startsWith("\t") && line.length < 500)
          .filter((line) => !line.trimStart().startsWith("at "))
          .slice(-6)
          .join("\n");
        reject(
          new Error(
            `${command.join(" ")} failed (${signal === null ? `exit ${code}` : `killed by ${signal}${timer === undefined ? "" : `, time limit ${options.timeoutSeconds} s`}`}):\n${tail}`,
          ),
        );
        return;
      }
      const line = stdout
        .trim()
        .split("\n")
        .filter((text) => text.startsWith("{"))
        .at(-1);
      if (line === undefined) {
        reject(new Error(`${command.join(" ")} printed no JSON result`));
        return;
      }
      let peakKiB = polledKiB;
      if (useTime) {
        const match = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
        peakKiB = match === null ? 0 : Number(match[1]);
      }
      resolvePromise({
        result: JSON.parse(line) as Record<string, unknown>,
        peakRssMiB: Math.round(peakKiB / 1024),
        memoryMethod: useTime ? "/usr/bin/time -v" : "/proc VmHWM polling",
        wallSeconds: Math.round(wallSeconds * 10) / 10,
      });
    });
  });
}
