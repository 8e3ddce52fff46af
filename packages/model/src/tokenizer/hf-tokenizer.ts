import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { PreTrainedTokenizer } from "@huggingface/transformers";
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
import { importTransformers } from "./transformers-import.js";

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

type TokenizerConstructor = new (tokenizerJson: unknown, tokenizerConfig: unknown) => PreTrainedTokenizer;

interface AddedTokenEntry {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/**
 * A Hugging Face tokenizer (`tokenizer.json` + `tokenizer_config.json`) run by transformers.js, behind
 * the {@link PrmTokenizer} interface. Special tokens are added by editing the JSON and rebuilding the
 * transformers.js tokenizer, so `save` writes exactly what is in use.
 */
export class HfTokenizer implements PrmTokenizer {
  readonly kind = "huggingface" as const;
  /** The folder the tokenizer was read from. */
  readonly source: string;
  private inner: PreTrainedTokenizer;
  private tokenizerJson: Record<string, unknown>;
  private tokenizerConfig: Record<string, unknown>;
  private readonly construct: TokenizerConstructor;
  private specialIds: Set<number>;
  private size: number;

  /** Wraps an already-built transformers.js tokenizer; prefer {@link loadTokenizer}. */
  constructor(
    source: string,
    tokenizerJson: Record<string, unknown>,
    tokenizerConfig: Record<string, unknown>,
    construct: TokenizerConstructor,
  ) {
    this.source = source;
    this.tokenizerJson = tokenizerJson;
    this.tokenizerConfig = tokenizerConfig;
    this.construct = construct;
    this.inner = new construct(tokenizerJson, tokenizerConfig);
    this.specialIds = new Set(this.inner.all_special_ids);
    this.size = computeVocabSize(this.inner, addedTokens(tokenizerJson));
  }

  /** The transformers.js tokenizer in use (rebuilt by `addSpecialToken`). */
  get transformersTokenizer(): PreTrainedTokenizer {
    return this.inner;
  }

  get vocabSize(): number {
    return this.size;
  }

  get bosTokenId(): number | null {
    return idOrNull(this.inner.bos_token_id);
  }

  get eosTokenId(): number | null {
    return idOrNull(this.inner.eos_token_id);
  }

  get padTokenId(): number | null {
    return idOrNull(this.inner.pad_token_id);
  }

  encode(text: string, options: TokenizeOptions = {}): number[] {
    const ids = this.inner.encode(text, { add_special_tokens: false });
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
    return this.inner._tokenizer.token_to_id(token) ?? undefined;
  }

  idToToken(id: number): string | undefined {
    return this.inner._tokenizer.id_to_token(id) ?? undefined;
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
    this.inner = new this.construct(nextJson, nextConfig);
    this.tokenizerJson = nextJson;
    this.tokenizerConfig = nextConfig;
    this.specialIds = new Set(this.inner.all_special_ids);
    this.size = Math.max(this.size, id + 1);
    return { id, added: existingEntry === undefined && existingId === undefined };
  }

  applyChatTemplate(
    messages: readonly ChatMessage[],
    options: { addGenerationPrompt?: boolean } = {},
  ): string {
    if (!this.inner.chat_template)
      throw new Error(`${this.source}: tokenizer_config.json has no chat_template`);
    const rendered = this.inner.apply_chat_template(
      messages.map((message) => ({ ...message })),
      { tokenize: false, add_generation_prompt: options.addGenerationPrompt ?? true },
    );
    if (typeof rendered !== "string")
      throw new Error(`${this.source}: the chat template did not render to text`);
    return rendered;
  }

  async save(folder: string): Promise<void> {
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "tokenizer.json"), JSON.stringify(this.tokenizerJson));
    await writeFile(
      join(folder, "tokenizer_config.json"),
      `${JSON.stringify(this.tokenizerConfig, null, 2)}\n`,
    );
  }
}

/**
 * Loads a tokenizer from a folder holding `tokenizer.json` and `tokenizer_config.json`: a folder written
 * by the built-in tokenizer comes back as a {@link BuiltinTokenizer} (no transformers.js needed), any
 * other as an {@link HfTokenizer} built the way `AutoTokenizer` builds it (class from `tokenizer_class`).
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
    try {
      return BuiltinTokenizer.fromJson(json, config);
    } catch (cause) {
      throw new TokenizerLoadError(folder, (cause as Error).message, { cause });
    }
  }
  const transformers = await importTransformers();
  const construct = tokenizerClass(transformers, config, folder);
  try {
    return new HfTokenizer(folder, json, config, construct);
  } catch (cause) {
    throw new TokenizerLoadError(
      folder,
      `transformers.js could not build the tokenizer: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}

/** The class `AutoTokenizer` would pick: `tokenizer_class` without "Fast", else the base class. */
function tokenizerClass(
  transformers: Awaited<ReturnType<typeof importTransformers>>,
  config: Record<string, unknown>,
  folder: string,
): TokenizerConstructor {
  const base = transformers.PreTrainedTokenizer as unknown as TokenizerConstructor;
  const name =
    typeof config.tokenizer_class === "string" ? config.tokenizer_class.replace(/Fast$/, "") : undefined;
  if (name === undefined) return base;
  const candidate = (transformers as unknown as Record<string, unknown>)[name];
  if (typeof candidate === "function" && (candidate === base || candidate.prototype instanceof base)) {
    return candidate as TokenizerConstructor;
  }
  // Same fallback as AutoTokenizer, said once on stderr so an odd class name does not pass unseen.
  process.stderr.write(
    `${folder}: unknown tokenizer_class ${JSON.stringify(name)}; using PreTrainedTokenizer\n`,
  );
  return base;
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
    throw new TokenizerLoadError(path, `not valid JSON: ${(cause as Error).message}`, { cause });
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

function computeVocabSize(tokenizer: PreTrainedTokenizer, added: readonly AddedTokenEntry[]): number {
  let largest = -1;
  for (const id of tokenizer.get_vocab().values()) if (id > largest) largest = id;
  for (const entry of added) if (entry.id > largest) largest = entry.id;
  return largest + 1;
}

function idOrNull(id: number | undefined | null): number | null {
  return typeof id === "number" && Number.isInteger(id) ? id : null;
}
