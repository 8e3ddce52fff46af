// Puts the PyTorch peer (../shared/bench/torch-peer) at its best on this machine before it is compared
// with the project: for each configuration and thread count it tries the peer under several set-ups and
// records the fastest for training and, separately, for scoring.
//
//   node --import tsx bench/peer-tune.ts [--configs S,M,L] [--threads 1,2] [--steps 4 --warmup 2]
//        [--final-steps 10 --final-warmup 3] [--top 2] [--final-rounds 1] [--cores Haswell,Zen]
//        [--wait-quiet 20] [--out bench/results]
//   node --import tsx bench/peer-tune.ts --render [--out bench/results]   (peer-setup.md from the .json)
//
// What varies:
// - the OpenBLAS build PyTorch loads: Debian's openblas-pthread, openblas-openmp and (one thread only)
//   openblas-serial, chosen by putting the build's folder first in LD_LIBRARY_PATH;
// - OpenBLAS's kernel set: unset (OpenBLAS picks by CPUID) or forced with OPENBLAS_CORETYPE to each core
//   that the CPU's flags allow (Haswell for avx2, SkylakeX for avx512, Cooperlake for avx512_bf16, Zen
//   on AMD), skipping a core equal to the automatic pick;
// - with more than one thread, how threads are placed and wait (OMP_PROC_BIND/OMP_PLACES,
//   OMP_WAIT_POLICY, and for the pthread build OpenBLAS's own pool going to sleep early), tried on the
//   best one or two build x kernel pairs.
// Every candidate is first screened with few steps (--steps/--warmup; default 4 + 2, L 2 + 1); the best
// --top by training and by scoring, and the system default's equivalent, are then measured again with
// the peer's normal 10 + 3 steps, and the winners are picked from those. A candidate whose OpenBLAS
// probe or run fails (a kernel the CPU cannot run dies with SIGILL) is kept in the record as excluded.
// Other processes disturb the figures when they take cores the peer needs: before each run the tuner
// waits up to --wait-quiet seconds for enough free cores, and a run that the peer's own load probe saw
// disturbed is repeated once (screening: after the rest; final: at the end of the round), keeping the
// quieter of the two.
//
// Writes <out>/peer-setup.json, keyed by the CPU's model name (a run on another CPU adds its entry and
// keeps the others; a run on the same CPU replaces the configuration x thread results it measured), and
// <out>/peer-setup.md, a table of the winners. `bench/run.ts` reads the winners through `bestPeerSetup`.
// Progress goes to standard error.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { argument } from "./bench-args.js";
import {
  CONFIGS,
  type ConfigName,
  type CpuIdentity,
  cpuIdentity,
  measureProcess,
  median,
  type OpenBlasProbe,
  PEER_TUNING_VARIABLES,
  type PeerSetupWinner,
  peerCommand,
  peerEnv,
  peerUnavailableReason,
  probeOpenBlas,
} from "./peer-configs.js";

const here = dirname(fileURLToPath(import.meta.url));
/** Where Debian installs its three OpenBLAS builds, one folder each. */
const OPENBLAS_ROOT = "/usr/lib/x86_64-linux-gnu";
const BUILDS = ["pthread", "openmp", "serial"] as const;
type Build = (typeof BUILDS)[number];

/** Ways to place and park threads, tried with more than one thread. */
const PLACEMENTS: { name: string; env: Record<string, string>; builds?: Build[] }[] = [
  { name: "bind-close", env: { OMP_PROC_BIND: "close", OMP_PLACES: "cores" } },
  { name: "omp-active", env: { OMP_WAIT_POLICY: "ACTIVE" } },
  { name: "omp-passive", env: { OMP_WAIT_POLICY: "PASSIVE" } },
  // OpenBLAS's own pool (pthread build) spins about 2^28 cycles before sleeping; 2^4 lets PyTorch's
  // OpenMP workers have the cores between products.
  { name: "blas-sleep", env: { OPENBLAS_THREAD_TIMEOUT: "4" }, builds: ["pthread"] },
];

function numberArgument(name: string): number | undefined {
  const text = argument(name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got ${text}`);
  return value;
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** One timed run of the peer. */
interface Measurement {
  steps: number;
  warmup: number;
  trainTokensPerSecond: number;
  scoreTokensPerSecond: number;
  /** Cores used by other processes while the peer trained / scored (the peer's own load probe). */
  foreignCores: { train: number | null; score: number | null };
  blasLibs: string[];
  peakRssMiB: number;
  wallSeconds: number;
}

interface Candidate {
  id: string;
  /** kernel: build x kernel set; placement: a placement on a good pair; baseline: the system default. */
  stage: "kernel" | "placement" | "baseline";
  build: Build | "system";
  coretype: string | null;
  placement: string;
  /** The variables set for the peer (on top of the inherited environment without the tuned ones). */
  env: Record<string, string>;
  openblas: OpenBlasProbe | null;
  /** Why the candidate was not run (its OpenBLAS probe failed). */
  excluded?: string;
  screen?: Measurement;
  screenFailure?: string;
  final?: Measurement[];
  /** Measurements set aside because other processes used more of the machine then than in their repeat. */
  noisy?: Measurement[];
  finalFailure?: string;
  /** Medians over the final rounds. */
  finalTrainTokensPerSecond?: number;
  finalScoreTokensPerSecond?: number;
}

interface Spread {
  best: { id: string; tokensPerSecond: number };
  worst: { id: string; tokensPerSecond: number };
  /** best / worst. */
  ratio: number;
  working: number;
}

interface TuneResult {
  date: string;
  command: string;
  screen: { steps: number; warmup: number };
  final: { steps: number; warmup: number; rounds: number; top: number };
  systemDefault: OpenBlasProbe | { error: string };
  /** The OPENBLAS_CORETYPE values forced (besides OpenBLAS's own pick). */
  coresTried: string[];
  candidates: Candidate[];
  winners: { train: PeerSetupWinner; score: PeerSetupWinner };
  spread: {
    screenTrain: Spread | null;
    screenScore: Spread | null;
    finalTrain: Spread | null;
    finalScore: Spread | null;
  };
  minutes: number;
}

interface CpuEntry {
  cpu: CpuIdentity;
  machine: { logicalCores: number; memoryGiB: number; kernel: string; node: string };
  torch: string | null;
  results: Record<string, Record<string, TuneResult>>;
}

interface SetupFile {
  bench: "pqm-peer-setup";
  about: string;
  cpus: Record<string, CpuEntry>;
}

/** OPENBLAS_CORETYPE values worth forcing on a CPU with these flags (the automatic pick is tried too). */
function coresFor(cpu: CpuIdentity): string[] {
  const has = (flag: string) => cpu.flags.includes(flag);
  const cores: string[] = [];
  if (has("avx") && !has("avx2")) cores.push("Sandybridge");
  if (has("avx2") && has("fma")) cores.push("Haswell");
  if (has("avx2") && cpu.vendor === "AuthenticAMD") cores.push("Zen");
  if (["avx512f", "avx512dq", "avx512bw", "avx512vl"].every(has)) cores.push("SkylakeX");
  if (has("avx512_bf16")) cores.push("Cooperlake");
  return cores;
}

function spreadOf(
  candidates: Candidate[],
  value: (candidate: Candidate) => number | undefined,
): Spread | null {
  const measured = candidates
    .map((candidate) => ({ id: candidate.id, tokensPerSecond: value(candidate) }))
    .filter((entry): entry is { id: string; tokensPerSecond: number } => entry.tokensPerSecond !== undefined)
    .sort((a, b) => b.tokensPerSecond - a.tokensPerSecond);
  if (measured.length === 0) return null;
  const best = measured[0]!;
  const worst = measured.at(-1)!;
  return {
    best,
    worst,
    ratio: Math.round((best.tokensPerSecond / worst.tokensPerSecond) * 100) / 100,
    working: measured.length,
  };
}

/** PyTorch's version, as the peer reported it. */
let torchSeen: string | null = null;

async function measure(
  name: ConfigName,
  threads: number,
  candidate: Candidate,
  steps: number,
  warmup: number,
  quietSeconds: number,
): Promise<Measurement> {
  if (quietSeconds > 0) await waitForQuiet(threads, quietSeconds);
  const run = await measureProcess(peerCommand(name, threads, { steps, warmup }), {
    env: peerEnv({ env: candidate.env }),
    timeoutSeconds: 900,
  });
  const result = run.result as {
    train_tokens_per_s: number;
    score_tokens_per_s: number;
    load_train?: { foreign_cores?: number };
    load_score?: { foreign_cores?: number };
    blas_libs?: string[];
    torch?: string;
  };
  torchSeen = result.torch ?? torchSeen;
  const blasLibs = result.blas_libs ?? [];
  if (candidate.build !== "system") {
    const folder = join(OPENBLAS_ROOT, `openblas-${candidate.build}`);
    if (!blasLibs.some((path) => path.startsWith(`${folder}/`)))
      throw new Error(`PyTorch did not load the ${candidate.build} build: it loaded ${blasLibs.join(", ")}`);
  }
  return {
    steps,
    warmup,
    trainTokensPerSecond: Math.round(result.train_tokens_per_s),
    scoreTokensPerSecond: Math.round(result.score_tokens_per_s),
    foreignCores: {
      train: result.load_train?.foreign_cores ?? null,
      score: result.load_score?.foreign_cores ?? null,
    },
    blasLibs,
    peakRssMiB: run.peakRssMiB,
    wallSeconds: run.wallSeconds,
  };
}

/**
 * Above this many cores used by other processes, a measurement with `threads` threads is disturbed (the
 * peer and the others then share cores) and is repeated, the quieter of the two kept.
 */
const noisyAbove = (threads: number): number => Math.max(0, os.cpus().length - threads) + 0.3;

/** Cores busy on the whole machine over `milliseconds`, from /proc/stat; null where it cannot be read. */
async function busyCores(milliseconds: number): Promise<number | null> {
  const sample = (): number | null => {
    try {
      const fields = readFileSync("/proc/stat", "utf8")
        .split("\n")[0]!
        .trim()
        .split(/\s+/)
        .slice(1)
        .map(Number);
      // user, nice, system, irq, softirq (in clock ticks, 100 a second on Linux)
      return (fields[0]! + fields[1]! + fields[2]! + fields[5]! + fields[6]!) / 100;
    } catch {
      return null;
    }
  };
  const before = sample();
  await new Promise((done) => setTimeout(done, milliseconds));
  const after = sample();
  return before === null || after === null ? null : (after - before) / (milliseconds / 1000);
}

/** Waits (up to `seconds`) until other processes leave `threads` cores free; says how long it waited. */
async function waitForQuiet(threads: number, seconds: number): Promise<void> {
  const started = Date.now();
  let busy = await busyCores(1000);
  while (busy !== null && busy > noisyAbove(threads) && Date.now() - started < seconds * 1000)
    busy = await busyCores(2000);
  const waited = Math.round((Date.now() - started) / 1000);
  if (waited > 1) log(`  (waited ${waited} s for a quieter machine: ${busy?.toFixed(2)} cores busy)`);
}

/** The most cores other processes used during either phase of a measurement. */
const foreignLoad = (measurement: Measurement): number =>
  Math.max(measurement.foreignCores.train ?? 0, measurement.foreignCores.score ?? 0);

/** Records a screening measurement, keeping the quieter one when the candidate already has one. */
function keepQuieter(candidate: Candidate, measurement: Measurement): void {
  const previous = candidate.screen;
  if (previous === undefined || foreignLoad(measurement) < foreignLoad(previous)) {
    if (previous !== undefined) candidate.noisy = [...(candidate.noisy ?? []), previous];
    candidate.screen = measurement;
  } else candidate.noisy = [...(candidate.noisy ?? []), measurement];
}

const shortError = (error: unknown): string => {
  const message = (error as Error).message;
  const tail = message
    .split("\n")
    .filter((line) => line.trim() !== "")
    .slice(-3)
    .join(" / ");
  // GNU time reports the signal as "Command terminated by signal 4"; without it, "killed by SIGILL".
  return /signal 4\b|SIGILL/.test(message)
    ? `killed by SIGILL (this CPU cannot run the kernel set): ${tail}`
    : tail;
};

const describe = (measurement: Measurement): string =>
  `train ${measurement.trainTokensPerSecond.toLocaleString("en-US")}, score ${measurement.scoreTokensPerSecond.toLocaleString("en-US")} tokens/s (foreign cores ${measurement.foreignCores.train ?? "?"})`;

async function tune(
  name: ConfigName,
  threads: number,
  options: {
    cores: string[];
    screenSteps: number;
    screenWarmup: number;
    finalSteps: number;
    finalWarmup: number;
    top: number;
    finalRounds: number;
    quietSeconds: number;
    command: string;
  },
): Promise<TuneResult> {
  const started = Date.now();
  const threadEnv = { OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  const systemDefault = probeOpenBlas({ ...peerEnv(), ...threadEnv });
  const candidates: Candidate[] = [];
  const builds = BUILDS.filter((build) => build !== "serial" || threads === 1);
  for (const build of builds) {
    const folder = join(OPENBLAS_ROOT, `openblas-${build}`);
    for (const coretype of [null, ...options.cores]) {
      const env: Record<string, string> = { LD_LIBRARY_PATH: folder };
      if (coretype !== null) env.OPENBLAS_CORETYPE = coretype;
      const candidate: Candidate = {
        id: `${build}/${coretype ?? "auto"}`,
        stage: "kernel",
        build,
        coretype,
        placement: "default",
        env,
        openblas: null,
      };
      if (!existsSync(join(folder, "libopenblas.so.0"))) candidate.excluded = `${folder} is not installed`;
      else {
        const probe = probeOpenBlas({ ...peerEnv({ env }), ...threadEnv });
        if ("error" in probe) candidate.excluded = probe.error;
        else candidate.openblas = probe;
      }
      candidates.push(candidate);
    }
  }

  let count = 0;
  /** Candidates screened while other processes used a good part of a core: screened again later. */
  const noisy = new Set<Candidate>();
  const screen = async (candidate: Candidate): Promise<void> => {
    if (candidate.excluded !== undefined) {
      log(`  ${candidate.id}: excluded, ${candidate.excluded}`);
      return;
    }
    try {
      const measurement = await measure(
        name,
        threads,
        candidate,
        options.screenSteps,
        options.screenWarmup,
        options.quietSeconds,
      );
      log(`  [${++count}] ${candidate.id} (${candidate.openblas?.corename}): ${describe(measurement)}`);
      keepQuieter(candidate, measurement);
      if (foreignLoad(candidate.screen!) > noisyAbove(threads)) noisy.add(candidate);
      else noisy.delete(candidate);
    } catch (error) {
      candidate.screenFailure = shortError(error);
      log(`  [${++count}] ${candidate.id}: FAILED ${candidate.screenFailure}`);
    }
  };
  const screenNoisyAgain = async (): Promise<void> => {
    if (noisy.size === 0) return;
    log(`  again, screened under foreign load: ${[...noisy].map((candidate) => candidate.id).join(", ")}`);
    for (const candidate of [...noisy]) await screen(candidate);
    noisy.clear();
  };

  log(
    `peer-tune: ${name}, ${threads} thread(s): screening builds x kernel sets (${options.screenSteps} + ${options.screenWarmup} steps)`,
  );
  for (const candidate of candidates) await screen(candidate);
  await screenNoisyAgain();

  const byTrain = (a: Candidate, b: Candidate) =>
    b.screen!.trainTokensPerSecond - a.screen!.trainTokensPerSecond;
  const byScore = (a: Candidate, b: Candidate) =>
    b.screen!.scoreTokensPerSecond - a.screen!.scoreTokensPerSecond;
  if (threads > 1) {
    // Placements on the best pair for training and the best for scoring (or the two best for training).
    const kernels = candidates.filter((candidate) => candidate.screen !== undefined);
    const bases = [...new Set([[...kernels].sort(byTrain)[0], [...kernels].sort(byScore)[0]])].filter(
      (candidate): candidate is Candidate => candidate !== undefined,
    );
    const second = [...kernels].sort(byTrain)[1];
    if (bases.length === 1 && second !== undefined) bases.push(second);
    log(
      `peer-tune: ${name}, ${threads} threads: placements on ${bases.map((base) => base.id).join(" and ")}`,
    );
    for (const base of bases) {
      for (const placement of PLACEMENTS) {
        if (placement.builds !== undefined && !placement.builds.includes(base.build as Build)) continue;
        const candidate: Candidate = {
          ...base,
          id: `${base.id}/${placement.name}`,
          stage: "placement",
          placement: placement.name,
          env: { ...base.env, ...placement.env },
          screen: undefined,
          noisy: undefined,
        };
        candidates.push(candidate);
        await screen(candidate);
      }
    }
    await screenNoisyAgain();
  }

  // Final: the best by each metric, and the system default's equivalent, at the peer's normal length.
  const screened = candidates.filter((candidate) => candidate.screen !== undefined);
  const finalists = new Set<Candidate>([
    ...[...screened].sort(byTrain).slice(0, options.top),
    ...[...screened].sort(byScore).slice(0, options.top),
  ]);
  let baseline = candidates.find(
    (candidate) =>
      candidate.stage === "kernel" &&
      candidate.coretype === null &&
      candidate.openblas !== null &&
      !("error" in systemDefault) &&
      candidate.openblas.library === systemDefault.library,
  );
  if (baseline === undefined) {
    baseline = {
      id: "system-default",
      stage: "baseline",
      build: "system",
      coretype: null,
      placement: "default",
      env: {},
      openblas: "error" in systemDefault ? null : systemDefault,
    };
    candidates.push(baseline);
  }
  finalists.add(baseline);
  const finalList = [...finalists];
  log(
    `peer-tune: ${name}, ${threads} thread(s): final (${options.finalSteps} + ${options.finalWarmup} steps, ${options.finalRounds} round(s)) of ${finalList.map((candidate) => candidate.id).join(", ")} (system default = ${baseline.id})`,
  );
  const finalRun = async (candidate: Candidate, round: number): Promise<void> => {
    if (candidate.finalFailure !== undefined) return;
    try {
      const measurement = await measure(
        name,
        threads,
        candidate,
        options.finalSteps,
        options.finalWarmup,
        options.quietSeconds,
      );
      log(`  ${candidate.id}: ${describe(measurement)}`);
      if (candidate.final === undefined || candidate.final.length <= round) {
        candidate.final = [...(candidate.final ?? []), measurement];
      } else {
        // A repeat of a noisy round: keep the quieter of the two.
        const previous = candidate.final[round]!;
        const quieter = foreignLoad(measurement) < foreignLoad(previous);
        candidate.noisy = [...(candidate.noisy ?? []), quieter ? previous : measurement];
        if (quieter) candidate.final[round] = measurement;
      }
    } catch (error) {
      candidate.finalFailure = shortError(error);
      log(`  ${candidate.id}: FAILED ${candidate.finalFailure}`);
    }
  };
  for (let round = 0; round < options.finalRounds; round++) {
    const order = round % 2 === 0 ? finalList : [...finalList].reverse();
    for (const candidate of order) await finalRun(candidate, round);
    const loud = order.filter(
      (candidate) =>
        candidate.final?.[round] !== undefined && foreignLoad(candidate.final[round]!) > noisyAbove(threads),
    );
    if (loud.length > 0)
      log(`  again, measured under foreign load: ${loud.map((candidate) => candidate.id).join(", ")}`);
    for (const candidate of loud) await finalRun(candidate, round);
  }
  for (const candidate of finalList) {
    if (candidate.final === undefined || candidate.final.length === 0) continue;
    candidate.finalTrainTokensPerSecond = median(candidate.final.map((run) => run.trainTokensPerSecond));
    candidate.finalScoreTokensPerSecond = median(candidate.final.map((run) => run.scoreTokensPerSecond));
  }
  const finished = finalList.filter((candidate) => candidate.finalTrainTokensPerSecond !== undefined);
  if (finished.length === 0)
    throw new Error(`${name}, ${threads} thread(s): no set-up of the peer ran to the end`);
  const winner = (metric: "train" | "score"): PeerSetupWinner => {
    const value = (candidate: Candidate) =>
      metric === "train" ? candidate.finalTrainTokensPerSecond! : candidate.finalScoreTokensPerSecond!;
    const best = [...finished].sort((a, b) => value(b) - value(a))[0]!;
    return {
      id: best.id,
      env: best.env,
      corename: best.openblas?.corename,
      tokensPerSecond: value(best),
      systemDefaultTokensPerSecond: baseline.finalTrainTokensPerSecond === undefined ? null : value(baseline),
    };
  };
  const result: TuneResult = {
    date: new Date().toISOString(),
    command: options.command,
    screen: { steps: options.screenSteps, warmup: options.screenWarmup },
    final: {
      steps: options.finalSteps,
      warmup: options.finalWarmup,
      rounds: options.finalRounds,
      top: options.top,
    },
    systemDefault,
    coresTried: options.cores,
    candidates,
    winners: { train: winner("train"), score: winner("score") },
    spread: {
      screenTrain: spreadOf(candidates, (candidate) => candidate.screen?.trainTokensPerSecond),
      screenScore: spreadOf(candidates, (candidate) => candidate.screen?.scoreTokensPerSecond),
      finalTrain: spreadOf(finished, (candidate) => candidate.finalTrainTokensPerSecond),
      finalScore: spreadOf(finished, (candidate) => candidate.finalScoreTokensPerSecond),
    },
    minutes: Math.round((Date.now() - started) / 6000) / 10,
  };
  log(
    `peer-tune: ${name}, ${threads} thread(s): train winner ${result.winners.train.id} (${result.winners.train.corename}) ${result.winners.train.tokensPerSecond} tokens/s (system default ${result.winners.train.systemDefaultTokensPerSecond}); score winner ${result.winners.score.id} (${result.winners.score.corename}) ${result.winners.score.tokensPerSecond} (system default ${result.winners.score.systemDefaultTokensPerSecond})`,
  );
  return result;
}

/** The variables of a set-up as `NAME=value` words, with the OpenBLAS folder shortened to its name. */
function envWords(env: Record<string, string>): string {
  const words = Object.entries(env).map(([key, value]) =>
    key === "LD_LIBRARY_PATH" ? `LD_LIBRARY_PATH=…/${value.split("/").at(-1)}` : `${key}=${value}`,
  );
  return words.length === 0 ? "(system default)" : words.join(" ");
}

/** Which OPENBLAS_CORETYPE values were forced, per configuration and thread count where they differ. */
function forced(entry: CpuEntry): string {
  const groups = new Map<string, string[]>();
  for (const [name, byThreads] of Object.entries(entry.results))
    for (const [threads, result] of Object.entries(byThreads)) {
      const key = (result.coresTried ?? []).join(", ") || "none";
      groups.set(key, [...(groups.get(key) ?? []), `${name}/${threads}`]);
    }
  return groups.size === 1
    ? [...groups.keys()][0]!
    : [...groups].map(([cores, where]) => `${cores} (${where.join(", ")})`).join("; ");
}

/** A Markdown table with its columns padded to one width (as the repository's formatter writes them). */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, 3, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`;
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)];
}

function renderMarkdown(file: SetupFile): string {
  const number = (value: number | null | undefined) =>
    value === null || value === undefined ? "n/a" : Math.round(value).toLocaleString("en-US");
  const gain = (winner: PeerSetupWinner) =>
    winner.systemDefaultTokensPerSecond === null
      ? "n/a"
      : `${(winner.tokensPerSecond / winner.systemDefaultTokensPerSecond).toFixed(2)}x`;
  const spread = (value: Spread | null) =>
    value === null ? "n/a" : `${value.ratio.toFixed(2)}x (${value.working})`;
  const lines = [
    "# The PyTorch peer's best set-up per CPU",
    "",
    "Written by `bench/peer-tune.ts`; `bench/run.ts` runs the peer with these winners on a CPU listed here.",
    "Winners are picked from the final measurement (the peer's normal steps) of the best screened set-ups",
    "and the system default; spread = best / worst working set-up in the screening (number of working set-ups).",
    "",
  ];
  for (const [model, entry] of Object.entries(file.cpus)) {
    const first = Object.values(entry.results).flatMap((byThreads) => Object.values(byThreads))[0];
    const system = first?.systemDefault;
    lines.push(
      `## ${model}`,
      "",
      `${entry.cpu.vendor}, ${Object.entries(entry.cpu.lscpu)
        .map(([key, value]) => `${key} ${value}`)
        .join(
          ", ",
        )}; flags ${entry.cpu.flags.join(" ")}; ${entry.machine.logicalCores} logical cores, ${entry.machine.memoryGiB} GiB; PyTorch ${entry.torch ?? "?"}.`,
      `System default OpenBLAS: ${system === undefined || "error" in system ? "unknown" : `${system.library}, kernel ${system.corename}`}. Kernel sets forced besides OpenBLAS's own pick: ${forced(entry)}.`,
      "",
    );
    const rows: string[][] = [];
    for (const name of Object.keys(CONFIGS)) {
      for (const [threads, result] of Object.entries(entry.results[name] ?? {})) {
        const { train, score } = result.winners;
        rows.push([
          name,
          threads,
          `\`${envWords(train.env)}\``,
          train.corename ?? "?",
          number(train.tokensPerSecond),
          number(train.systemDefaultTokensPerSecond),
          gain(train),
          `\`${envWords(score.env)}\``,
          score.corename ?? "?",
          number(score.tokensPerSecond),
          number(score.systemDefaultTokensPerSecond),
          gain(score),
          spread(result.spread.screenTrain),
          spread(result.spread.screenScore),
          result.date.slice(0, 10),
        ]);
      }
    }
    lines.push(
      ...table(
        [
          "config",
          "threads",
          "best for training",
          "kernel",
          "train tokens/s",
          "default",
          "gain",
          "best for scoring",
          "kernel",
          "score tokens/s",
          "default",
          "gain",
          "spread train",
          "spread score",
          "date",
        ],
        rows,
      ),
    );
    const excluded = Object.values(entry.results)
      .flatMap((byThreads) => Object.values(byThreads))
      .flatMap((result) => result.candidates)
      .filter((candidate) => candidate.excluded !== undefined || candidate.screenFailure !== undefined)
      .map((candidate) => `${candidate.id}: ${candidate.excluded ?? candidate.screenFailure}`);
    lines.push(
      "",
      excluded.length === 0
        ? "Every candidate ran."
        : `Excluded or failed: ${[...new Set(excluded)].join("; ")}.`,
      "",
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  if (process.argv.includes("--render")) {
    // Rewrites peer-setup.md from peer-setup.json (after a change to the table's layout), without measuring.
    const outDir = resolve(argument("--out") ?? join(here, "results"));
    const file = JSON.parse(readFileSync(join(outDir, "peer-setup.json"), "utf8")) as SetupFile;
    writeFileSync(join(outDir, "peer-setup.md"), renderMarkdown(file));
    return;
  }
  const reason = peerUnavailableReason();
  if (reason !== null) throw new Error(`peer-tune: ${reason}`);
  const configs = (argument("--configs") ?? "S,M,L").split(",").map((name) => {
    if (!(name in CONFIGS)) throw new Error(`--configs: unknown configuration ${name} (S, M or L)`);
    return name as ConfigName;
  });
  const threadCounts = (argument("--threads") ?? "1,2").split(",").map((text) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--threads: ${text} is not a thread count`);
    return value;
  });
  const outDir = resolve(argument("--out") ?? join(here, "results"));
  const cpu = cpuIdentity();
  const threadEnv = { OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" };
  const automatic = probeOpenBlas({ ...peerEnv(), ...threadEnv });
  const autoCore = "error" in automatic ? null : automatic.corename.toLowerCase();
  const cores = (argument("--cores")?.split(",") ?? coresFor(cpu)).filter(
    (core) => core.toLowerCase() !== autoCore,
  );
  const command =
    `cd packages/model && node --import tsx bench/peer-tune.ts ${process.argv.slice(2).join(" ")}`.trim();
  log(
    `peer-tune: ${cpu.model} (${cpu.vendor}; ${cpu.flags.join(" ")}); OpenBLAS picks ${"error" in automatic ? `? (${automatic.error})` : automatic.corename} by itself; forcing ${cores.join(", ") || "nothing"}`,
  );
  const ignored = PEER_TUNING_VARIABLES.filter((variable) => process.env[variable] !== undefined);
  if (ignored.length > 0) log(`peer-tune: not passing the inherited ${ignored.join(", ")} to the peer`);

  const path = join(outDir, "peer-setup.json");
  const load = (): SetupFile =>
    existsSync(path)
      ? (JSON.parse(readFileSync(path, "utf8")) as SetupFile)
      : {
          bench: "pqm-peer-setup",
          about:
            "The PyTorch peer's best set-up (OpenBLAS build, kernel set, thread placement) per CPU model, configuration and thread count, for training and for scoring; written by bench/peer-tune.ts, read by bench/run.ts.",
          cpus: {},
        };
  mkdirSync(outDir, { recursive: true });
  for (const name of configs) {
    const screenSteps = numberArgument("--steps") ?? (name === "L" ? 2 : 4);
    const screenWarmup = numberArgument("--warmup") ?? (name === "L" ? 1 : 2);
    for (const threads of threadCounts) {
      const result = await tune(name, threads, {
        cores,
        screenSteps,
        screenWarmup,
        finalSteps: numberArgument("--final-steps") ?? 10,
        finalWarmup: numberArgument("--final-warmup") ?? 3,
        top: numberArgument("--top") ?? 2,
        finalRounds: Math.max(1, numberArgument("--final-rounds") ?? 1),
        quietSeconds: numberArgument("--wait-quiet") ?? 20,
        command,
      });
      // Save after each (configuration, threads), so that an interrupted run keeps what it measured.
      const file = load();
      const previous = file.cpus[cpu.model];
      const entry: CpuEntry = {
        cpu,
        machine: {
          logicalCores: os.cpus().length,
          memoryGiB: Math.round(os.totalmem() / 2 ** 30),
          kernel: os.release(),
          node: process.versions.node,
        },
        torch: torchSeen ?? previous?.torch ?? null,
        // Results recorded for other CPU flags under the same model name are not kept.
        results:
          previous !== undefined && previous.cpu.flags.join(" ") === cpu.flags.join(" ")
            ? previous.results
            : {},
      };
      entry.results[name] = { ...(entry.results[name] ?? {}), [String(threads)]: result };
      file.cpus[cpu.model] = entry;
      writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
      writeFileSync(join(outDir, "peer-setup.md"), renderMarkdown(file));
    }
  }
  log(`\n${renderMarkdown(load())}\npeer-tune: wrote ${path} and peer-setup.md`);
}

await main();
