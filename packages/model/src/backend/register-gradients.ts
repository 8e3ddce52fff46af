import { register } from "node:module";
import * as tf from "@tensorflow/tfjs-core";

// tfjs-core registers no gradients by itself, and its `dist/register_all_gradients` cannot load in
// plain Node: its ESM files import siblings without extensions. Bundlers and vitest resolve those;
// for Node, a resolve hook scoped to tfjs-core's dist folder retries such imports with `.js` and
// `/index.js` (nothing in node_modules is modified).
const resolveHook = `
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    const parent = context.parentURL ?? "";
    if (specifier.startsWith(".") && parent.includes("/@tensorflow/tfjs-core/dist/")) {
      for (const suffix of [".js", "/index.js"]) {
        try {
          return await next(specifier + suffix, context);
        } catch {}
      }
    }
    throw error;
  }
}`;

let registered: Promise<void> | undefined;

/**
 * Registers every tfjs-core gradient (needed by `tf.grad`, `optimizer.minimize`), once. Does
 * nothing when they are already registered (e.g. by @tensorflow/tfjs or a test harness).
 * @throws Error when the gradient module cannot be loaded even with the resolve hook.
 */
export function registerTfjsGradients(): Promise<void> {
  registered ??= (async () => {
    if (tf.getGradient(tf.BatchMatMul) !== undefined) return;
    // Registered first: a failed plain import would stay cached and poison the retry.
    if (typeof process !== "undefined" && process.versions?.node !== undefined) {
      register(`data:text/javascript,${encodeURIComponent(resolveHook)}`);
    }
    await import("@tensorflow/tfjs-core/dist/register_all_gradients.js");
  })();
  return registered;
}
