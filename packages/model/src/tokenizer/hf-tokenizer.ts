import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { type HfDownloadOptions, hfDownloadFiles } from "@pqm/data";
import { BUILTIN_CONFIG_KEY, BuiltinTokenizer } from "./builtin-tokenizer.js";
import type {
  AddedSpecialToken,
  ChatMessage,
  DetokenizeOptions,
  PrmTokenizer,
  TokenizeOptions,
} from "./prm-tokenizer.js";
import { TokenizerLoadError } from "./tokenizer-errors.js";
import { checkTokenizerEncodes, checkTokenizerJson } from "./tokenizer-file-checks.js";

/** The files a tokenizer folder must hold (transformers.js reads exactly these two). */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json"] as const;

/**
 * Downloads (or finds in a cache) the given files of a Hub repository and returns the local folder
 * that holds them. The data package's Hub client provides one; `loadTokenizer` only calls it for ids
 * that are not local folders.
 */
export type HubFolderResolver = (
  repoId: string,
  files: readonly string[],
  revision: string | undefined,
) => Promise<string>;

/** Options of {@link loadTokenizer}. */
export interface LoadTokenizerOptions {
  /**
   * Resolves a Hub id to a local folder. Default: @pqm/data's Hub client downloads the two tokenizer
   * files into the Hugging Face cache (honouring HF_ENDPOINT, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE).
   */
  resolveHubFolder?: HubFolderResolver;
  /** Options of the default resolver's downloads (endpoint, cache folder, token, progress...). */
  hub?: HfDownloadOptions;
  /** Hub revision passed to `resolveHubFolder`. */
  revision?: string;
}

interface AddedTokenEntry {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** The tokens a chat template can read by name, as Hugging Face's `apply_chat_template` passes them. */
const TEMPLATE_TOKEN_KEYS = [
  "bos_token",
  "eos_token",
  "unk_token",
  "sep_token",
  "pad_token",
  "cls_token",
  "mask_token",
] as const;

/**
 * A Hugging Face tokenizer (`tokenizer.json` + `tokenizer_config.json`) run by `@huggingface/tokenizers`
 * (the tokenizer engine transformers.js itself uses), with chat templates rendered by
 * `@huggingface/jinja`, behind the {@link PrmTokenizer} interface. Special tokens are added by editing
 * the JSON and rebuilding the tokenizer, so `save` writes exactly what is in use.
 */
export class HfTokenizer implements PrmTokenizer {
  readonly kind = "huggingface" as const;
  /** The folder the tokenizer was read from. */
  readonly source: string;
  private inner: Tokenizer;
  private tokenizerJson: Record<string, unknown>;
  private tokenizerConfig: Record<string, unknown>;
  private specialIds: Set<number>;
  private size: number;
  private template: Template | undefined;

  /**
   * Builds the tokenizer from the parsed `tokenizer.json` and `tokenizer_config.json`; prefer
   * {@link loadTokenizer}, which reads a folder and names the file in its errors.
   * @throws Error when `tokenizer.json` describes a model, normalizer or pre-tokenizer the engine lacks.
   */
  constructor(
    source: string,
    tokenizerJson: Record<string, unknown>,
    tokenizerConfig: Record<string, unknown>,
  ) {
    this.source = source;
    this.tokenizerJson = tokenizerJson;
    this.tokenizerConfig = tokenizerConfig;
    this.inner = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.specialIds = specialIdsOf(this.inner);
    this.size = computeVocabSize(this.inner, addedTokens(tokenizerJson));
  }

  get vocabSize(): number {
    return this.size;
  }

  get bosTokenId(): number | null {
    return this.configTokenId("bos_token");
  }

  get eosTokenId(): number | null {
    return this.configTokenId("eos_token");
  }

  /** The PAD token, else the EOS token (as transformers' tokenizers resolve `pad_token_id`). */
  get padTokenId(): number | null {
    return this.configTokenId("pad_token") ?? this.eosTokenId;
  }

  encode(text: string, options: TokenizeOptions = {}): number[] {
    const ids = this.inner.encode(text, { add_special_tokens: false }).ids;
    const bos = this.bosTokenId;
    if (options.addBos && bos !== null) ids.unshift(bos);
    return ids;
  }

  decode(ids: readonly number[], options: DetokenizeOptions = {}): string {
    if (ids.length === 0) return "";
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.size) {
        throw new RangeError(`${this.source}: id ${id} is outside the vocabulary (size ${this.size})`);
      }
    }
    return this.inner.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.inner.token_to_id(token) ?? undefined;
  }

  idToToken(id: number): string | undefined {
    return this.inner.id_to_token(id) ?? undefined;
  }

  isSpecialId(id: number): boolean {
    return this.specialIds.has(id);
  }

  addSpecialToken(token: string): AddedSpecialToken {
    if (token.length === 0) throw new Error(`${this.source}: a special token cannot be empty`);
    const entries = addedTokens(this.tokenizerJson);
    const existingEntry = entries.find((entry) => entry.content === token);
    if (existingEntry?.special) return { id: existingEntry.id, added: false };
    const existingId = this.tokenToId(token);
    const id = existingEntry?.id ?? existingId ?? this.size;
    const entry: AddedTokenEntry = {
      id,
      content: token,
      single_word: false,
      lstrip: false,
      rstrip: false,
      // Unnormalized, as Python's `add_special_tokens` does: the text is matched before the normalizer runs.
      normalized: false,
      special: true,
    };
    const nextJson = {
      ...this.tokenizerJson,
      added_tokens: [...entries.filter((other) => other.content !== token), entry].sort(
        (a, b) => a.id - b.id,
      ),
    };
    const decoder = this.tokenizerConfig.added_tokens_decoder;
    const nextConfig: Record<string, unknown> = {
      ...this.tokenizerConfig,
      additional_special_tokens: [...stringList(this.tokenizerConfig.additional_special_tokens), token],
    };
    if (typeof decoder === "object" && decoder !== null) {
      const { id: _id, ...rest } = entry;
      nextConfig.added_tokens_decoder = { ...decoder, [String(id)]: rest };
    }
    this.inner = new Tokenizer(nextJson, nextConfig);
    this.tokenizerJson = nextJson;
    this.tokenizerConfig = nextConfig;
    this.specialIds = specialIdsOf(this.inner);
    this.size = Math.max(this.size, id + 1);
    return { id, added: existingEntry === undefined && existingId === undefined };
  }

  /**
   * Renders a chat with `tokenizer_config.json`'s `chat_template` (a string, or a list of named templates
   * of which `default` is used), given what Hugging Face's `apply_chat_template` gives a template: the
   * messages, `add_generation_prompt`, `tools` and `documents` as none, and the configured special tokens
   * (`bos_token`, `eos_token`...).
   * @throws Error naming the folder when there is no chat template or it does not parse.
   */
  applyChatTemplate(
    messages: readonly ChatMessage[],
    options: { addGenerationPrompt?: boolean } = {},
  ): string {
    const template = this.chatTemplate();
    const context: Record<string, unknown> = {
      messages: messages.map((message) => ({ ...message })),
      add_generation_prompt: options.addGenerationPrompt ?? true,
      tools: null,
      documents: null,
    };
    for (const key of TEMPLATE_TOKEN_KEYS) {
      const value = tokenText(this.tokenizerConfig[key]);
      if (value !== null) context[key] = value;
    }
    return template.render(context);
  }

  async save(folder: string): Promise<void> {
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "tokenizer.json"), JSON.stringify(this.tokenizerJson));
    await writeFile(
      join(folder, "tokenizer_config.json"),
      `${JSON.stringify(this.tokenizerConfig, null, 2)}\n`,
    );
  }

  private configTokenId(key: (typeof TEMPLATE_TOKEN_KEYS)[number]): number | null {
    const text = tokenText(this.tokenizerConfig[key]);
    if (text === null) return null;
    const id = this.inner.token_to_id(text);
    return typeof id === "number" && Number.isInteger(id) ? id : null;
  }

  private chatTemplate(): Template {
    if (this.template !== undefined) return this.template;
    const configured = this.tokenizerConfig.chat_template;
    let text: string | undefined;
    if (typeof configured === "string") text = configured;
    else if (Array.isArray(configured)) {
      const named = configured.find(
        (item): item is { name: string; template: string } =>
          typeof item === "object" &&
          item !== null &&
          (item as { name?: unknown }).name === "default" &&
          typeof (item as { template?: unknown }).template === "string",
      );
      text = named?.template;
      if (text === undefined) {
        throw new Error(
          `${this.source}: tokenizer_config.json has several chat templates and none is named "default"`,
        );
      }
    }
    if (text === undefined || text.length === 0) {
      throw new Error(`${this.source}: tokenizer_config.json has no chat_template`);
    }
    try {
      this.template = new Template(text);
    } catch (cause) {
      throw new Error(
        `${this.source}: tokenizer_config.json's chat_template does not parse: ${(cause as Error).message}`,
        { cause },
      );
    }
    return this.template;
  }
}

/**
 * Loads a tokenizer from a folder holding `tokenizer.json` and `tokenizer_config.json`: a folder written
 * by the built-in tokenizer comes back as a {@link BuiltinTokenizer}, any other as an {@link HfTokenizer}.
 * A Hub id (`owner/name`) is resolved to a folder by `options.resolveHubFolder`.
 * Throws {@link TokenizerLoadError} naming the folder or file and what to do.
 */
export async function loadTokenizer(
  folderOrId: string,
  options: LoadTokenizerOptions = {},
): Promise<PrmTokenizer> {
  const kind = await pathKind(folderOrId);
  if (kind === "directory") return loadFromFolder(resolve(folderOrId));
  if (kind === "file") {
    throw new TokenizerLoadError(
      folderOrId,
      "is a file; pass the folder that holds tokenizer.json and tokenizer_config.json",
    );
  }
  const repoId = folderOrId.startsWith("hf://") ? folderOrId.slice("hf://".length) : folderOrId;
  if (!looksLikeHubId(repoId)) throw new TokenizerLoadError(folderOrId, "no such folder");
  const resolveHubFolder: HubFolderResolver =
    options.resolveHubFolder ??
    ((id, files, revision) =>
      hfDownloadFiles(id, files, { ...options.hub, ...(revision ? { revision } : {}) }));
  let folder: string;
  try {
    folder = await resolveHubFolder(repoId, TOKENIZER_FILES, options.revision);
  } catch (cause) {
    throw new TokenizerLoadError(
      folderOrId,
      `could not fetch the tokenizer files from the Hub: ${String(cause)}`,
      {
        cause,
      },
    );
  }
  return loadFromFolder(resolve(folder));
}

async function loadFromFolder(folder: string): Promise<PrmTokenizer> {
  const config = await readJsonObject(folder, "tokenizer_config.json");
  const json = await readJsonObject(folder, "tokenizer.json");
  if (config[BUILTIN_CONFIG_KEY] !== undefined) {
    let builtin: BuiltinTokenizer;
    try {
      builtin = BuiltinTokenizer.fromJson(json, config);
    } catch (cause) {
      // The built-in reader's messages start with the file they concern: name it with its folder.
      const message = (cause as Error).message;
      const file = /^(tokenizer(?:_config)?\.json): /.exec(message);
      throw new TokenizerLoadError(
        file === null ? folder : join(folder, file[1]!),
        file === null ? message : message.slice(file[0].length),
        { cause },
      );
    }
    checkTokenizerEncodes(builtin, join(folder, "tokenizer.json"));
    return builtin;
  }
  checkTokenizerJson(json, join(folder, "tokenizer.json"));
  let tokenizer: HfTokenizer;
  try {
    tokenizer = new HfTokenizer(folder, json, config);
  } catch (cause) {
    throw new TokenizerLoadError(
      join(folder, "tokenizer.json"),
      `cannot build the tokenizer: ${(cause as Error).message}`,
      { cause },
    );
  }
  checkTokenizerEncodes(tokenizer, join(folder, "tokenizer.json"));
  return tokenizer;
}

async function readJsonObject(folder: string, file: string): Promise<Record<string, unknown>> {
  const path = join(folder, file);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new TokenizerLoadError(
      path,
      "missing: a tokenizer folder needs tokenizer.json and tokenizer_config.json (the slow-tokenizer files " +
        "tokenizer.model / vocab.txt alone are not enough)",
      { cause },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    // V8 quotes a piece of the text, line breaks included: the message stays on one line.
    const reason = (cause as Error).message.replace(/\s+/g, " ");
    throw new TokenizerLoadError(path, `not valid JSON: ${reason}`, { cause });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TokenizerLoadError(path, "expected a JSON object");
  }
  return value as Record<string, unknown>;
}

async function pathKind(path: string): Promise<"directory" | "file" | "missing"> {
  try {
    const info = await stat(path);
    return info.isDirectory() ? "directory" : "file";
  } catch {
    return "missing";
  }
}

/** `name` or `owner/name` with the characters the Hub allows, and nothing that reads as a path. */
function looksLikeHubId(value: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(value) && !value.includes("..");
}

function addedTokens(tokenizerJson: Record<string, unknown>): AddedTokenEntry[] {
  const list = tokenizerJson.added_tokens;
  return Array.isArray(list) ? (list as AddedTokenEntry[]) : [];
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

function computeVocabSize(tokenizer: Tokenizer, added: readonly AddedTokenEntry[]): number {
  let largest = -1;
  for (const id of tokenizer.get_vocab().values()) if (id > largest) largest = id;
  for (const entry of added) if (entry.id > largest) largest = entry.id;
  return largest + 1;
}

/** Ids of the added tokens marked special (what `skipSpecialTokens` and the encoder treat as special). */
function specialIdsOf(tokenizer: Tokenizer): Set<number> {
  const ids = new Set<number>();
  for (const [id, token] of tokenizer.get_added_tokens_decoder()) if (token.special) ids.add(id);
  return ids;
}

/** A token named in `tokenizer_config.json`: a string, or an `AddedToken` object with its `content`. */
function tokenText(value: unknown): string | null {
  if (typeof value === "string") return value.length === 0 ? null : value;
  if (typeof value === "object" && value !== null) {
    const content = (value as { content?: unknown }).content;
    if (typeof content === "string" && content.length > 0) return content;
  }
  return null;
}
