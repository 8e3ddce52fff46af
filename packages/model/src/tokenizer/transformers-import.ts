import type * as Transformers from "@huggingface/transformers";

/** The `@huggingface/transformers` module namespace. */
export type TransformersModule = typeof Transformers;

let pending: Promise<TransformersModule> | undefined;

/**
 * Imports `@huggingface/transformers` on first use and caches the module. It is imported lazily because
 * it loads ONNX Runtime's native binding, which users of the built-in tokenizer should not pay for at
 * start-up. Throws an error naming the install command when the peer dependency is missing.
 */
export function importTransformers(): Promise<TransformersModule> {
  pending ??= import("@huggingface/transformers").catch((cause: unknown) => {
    pending = undefined;
    throw new Error(
      "@huggingface/transformers could not be imported; it is a peer dependency of @pqm/model needed for " +
        "Hugging Face tokenizers: install it (`pnpm add @huggingface/transformers@4.3.1`; set " +
        "ONNXRUNTIME_NODE_INSTALL_CUDA=skip where the CUDA download is not reachable)",
      { cause },
    );
  });
  return pending;
}
