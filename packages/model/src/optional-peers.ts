// The optional peer dependencies of @pqm/model: imported only when a feature needs them, never at
// start-up, so that `npm install @pqm/model` pulls in no native binary and no download.

/** The optional peers @pqm/model imports, with the version to install. */
export const OPTIONAL_PEERS = {
  "onnxruntime-node": "1.30.0",
  "@tensorflow/tfjs-node": "4.22.0",
  "@tensorflow/tfjs-node-gpu": "4.22.0",
  webgpu: "0.6.2",
  "@tensorflow/tfjs-backend-webgpu": "4.22.0",
} as const;

/** One of {@link OPTIONAL_PEERS}. */
export type OptionalPeer = keyof typeof OPTIONAL_PEERS;

/**
 * A feature needs an optional peer dependency that is not installed (or does not load). The message names
 * the package, the feature and the install command.
 */
export class MissingPeerDependencyError extends Error {
  /** The package to install. */
  readonly packageName: OptionalPeer;
  /** What needed it, e.g. "ONNX scoring". */
  readonly feature: string;

  constructor(packageName: OptionalPeer, feature: string, options?: { cause?: unknown }) {
    const notFound = isModuleNotFound(options?.cause, packageName);
    const why = notFound
      ? "is not installed"
      : `could not be loaded (${options?.cause instanceof Error ? options.cause.message : String(options?.cause)})`;
    const webgpu = packageName === "webgpu" || packageName === "@tensorflow/tfjs-backend-webgpu";
    const hint =
      packageName === "onnxruntime-node"
        ? " (its CPU binaries are in the npm package; where its install step cannot download CUDA libraries, add ONNXRUNTIME_NODE_INSTALL=skip)"
        : webgpu
          ? " (the two WebGPU packages go together; webgpu holds Dawn's native module and needs a Vulkan driver)"
          : " (its install step downloads libtensorflow)";
    const install = webgpu
      ? `npm install webgpu@${OPTIONAL_PEERS.webgpu} @tensorflow/tfjs-backend-webgpu@${OPTIONAL_PEERS["@tensorflow/tfjs-backend-webgpu"]}`
      : `npm install ${packageName}@${OPTIONAL_PEERS[packageName]}`;
    super(
      `${packageName} ${why}: ${feature} needs it (an optional peer dependency of @pqm/model). ` +
        `Install it: ${install}${hint}`,
      options,
    );
    this.name = "MissingPeerDependencyError";
    this.packageName = packageName;
    this.feature = feature;
  }
}

/** True when `error` says that `specifier` (or a file inside it) could not be found. */
export function isModuleNotFound(error: unknown, specifier: string): boolean {
  const code = (error as { code?: string } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  // Node says ERR_MODULE_NOT_FOUND; bundlers and vite's runner word it their own way.
  const notFound =
    code === "ERR_MODULE_NOT_FOUND" ||
    code === "MODULE_NOT_FOUND" ||
    /Cannot find (package|module)|Could not resolve|Failed to (load|resolve)/.test(message);
  return notFound && message.includes(specifier);
}
