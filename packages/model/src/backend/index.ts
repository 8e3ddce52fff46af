// The public API of the backend area: run-time backend choice, the fast wasm matmul, wasm threads.
export {
  fastWasmMatMulInstalled,
  installFastWasmMatMul,
  uninstallFastWasmMatMul,
} from "./fast-wasm-matmul.js";
export type { OnnxMatMulOptions, OnnxMatMulStatistics } from "./onnx-matmul.js";
export { installOnnxMatMul, onnxMatMulStatistics, uninstallOnnxMatMul } from "./onnx-matmul.js";
export type { OptionalPeer } from "./optional-peer.js";
export { MissingPeerDependencyError, OPTIONAL_PEERS } from "./optional-peer.js";
export type {
  BackendChoice,
  BackendSelection,
  SelectBackendOptions,
  WasmMatMulChoice,
} from "./select-backend.js";
export {
  BACKEND_PREFERENCE,
  currentBackendSelection,
  resetBackendSelection,
  selectBackend,
} from "./select-backend.js";
export { installSharedWasmIdentity, uninstallSharedWasmIdentity } from "./wasm-identity.js";
export { initialiseWasmBackend, prepareWasmThreads } from "./wasm-threads.js";
