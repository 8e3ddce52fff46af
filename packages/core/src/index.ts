// The public API of @pqm/core: everything of the TF.js-free `reference` entry, plus the TF.js losses.

export type { TensorLoss, TensorLossFactory } from "./loss-registry.js";
export { getLoss, registeredLossNames, registerLoss } from "./loss-registry.js";
export * from "./reference.js";
export type { RankingVariant } from "./tensor-losses.js";
export { bceLossTensor, mseLossTensor, ormLossTensor, pqmRankingLossTensor } from "./tensor-losses.js";
