import type { ViteUserConfig } from "vitest/config";

/** Where every package's vitest run writes its JSON results, relative to the package (`.vitest/results.json`). */
export declare const resultsFile: string;

/** The vitest configuration every pqm package uses; `overrides.test` is merged over the defaults. */
export declare function pqmVitestConfig(overrides?: { test?: Record<string, unknown> }): ViteUserConfig;
