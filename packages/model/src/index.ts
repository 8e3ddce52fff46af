// The public API of @pqm/model. Each area keeps its own explicit export list in its folder's index.
export * from "./backbone/index.js";
export * from "./checkpoint/index.js";
export * from "./onnx/index.js";
export * from "./prm/index.js";
export * from "./tokenizer/index.js";
export * from "./training/index.js";
