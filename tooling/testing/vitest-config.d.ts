import type { ViteUserConfig } from "vitest/config";

/** The vitest configuration every pqm package uses; `overrides.test` is merged over the defaults. */
export declare function pqmVitestConfig(overrides?: { test?: Record<string, unknown> }): ViteUserConfig;
