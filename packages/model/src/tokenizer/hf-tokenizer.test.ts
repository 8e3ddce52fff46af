import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { startLoopbackHub } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HfTokenizer, loadTokenizer } from "./hf-tokenizer.js";
import type { PrmTokenizer } from "./prm-tokenizer.js";
import { REAL_TOKENIZERS, realTokenizerFolder } from "./real-tokenizers.test-helper.js";
import { TokenizerLoadError } from "./tokenizer-errors.js";

const texts = [
  "Janet’s ducks lay 16 eggs per day. Step 1: 16 - 3 - 4 = 9 eggs. [PRM]\nStep 2: 9 * 2 = $18. [PRM]",
  "Let $x^2 + 3x = 10$. Find $\\boxed{x}$.",
  "  two spaces, a tab\tand ünïcödé 日本語",
];

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "pqm-hf-tokenizer-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function autoTokenizer(folder: string) {
  const { AutoTokenizer, env } = await import("@huggingface/transformers");
  env.allowRemoteModels = false;
  env.localModelPath = dirname(folder);
  return AutoTokenizer.from_pretrained(basename(folder));
}

describe.each(REAL_TOKENIZERS)("HfTokenizer on the real %s tokenizer", (name) => {
  let tokenizer: PrmTokenizer;
  beforeAll(async () => {
    tokenizer = await loadTokenizer(realTokenizerFolder(name));
  });

  it("gives the ids AutoTokenizer gives, without special tokens", async () => {
    expect(tokenizer).toBeInstanceOf(HfTokenizer);
    const auto = await autoTokenizer(realTokenizerFolder(name));
    for (const text of texts) {
      expect(tokenizer.encode(text)).toEqual(auto.encode(text, { add_special_tokens: false }));
      expect(tokenizer.decode(tokenizer.encode(text))).toBe(
        auto.decode(auto.encode(text, { add_special_tokens: false })),
      );
    }
  });

  it("adds the BOS token only when asked and when there is one", () => {
    const plain = tokenizer.encode("Hello");
    const withBos = tokenizer.encode("Hello", { addBos: true });
    if (tokenizer.bosTokenId === null) expect(withBos).toEqual(plain);
    else expect(withBos).toEqual([tokenizer.bosTokenId, ...plain]);
    expect(plain[0]).not.toBe(tokenizer.bosTokenId);
  });

  it("maps tokens and ids both ways and knows its special ids", () => {
    const id = tokenizer.encode("hello")[0]!;
    expect(tokenizer.tokenToId(tokenizer.idToToken(id)!)).toBe(id);
    if (tokenizer.eosTokenId !== null) expect(tokenizer.isSpecialId(tokenizer.eosTokenId)).toBe(true);
    expect(tokenizer.isSpecialId(id)).toBe(false);
    expect(() => tokenizer.decode([tokenizer.vocabSize + 10])).toThrow(RangeError);
    expect(tokenizer.decode([])).toBe("");
  });

  it("adds a special token at vocabSize, and saves it so both loaders read it back", async () => {
    const local = await loadTokenizer(realTokenizerFolder(name));
    const before = local.vocabSize;
    const added = local.addSpecialToken("[PRM]");
    expect(added).toEqual({ id: before, added: true });
    expect(local.vocabSize).toBe(before + 1);
    expect(local.addSpecialToken("[PRM]")).toEqual({ id: before, added: false });
    const text = texts[0]!;
    const ids = local.encode(text);
    expect(ids.filter((id) => id === added.id)).toHaveLength(2);
    expect(local.decode(ids, { skipSpecialTokens: true })).not.toContain("[PRM]");

    const saved = join(scratch, `${name}-prm`);
    await local.save(saved);
    const reloaded = await loadTokenizer(saved);
    expect(reloaded.vocabSize).toBe(before + 1);
    expect(reloaded.encode(text)).toEqual(ids);
    const auto = await autoTokenizer(saved);
    expect(auto.encode(text, { add_special_tokens: false })).toEqual(ids);
  });
});

describe("chat templates", () => {
  const chat = [
    { role: "system" as const, content: "Please reason step by step." },
    { role: "user" as const, content: "Tom has 12 apples and buys 7. How many? " },
    { role: "assistant" as const, content: "Step 1: 12 + 7 = 19. [PRM]" },
    { role: "user" as const, content: "And 3 more?" },
  ];

  it.each(["qwen3", "deepseek_v3"] as const)(
    "renders the real %s template as transformers.js' apply_chat_template does",
    async (name) => {
      const tokenizer = await loadTokenizer(realTokenizerFolder(name));
      const auto = await autoTokenizer(realTokenizerFolder(name));
      for (const addGenerationPrompt of [true, false]) {
        for (const messages of [chat, chat.slice(1, 2)]) {
          const ours = tokenizer.applyChatTemplate(messages, { addGenerationPrompt });
          const theirs = auto.apply_chat_template(
            messages.map((message) => ({ ...message })),
            { tokenize: false, add_generation_prompt: addGenerationPrompt },
          );
          expect(ours).toBe(theirs);
          expect(ours).toContain("Tom has 12 apples");
        }
      }
    },
  );

  it("reads the special tokens a template names, a list of named templates, and refuses none", async () => {
    const folder = realTokenizerFolder("llama2");
    const json = JSON.parse(await readFile(join(folder, "tokenizer.json"), "utf8"));
    const config = JSON.parse(await readFile(join(folder, "tokenizer_config.json"), "utf8"));
    const template =
      "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content | trim }}{{ eos_token }}{% endfor %}" +
      "{% if add_generation_prompt %}[assistant]{% endif %}{% if tools is none %}!{% endif %}";
    const named = new HfTokenizer(folder, json, {
      ...config,
      chat_template: [
        { name: "tool_use", template: "unused" },
        { name: "default", template },
      ],
    });
    expect(named.applyChatTemplate([{ role: "user", content: " hi " }])).toBe("<s>[user] hi</s>[assistant]!");
    expect(named.applyChatTemplate([{ role: "user", content: "hi" }], { addGenerationPrompt: false })).toBe(
      "<s>[user] hi</s>!",
    );
    const none = new HfTokenizer(folder, json, config);
    expect(() => none.applyChatTemplate(chat)).toThrow(/llama2.*no chat_template/s);
    const broken = new HfTokenizer(folder, json, { ...config, chat_template: "{% for m in messages %}" });
    expect(() => broken.applyChatTemplate(chat)).toThrow(/chat_template does not parse/);
  });
});

describe("loadTokenizer errors", () => {
  it("downloads a Hub id through @pqm/data's Hub client by default (a real Hub-layout server on loopback)", async () => {
    const hub = await startLoopbackHub();
    try {
      for (const file of ["tokenizer.json", "tokenizer_config.json"]) {
        hub.addFile("acme/llama2-tok", file, await readFile(join(realTokenizerFolder("llama2"), file)), {
          lfs: file === "tokenizer.json",
        });
      }
      const hubOptions = {
        endpoint: hub.endpoint,
        cacheDir: join(scratch, "hf-cache"),
        env: {},
      };
      const tokenizer = await loadTokenizer("hf://acme/llama2-tok", { hub: hubOptions });
      const local = await loadTokenizer(realTokenizerFolder("llama2"));
      expect(tokenizer.vocabSize).toBe(32000);
      expect(tokenizer.encode("Step 1: 12 + 7 = 19 apples.")).toEqual(
        local.encode("Step 1: 12 + 7 = 19 apples."),
      );
      expect(
        hub.requests.some((request) => request.path.includes("acme/llama2-tok/resolve/main/tokenizer.json")),
      ).toBe(true);
      // A second load comes from the cache even with the Hub gone.
      await hub.close();
      const cached = await loadTokenizer("acme/llama2-tok", { hub: { ...hubOptions, offline: true } });
      expect(cached.vocabSize).toBe(32000);
    } finally {
      await hub.close().catch(() => undefined);
    }
  });

  it("names the id and the Hub's answer when the tokenizer is not there", async () => {
    const hub = await startLoopbackHub();
    try {
      const error = await loadTokenizer("acme/missing", {
        hub: {
          endpoint: hub.endpoint,
          cacheDir: join(scratch, "hf-cache-2"),
          env: {},
          retries: 0,
        },
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TokenizerLoadError);
      expect((error as Error).message).toMatch(
        /acme\/missing: could not fetch the tokenizer files from the Hub.*not found/,
      );
    } finally {
      await hub.close();
    }
  });

  it("loads a Hub id through the resolver it is given", async () => {
    const requested: string[][] = [];
    const tokenizer = await loadTokenizer("lenml/llama2", {
      revision: "main",
      resolveHubFolder: async (repoId, files, revision) => {
        requested.push([repoId, revision ?? "", ...files]);
        // A real copy into a cache-like folder, as a Hub client would leave it.
        const target = join(scratch, "hub-cache", repoId);
        await mkdir(target, { recursive: true });
        for (const file of files)
          await copyFile(join(realTokenizerFolder("llama2"), file), join(target, file));
        return target;
      },
    });
    expect(requested).toEqual([["lenml/llama2", "main", "tokenizer.json", "tokenizer_config.json"]]);
    expect(tokenizer.vocabSize).toBe(32000);
  });

  it("names a missing file and a malformed one", async () => {
    const folder = join(scratch, "broken");
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "tokenizer_config.json"), "{}");
    await expect(loadTokenizer(folder)).rejects.toThrow(/broken\/tokenizer\.json: missing/);
    await writeFile(join(folder, "tokenizer.json"), "{ not json");
    await expect(loadTokenizer(folder)).rejects.toThrow(/broken\/tokenizer\.json: not valid JSON/);
    await expect(loadTokenizer(join(folder, "tokenizer.json"))).rejects.toThrow(/is a file/);
    await expect(loadTokenizer("./no/such/folder")).rejects.toThrow(/no such folder/);
  });
});
