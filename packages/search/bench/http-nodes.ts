// Nodes per second of PRM-guided search against the arith completion server over loopback HTTP,
// with 64 requests in flight: the server runs in its own process (bench/arith-server.ts), the
// search runs every question at once through OpenAIStepPolicy (completions API) and scores with
// the exact-Q oracle in-process. The arith server ignores `stop` and writes whole solutions, which
// the client cuts at the step delimiter: server time per request is that of a whole solution.
// Run: node --import tsx packages/search/bench/http-nodes.ts [questions]
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { ArithEnvironment } from "@pqm/data";
import type { SearchSpec } from "../src/index.js";
import { arithSearchRecipe, ExactQScorer, OpenAIStepPolicy, runSearch, searchLabel } from "../src/index.js";
import { machine } from "./machine.js";

const questionCount = Number(process.argv[2] ?? 200);
const inFlight = 64;
const child = spawn(
  process.execPath,
  ["--import", "tsx", new URL("./arith-server.ts", import.meta.url).pathname, String(questionCount)],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const url = await new Promise<string>((resolve, reject) => {
  child.once("error", reject);
  createInterface({ input: child.stdout! }).once("line", resolve);
});
try {
  const environment = new ArithEnvironment({ ...arithSearchRecipe, seed: 0 });
  const questions = environment.testQuestions(questionCount);
  const specs: SearchSpec[] = [
    { method: "beam", n: 16, beamWidth: 4 },
    { method: "dvts", n: 16, beamWidth: 4 },
    { method: "mcts", n: 16, beamWidth: 4 },
    { method: "bon", n: 16 },
  ];
  const runs = [];
  for (const spec of specs) {
    const policy = new OpenAIStepPolicy({ endpoints: [url], model: "arith", concurrency: inFlight, env: {} });
    // Warm up connections and the JIT on a few questions.
    await runSearch({
      questions: questions.slice(0, 16),
      policy,
      scorer: new ExactQScorer(environment),
      spec,
      concurrency: 16,
    });
    const before = policy.stats();
    const started = performance.now();
    const { summary } = await runSearch({
      questions,
      policy,
      scorer: new ExactQScorer(environment),
      spec,
      concurrency: questionCount,
    });
    const seconds = (performance.now() - started) / 1000;
    const after = policy.stats();
    const run = {
      search: searchLabel(spec),
      questions: questionCount,
      requestsInFlight: inFlight,
      nodes: summary.compute.nodes,
      requests: after.requests - before.requests,
      seconds,
      nodesPerSecond: summary.compute.nodes / seconds,
      requestsPerSecond: (after.requests - before.requests) / seconds,
      retries: after.retries - before.retries,
      accuracy: summary.accuracy,
    };
    runs.push(run);
    console.error(JSON.stringify(run));
  }
  const result = {
    command: `node --import tsx packages/search/bench/http-nodes.ts ${questionCount}`,
    note: "server and client in two processes on the same machine; exact-Q oracle as the PRM, in the client process",
    machine: machine(),
    runs,
  };
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(
    new URL("./results/http-nodes.json", import.meta.url),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  console.log(JSON.stringify(result, null, 2));
} finally {
  child.kill();
}
