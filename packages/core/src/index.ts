// The public API of @pqm/core: everything of the TF.js-free `reference` entry, plus the TF.js losses.

import { registerGradients } from "./tfjs-gradients.js";

export type { TensorLoss, TensorLossFactory } from "./loss-registry.js";
export { getLoss, registeredLossNames, registerLoss } from "./loss-registry.js";
export * from "./reference.js";
export type { RankingVariant } from "./tensor-losses.js";
export { bceLossTensor, mseLossTensor, ormLossTensor, pqmRankingLossTensor } from "./tensor-losses.js";
export { registerGradients } from "./tfjs-gradients.js";

// Training with these losses needs tfjs-core's gradients, which it does not register by itself.
registerGradients();
