import { describe, expect, it } from "vitest";
import { defaultDemoRecipe, quickDemoRecipe, resolveDemoRecipe } from "./recipe.js";

describe("resolveDemoRecipe", () => {
  it("lays the given fields over the default recipe, keeping its field order", () => {
    const recipe = resolveDemoRecipe({ trainSteps: 10, seeds: 3 });
    expect(recipe).toEqual({ ...defaultDemoRecipe, trainSteps: 10, seeds: 3 });
    expect(Object.keys(recipe)).toEqual(Object.keys(defaultDemoRecipe));
    expect(resolveDemoRecipe(quickDemoRecipe)).toEqual(quickDemoRecipe);
  });

  it("refuses bad fields, naming them", () => {
    expect(() => resolveDemoRecipe({ trainSteps: 0 })).toThrow(
      "recipe.trainSteps must be a positive integer, got 0",
    );
    expect(() => resolveDemoRecipe({ batchSize: 2.5 })).toThrow(
      "recipe.batchSize must be a positive integer",
    );
    expect(() => resolveDemoRecipe({ seed: Number.NaN })).toThrow("recipe.seed must be a number");
    expect(() => resolveDemoRecipe({ learningRate: 0 })).toThrow("recipe.learningRate must be above 0");
    expect(() => resolveDemoRecipe({ ns: [] })).toThrow("recipe.ns must list at least one n");
    expect(() => resolveDemoRecipe({ ns: [1, 0] })).toThrow("recipe.ns[1] must be a positive integer, got 0");
    expect(() => resolveDemoRecipe({ ns: [128] })).toThrow(
      "recipe.ns[0] = 128 is larger than recipe.candidates (64)",
    );
    expect(() => resolveDemoRecipe({ searchNs: [4, 6] })).toThrow(
      "recipe.searchNs[1] must be a positive multiple of recipe.beamWidth (4), got 6",
    );
    expect(() => resolveDemoRecipe({ beamWidth: 0 })).toThrow("recipe.beamWidth must be a positive integer");
    expect(resolveDemoRecipe({ searchNs: [] }).searchNs).toEqual([]);
  });
});
