// Shared by the tests that read the PRM convention fixtures (not exported from the package). The fixtures
// live in the repository (test/fixtures/prm-conventions, made by the script there), so these tests run in
// any clone.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ScoringConventionName } from "./scoring-convention.js";

/** The fixture folder: test/fixtures/prm-conventions. */
export const conventionFixturesRoot: string = fileURLToPath(
  new URL("../../test/fixtures/prm-conventions/", import.meta.url),
);

/** One case of a reference.json. */
export interface ConventionCase {
  name?: string;
  question: string;
  steps: string[];
  /** The text the reference tokenized, where it tokenized one text. */
  text?: string;
  input_ids: number[];
  score_positions: number[];
  step_log_odds: number[];
}

/** A convention's fixture: its folders (absolute) and reference cases. */
export interface ConventionFixture {
  convention: ScoringConventionName;
  model: string;
  backbone: string | null;
  cases: ConventionCase[];
}

/** The fixture of `convention`, or null when its files are not there. */
export function readConventionFixture(convention: ScoringConventionName): ConventionFixture | null {
  const manifestPath = join(conventionFixturesRoot, "manifest.json");
  const referencePath = join(conventionFixturesRoot, convention, "reference.json");
  if (!existsSync(manifestPath) || !existsSync(referencePath)) return null;
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Record<
    string,
    { model: string; backbone: string | null }
  >;
  const entry = manifest[convention];
  if (entry === undefined) return null;
  const reference = JSON.parse(readFileSync(referencePath, "utf8")) as { cases: ConventionCase[] };
  return {
    convention,
    model: join(conventionFixturesRoot, entry.model),
    backbone: entry.backbone === null ? null : join(conventionFixturesRoot, entry.backbone),
    cases: reference.cases,
  };
}

/** Largest |got − want| over two lists of per-step values of the same shape (Infinity when shapes differ). */
export function worstDifference(
  got: readonly (readonly number[])[],
  want: readonly (readonly number[])[],
): number {
  if (got.length !== want.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  got.forEach((row, index) => {
    const other = want[index]!;
    if (row.length !== other.length) worst = Number.POSITIVE_INFINITY;
    row.forEach((value, step) => {
      worst = Math.max(worst, Math.abs(value - other[step]!));
    });
  });
  return worst;
}
