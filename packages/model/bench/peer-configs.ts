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

/**
 * The peer's command line for one configuration and thread count: as its run.sh, 10 timed steps after 3
 * unless `steps` / `warmup` say otherwise (the tuner screens with fewer).
 */
export function peerCommand(
  name: ConfigName,
  threads: number,
  options: { steps?: number; warmup?: number } = {},
): string[] {
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
    ["--steps", options.steps ?? 10],
    ["--warmup", options.warmup ?? 3],
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

// ---------------------------------------------------------------------------------------------------
// The peer's set-up: which OpenBLAS build and kernel PyTorch uses, and how its threads wait and are
// placed. `bench/peer-tune.ts` measures the candidates and records the best per CPU model in
// `bench/results/peer-setup.json`; `bench/run.ts` runs the peer with that set-up when one exists.

/** A way to run the peer: environment variables on top of the inherited environment. */
export interface PeerSetup {
  /** Short name, e.g. `openmp/Haswell/bind-close`. */
  id: string;
  /**
   * Variables set for the peer. `LD_LIBRARY_PATH` names one OpenBLAS build's folder and is put in front
   * of any inherited value; the others (`OPENBLAS_CORETYPE`, `OMP_*`, ...) replace inherited values.
   */
  env: Record<string, string>;
  /** The kernel set OpenBLAS reported under this environment (`openblas_get_corename()`). */
  corename?: string;
}

/** Variables the tuner varies: removed from the inherited environment before a set-up's own are applied. */
export const PEER_TUNING_VARIABLES = [
  "OPENBLAS_CORETYPE",
  "OMP_PROC_BIND",
  "OMP_PLACES",
  "OMP_WAIT_POLICY",
  "GOMP_SPINCOUNT",
  "OPENBLAS_THREAD_TIMEOUT",
] as const;

/**
 * The environment for a peer process: the inherited one without the tuned variables (so that the
 * system default really is the default), plus the set-up's variables; without a set-up, the default.
 */
export function peerEnv(
  setup?: Pick<PeerSetup, "env">,
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of PEER_TUNING_VARIABLES) delete env[name];
  for (const [name, value] of Object.entries(setup?.env ?? {})) {
    if (name === "LD_LIBRARY_PATH" && base.LD_LIBRARY_PATH) env[name] = `${value}:${base.LD_LIBRARY_PATH}`;
    else env[name] = value;
  }
  return env;
}

/** What OpenBLAS reports in a process started with a given environment. */
export interface OpenBlasProbe {
  /** The libopenblas file the dynamic linker loaded (resolved through LD_LIBRARY_PATH, as for PyTorch). */
  library: string | null;
  /** `openblas_get_corename()`: the kernel set picked by CPUID, or forced by OPENBLAS_CORETYPE. */
  corename: string;
  /** `openblas_get_config()`: version, build options and kernel set. */
  config: string;
}

// Loads libopenblas.so.0 the way PyTorch's libblas.so.3 does (through the dynamic linker), reads its
// kernel set, and runs one small product with it: a kernel this CPU cannot execute dies here (SIGILL).
const OPENBLAS_PROBE = `
import ctypes, json, os
lib = ctypes.CDLL("libopenblas.so.0")
lib.openblas_get_corename.restype = ctypes.c_char_p
lib.openblas_get_config.restype = ctypes.c_char_p
paths = sorted({os.path.realpath(line.split()[-1]) for line in open("/proc/self/maps")
                if "libopenblas" in line.split()[-1]})
n = 128
a = (ctypes.c_float * (n * n))(*([1.0] * (n * n)))
c = (ctypes.c_float * (n * n))()
lib.cblas_sgemm(101, 111, 111, n, n, n, ctypes.c_float(1.0), a, n, a, n, ctypes.c_float(0.0), c, n)
if abs(c[0] - n) > 1e-3 or abs(c[n * n - 1] - n) > 1e-3:
    raise SystemExit("sgemm gave %r, expected %d" % (c[0], n))
print(json.dumps({"library": paths[0] if paths else None,
                  "corename": lib.openblas_get_corename().decode(),
                  "config": lib.openblas_get_config().decode().strip()}))
`;

/**
 * Asks OpenBLAS, in a Python process with environment `env`, which library and kernel set it uses;
 * returns the reason instead when that process fails (no OpenBLAS, or a kernel this CPU cannot run).
 */
export function probeOpenBlas(env: NodeJS.ProcessEnv): OpenBlasProbe | { error: string } {
  const run = spawnSync("/usr/bin/python3", ["-c", OPENBLAS_PROBE], {
    env,
    encoding: "utf8",
    timeout: 60_000,
  });
  if (run.status === 0) {
    try {
      return JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "") as OpenBlasProbe;
    } catch {
      return { error: `the OpenBLAS probe printed ${JSON.stringify(run.stdout.slice(0, 200))}` };
    }
  }
  const tail = (run.stderr ?? "").trim().split("\n").slice(-2).join(" / ");
  return {
    error:
      run.signal === "SIGILL"
        ? `killed by SIGILL: this CPU cannot run the kernel set ${env.OPENBLAS_CORETYPE ?? "(auto)"}`
        : `the OpenBLAS probe failed (${run.signal ?? `exit ${run.status}`}${run.error ? `, ${run.error.message}` : ""}): ${tail}`,
  };
}

/** The instruction-set flags that decide which OpenBLAS kernels can run, in this order. */
const SUMMARY_FLAGS = [
  "sse4_2",
  "avx",
  "fma",
  "avx2",
  "avx512f",
  "avx512dq",
  "avx512bw",
  "avx512vl",
  "avx512_vnni",
  "avx512_bf16",
  "amx_tile",
  "amx_bf16",
  "avx_vnni",
] as const;

/** This machine's CPU as the set-up file keys it. */
export interface CpuIdentity {
  /** /proc/cpuinfo "model name" (the key of peer-setup.json). */
  model: string;
  vendor: string;
  /** lscpu's family, model and stepping, and the hypervisor where there is one. */
  lscpu: Record<string, string>;
  /** Which of the instruction-set flags OpenBLAS's kernel choice depends on the CPU reports. */
  flags: string[];
  logicalCores: number;
}

/** Reads /proc/cpuinfo (model name, vendor, flags) and a few of lscpu's fields. */
export function cpuIdentity(): CpuIdentity {
  let cpuinfo = "";
  try {
    cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    // not Linux: the model stays unknown and no tuned set-up matches
  }
  const field = (name: string): string =>
    new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const present = new Set(field("flags").split(/\s+/));
  const lscpu: Record<string, string> = {};
  const listed = spawnSync("lscpu", [], { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
  if (listed.status === 0) {
    for (const line of listed.stdout.split("\n")) {
      const match = /^([^:]+):\s+(.*)$/.exec(line);
      if (match === null) continue;
      const key = match[1]!.trim();
      if (["Model name", "CPU family", "Model", "Stepping", "Hypervisor vendor", "L3 cache"].includes(key))
        lscpu[key] = match[2]!.trim();
    }
  }
  return {
    model: field("model name"),
    vendor: field("vendor_id"),
    lscpu,
    flags: SUMMARY_FLAGS.filter((flag) => present.has(flag)),
    logicalCores: cpuinfo.match(/^processor\s*:/gm)?.length ?? 0,
  };
}

/** The best set-up found for one metric, with what it and the system default reached. */
export interface PeerSetupWinner extends PeerSetup {
  /** Tokens/s of the winner in the final (full-length) measurement. */
  tokensPerSecond: number;
  /** Tokens/s of the system default (no variables set) in the same final measurement, when it ran. */
  systemDefaultTokensPerSecond: number | null;
}

/** One CPU model's entry in peer-setup.json (only the fields `bestPeerSetup` reads are typed here). */
export interface PeerSetupEntry {
  cpu: CpuIdentity;
  results: Record<string, Record<string, { winners: { train: PeerSetupWinner; score: PeerSetupWinner } }>>;
}

/** Where the tuner writes and the benchmark reads the set-ups. */
export const PEER_SETUP_FILE: string = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "results",
  "peer-setup.json",
);

/**
 * The tuned set-up for the peer on this CPU model, configuration and thread count, for training or for
 * scoring, from peer-setup.json; undefined when the file has none. When `flags` is given (this machine's
 * `cpuIdentity().flags`) an entry recorded on a CPU with other instruction-set flags does not match,
 * since two CPUs can share a model name and not the kernels they can run.
 */
export function bestPeerSetup(
  cpuModel: string,
  config: ConfigName,
  threads: number,
  metric: "train" | "score",
  options: { file?: string; flags?: string[] } = {},
): PeerSetupWinner | undefined {
  const file = options.file ?? PEER_SETUP_FILE;
  if (!existsSync(file)) return undefined;
  const saved = JSON.parse(readFileSync(file, "utf8")) as { cpus?: Record<string, PeerSetupEntry> };
  const entry = saved.cpus?.[cpuModel];
  if (entry === undefined) return undefined;
  if (options.flags !== undefined && entry.cpu.flags.join(" ") !== options.flags.join(" ")) return undefined;
  return entry.results[config]?.[String(threads)]?.winners[metric];
}
