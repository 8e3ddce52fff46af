// The public API of @pqm/model: what a user composes. Each area keeps its own explicit export list in
// its folder's index; anything not listed there (layers, kernel overrides, graph builders, helpers
// shared between areas, test fixtures) is internal and may change without notice.
export * from "./backbone/index.js";
export * from "./batching/index.js";
export * from "./checkpoint/index.js";
export * from "./conventions/index.js";
export * from "./export/index.js";
export * from "./onnx/index.js";
export type { OptionalPeer } from "./optional-peers.js";
export { MissingPeerDependencyError, OPTIONAL_PEERS } from "./optional-peers.js";
export * from "./prm/index.js";
export * from "./remote/index.js";
export * from "./tfjs-backends/index.js";
export * from "./tokenizer/index.js";
export * from "./training/index.js";
