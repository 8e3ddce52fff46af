/**
 * Gradient registration for TF.js. tfjs-core defines its gradients but registers none by itself, and
 * the module that would (`dist/register_all_gradients`) cannot be imported by plain Node (its ESM
 * files import their siblings without extensions). The gradient definitions are bundled into this
 * package's `dist` at build time (tsup.config.ts), keeping `@tensorflow/tfjs-core` itself external, so
 * they register into the one global registry of the tfjs-core the user installed.
 */
import { getGradient, registerGradient } from "@tensorflow/tfjs-core";
import { tfjsGradientConfigs } from "./tfjs-gradient-configs.js";

/**
 * Registers every tfjs-core gradient that is not registered yet (so `tf.grad`, `tf.valueAndGrad`
 * and `optimizer.minimize` work), and returns how many it registered. Gradients already registered,
 * e.g. by `@tensorflow/tfjs`, `@tensorflow/tfjs-node` or an earlier call, are left as they are, so
 * nothing is overridden and tfjs prints no warning. Idempotent and cheap: a second call only looks
 * each kernel up. The main entry of `@pqm/core` calls it when it is imported.
 */
export function registerGradients(): number {
  let registered = 0;
  for (const config of tfjsGradientConfigs) {
    if (getGradient(config.kernelName) !== undefined) continue;
    registerGradient(config);
    registered += 1;
  }
  return registered;
}
