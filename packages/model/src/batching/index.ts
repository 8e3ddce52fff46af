// The public API of the batching area: encoded rows into length-bucketed, padded batches (resumable
// from a saved position) and those batches into tensors.
export type { PrmBatchTensors } from "./batch-tensors.js";
export { batchToTensors } from "./batch-tensors.js";
export type { CollateOptions, PadSide, PrmBatch } from "./collate-rows.js";
export { collateRows } from "./collate-rows.js";
export type { BatcherOptions, BatcherState, BatchStep, LengthBucket } from "./length-batcher.js";
export { LengthBucketedBatcher, REFERENCE_BUCKETS } from "./length-batcher.js";
