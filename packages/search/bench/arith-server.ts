// The loopback arith completion server in a process of its own (for bench/http-nodes.ts): prints
// its URL on the first line of stdout and serves until killed.
import { ArithEnvironment, startArithCompletionServer } from "@pqm/data";
import { arithSearchRecipe } from "../src/index.js";

const questions = Number(process.argv[2] ?? 200);
const environment = new ArithEnvironment({ ...arithSearchRecipe, seed: 0 });
environment.testQuestions(questions);
const server = await startArithCompletionServer({ environment });
process.stdout.write(`${server.url}\n`);
