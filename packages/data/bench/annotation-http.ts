// Requests per second the OpenAI-compatible client sustains against the loopback arith server
// with 64 requests in flight, for /v1/completions and /v1/chat/completions.
// Run: cd packages/data && npx tsx bench/annotation-http.ts [requests]
import { mkdirSync, writeFileSync } from "node:fs";
import { OpenAICompatiblePolicy, startArithCompletionServer } from "../src/annotation/index.js";
import { ArithEnvironment } from "../src/arith/index.js";

const requestCount = Number(process.argv[2] ?? 4000);
const environment = new ArithEnvironment({ seed: 0 });
const questions = environment.trainQuestions(50);
const server = await startArithCompletionServer({ environment });
const runs = [];
for (const api of ["completions", "chat"] as const) {
  const policy = new OpenAICompatiblePolicy({
    endpoints: [server.url],
    model: "arith",
    api,
    concurrency: 64,
    env: {},
  });
  // Warm up connections and the JIT.
  await Promise.all(
    Array.from({ length: 128 }, (_, i) => policy.complete(questions[i % 50]!, [], { n: 1, seed: i })),
  );
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < requestCount) {
      const i = next++;
      await policy.complete(questions[i % 50]!, [], { n: 1, seed: i });
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  const seconds = (performance.now() - started) / 1000;
  runs.push({
    api,
    requests: requestCount,
    inFlight: 64,
    seconds,
    requestsPerSecond: requestCount / seconds,
    retries: policy.stats().retries,
  });
  console.error(JSON.stringify(runs[runs.length - 1]));
}
await server.close();
const result = {
  command: `npx tsx bench/annotation-http.ts ${requestCount}`,
  note: "client and server share one Node process and the machine's 2 cores; n = 1 per request",
  runs,
};
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("./results/annotation-http.json", import.meta.url),
  `${JSON.stringify(result, null, 2)}\n`,
);
console.log(JSON.stringify(result, null, 2));
