// Throughput of VllmPoolingScorer: scored steps per second with 64 requests in flight against a
// loopback server (a child process) that answers like vLLM's /pooling: it reads every input, finds the
// step tags and computes one row of probabilities per tag, with no sleeps. What is measured is the
// client's own cost (rendering the convention's text, JSON both ways, HTTP on loopback, checking and
// reading the rows) plus the server's parsing, on one machine: the ceiling of the client, not of vLLM.
//
//   node --import tsx bench/vllm-pooling.ts [--trajectories 4096] [--steps 8] [--batch-sizes 1,8,32]
//                                          [--requests 64] [--rounds 3] [--out bench/results]
//
// Writes <out>/vllm-pooling.json (every round, the machine, the command) and <out>/vllm-pooling.md.
import { fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Trajectory } from "@pqm/core";
import { getScoringConvention } from "../src/conventions/convention-catalog.js";
import { startLoopbackPoolingServer } from "../src/remote/loopback-pooling-server.js";
import { VllmPoolingScorer } from "../src/remote/vllm-pooling-scorer.js";
import { argument } from "./bench-args.js";

const here = dirname(fileURLToPath(import.meta.url));
const CONVENTION = "qwen2.5-math-prm";

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

// The server side: a child process, so that its event loop is not the client's.
if (process.argv.includes("--serve")) {
  const convention = getScoringConvention(CONVENTION);
  const server = await startLoopbackPoolingServer({
    stepTag: convention.stepTag!,
    readout: convention.poolingReadout!,
    model: "Qwen/Qwen2.5-Math-PRM-7B",
    record: false,
  });
  process.send?.({ url: server.url });
  process.on("disconnect", () => {
    void server.close().then(() => process.exit(0));
  });
} else {
  await main();
}

/** Trajectories shaped like MATH solutions: 8 candidates per question, steps of 60 to 180 characters. */
function workload(count: number, steps: number): Trajectory[] {
  return Array.from({ length: count }, (_, i) => {
    const q = Math.floor(i / 8);
    return {
      question: {
        id: String(q),
        text: `Problem ${q}: find the sum of all positive integers n below ${100 + q} such that n^2 + ${q} is divisible by 7.`,
        answer: null,
        domain: "math",
      },
      steps: Array.from(
        { length: steps },
        (_, s) =>
          `Step ${s + 1}: we consider the residues of n modulo 7 and check ${"each case carefully ".repeat(1 + ((i + s) % 7))}for candidate ${i % 8}.`,
      ),
      meta: { candidate: i % 8 },
    };
  });
}

async function main(): Promise<void> {
  const trajectoriesCount = Number(argument("--trajectories") ?? 4096);
  const stepsPerTrajectory = Number(argument("--steps") ?? 8);
  const batchSizes = (argument("--batch-sizes") ?? "1,8,32").split(",").map(Number);
  const requests = Number(argument("--requests") ?? 64);
  const rounds = Number(argument("--rounds") ?? 3);
  const out = resolve(argument("--out") ?? join(here, "results"));
  const command = `cd packages/model && node --import tsx bench/vllm-pooling.ts${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(" ")}` : ""}`;

  const child = fork(fileURLToPath(import.meta.url), ["--serve"], { execArgv: ["--import", "tsx"] });
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.once("message", (message) => resolveUrl((message as { url: string }).url));
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the server process exited with code ${code}`)));
  });
  // Requests in flight, counted around Node's own fetch (the real one runs): from the call until the
  // body has been read, which is how long the scorer's HTTP client holds a slot.
  let inFlight = 0;
  let mostInFlight = 0;
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (...args: Parameters<typeof fetch>) => {
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    let response: Response;
    try {
      response = await realFetch(...args);
    } catch (error) {
      inFlight--;
      throw error;
    }
    const text = response.text.bind(response);
    Object.defineProperty(response, "text", {
      value: async () => {
        try {
          return await text();
        } finally {
          inFlight--;
        }
      },
    });
    return response;
  };
  const convention = getScoringConvention(CONVENTION);
  const trajectories = workload(trajectoriesCount, stepsPerTrajectory);
  const totalSteps = trajectoriesCount * stepsPerTrajectory;
  const loadAtStart = os.loadavg().map((value) => Math.round(value * 100) / 100);
  const runs: Array<{
    batchSize: number;
    requestsInFlight: number;
    rounds: Array<{ seconds: number; stepsPerSecond: number; requests: number; mostInFlight: number }>;
    medianStepsPerSecond: number;
    medianRequestsPerSecond: number;
  }> = [];
  try {
    for (const batchSize of batchSizes) {
      const scorer = new VllmPoolingScorer({
        endpoints: [url],
        convention,
        model: "Qwen/Qwen2.5-Math-PRM-7B",
        batchSize,
        concurrency: requests,
        env: {},
      });
      // Warm-up: connections opened, code compiled.
      await scorer.scoreSteps(trajectories.slice(0, Math.min(512, trajectories.length)));
      const measured = [];
      for (let round = 0; round < rounds; round++) {
        const before = scorer.stats().requests;
        mostInFlight = 0;
        const started = performance.now();
        const scores = await scorer.scoreSteps(trajectories);
        const seconds = (performance.now() - started) / 1000;
        const scored = scores.reduce((sum, steps) => sum + steps.length, 0);
        if (scored !== totalSteps) throw new Error(`scored ${scored} steps, expected ${totalSteps}`);
        const sent = scorer.stats().requests - before;
        measured.push({
          seconds: Math.round(seconds * 1000) / 1000,
          stepsPerSecond: Math.round(totalSteps / seconds),
          requests: sent,
          mostInFlight,
        });
      }
      const medianSeconds = median(measured.map((round) => round.seconds));
      runs.push({
        batchSize,
        requestsInFlight: requests,
        rounds: measured,
        medianStepsPerSecond: Math.round(totalSteps / medianSeconds),
        medianRequestsPerSecond: Math.round(Math.ceil(trajectoriesCount / batchSize) / medianSeconds),
      });
      process.stderr.write(
        `batch ${batchSize}: ${runs.at(-1)!.medianStepsPerSecond} steps/s, ${runs.at(-1)!.medianRequestsPerSecond} requests/s\n`,
      );
    }
  } finally {
    child.disconnect();
  }
  const date = new Date().toISOString().slice(0, 10);
  const machine = {
    cpu: os.cpus()[0]?.model ?? "unknown",
    logicalCores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.versions.node,
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: os.loadavg().map((value) => Math.round(value * 100) / 100),
  };
  const workloadText =
    `${trajectoriesCount} trajectories of ${stepsPerTrajectory} steps (${totalSteps} steps, 60-180 characters each), ` +
    `convention ${CONVENTION} (two-class rows), one scoreSteps call per round, ${requests} requests in flight at most, ` +
    `${rounds} rounds after a warm-up of 512 trajectories; the server is a child process on 127.0.0.1 that parses each ` +
    "request, counts the <extra_0> tags of every input and answers one [p0, p1] row per tag, with no delay; " +
    "requests in flight are counted in the client around Node's fetch, from the call until the body is read";
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, "vllm-pooling.json"),
    `${JSON.stringify({ bench: "pqm-model-vllm-pooling", command, date, machine, workload: workloadText, runs }, null, 2)}\n`,
  );
  const table = [
    "| trajectories per request | requests in flight: limit / most at once | scored steps/s (median) | requests/s | rounds (s) |",
    "|---|---|---|---|---|",
    ...runs.map(
      (run) =>
        `| ${run.batchSize} | ${run.requestsInFlight} / ${Math.max(...run.rounds.map((round) => round.mostInFlight))} | **${run.medianStepsPerSecond.toLocaleString("en-US")}** | ${run.medianRequestsPerSecond.toLocaleString("en-US")} | ${run.rounds.map((round) => round.seconds).join(", ")} |`,
    ),
  ];
  writeFileSync(
    join(out, "vllm-pooling.md"),
    `Machine: ${machine.cpu}, ${machine.logicalCores} logical cores, ${machine.memoryGiB} GiB, Node ${machine.node}; ` +
      `load average ${machine.loadAverageAtStart.join(" ")} at start, ${machine.loadAverageAtEnd.join(" ")} at end.\n` +
      `Command: \`${command}\`. ${date}.\n\nWorkload: ${workloadText}.\n\n${table.join("\n")}\n`,
  );
  process.stdout.write(`${table.join("\n")}\n`);
}
