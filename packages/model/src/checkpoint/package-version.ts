import { createRequire } from "node:module";

function readVersion(): string {
  const require = createRequire(import.meta.url);
  // From src/checkpoint (tests, tsx) and from dist (the build) the manifest is at a different depth.
  for (const path of ["../../package.json", "../package.json"]) {
    try {
      const manifest = require(path) as { name?: string; version?: string };
      if (manifest.name === "@pqm/model" && typeof manifest.version === "string") return manifest.version;
    } catch {
      // try the next location
    }
  }
  return "unknown";
}

/** The version of @pqm/model, written into checkpoints (`unknown` when its package.json cannot be found). */
export const MODEL_PACKAGE_VERSION: string = readVersion();
