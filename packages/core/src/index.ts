/**
 * `@pqm/core`: everything of the TF.js-free `@pqm/core/reference` entry, plus the TF.js losses
 * ({@link getLoss}, {@link registerLoss}) and the registration of tfjs-core's gradients, which this
 * entry runs when imported.
 *
 * @packageDocumentation
 */

import { registerGradients } from "./tfjs-gradients.js";

export type { TensorLoss, TensorLossFactory } from "./losses/loss-registry.js";
export { getLoss, registeredLossNames, registerLoss } from "./losses/loss-registry.js";
export { PQM_RANKING_LOSS_KERNEL } from "./losses/tensor-losses.js";
export * from "./reference.js";
export { registerGradients } from "./tfjs-gradients.js";

// Training with these losses needs tfjs-core's gradients, which it does not register by itself.
registerGradients();
