import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as Pipeline from "../src/index.js";
import { testBuildDir } from "./build-for-tests.js";

// The package as built by the global setup: its worker entry lies beside index.js, as in dist/.
const pipeline = (await import(pathToFileURL(join(testBuildDir, "index.js")).href)) as typeof Pipeline;
const { quickDemoRecipe, runDemo, runExperiment, workerEntryAvailable } = pipeline;

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-pipeline-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** The numbers of a seed's run without its timings (which differ from run to run). */
function numbers(run: Pipeline.DemoSeedResult) {
  const model = ({ trainSeconds, trainTokensPerSecond, scoreSeconds, ...rest }: Pipeline.DemoModelResult) =>
    rest;
  return {
    corpus: run.corpus,
    test: run.test,
    baselines: run.baselines,
    pqm: model(run.models.pqm),
    bce: model(run.models.bce),
    search: run.search?.points,
  };
}

/** Counts worker threads started and exited among the events so far. */
function workerCounts(events: readonly Pipeline.PipelineEvent[]) {
  const workers = events.filter((event) => event.type === "worker");
  return {
    started: workers.filter((event) => event.state === "started").length,
    exited: workers.filter((event) => event.state === "exited").length,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let parallelRun: Pipeline.DemoRun | undefined;

describe("runDemo (the quick recipe, from code)", () => {
  it("finds its worker entry beside its own module", () => {
    expect(workerEntryAvailable()).toBe(true);
  });

  it("runs end to end in two worker threads, reports progress through the callback and writes the results folder", async () => {
    const out = join(folder, "demo");
    const events: Pipeline.PipelineEvent[] = [];
    parallelRun = await runDemo({
      recipe: quickDemoRecipe,
      out,
      backend: "wasm",
      onProgress: (event) => events.push(event),
    });
    const { results, files } = parallelRun;
    expect(results.format).toBe("pqm-demo/1");
    expect(results.config).toEqual(quickDemoRecipe);
    expect(results.summary.ns).toEqual([1, 4, 8]);
    const [seed] = results.runs;
    expect(seed?.corpus.trajectories).toBe(24 * 2);
    expect(seed?.test).toMatchObject({ questions: 6, candidatesPerQuestion: 8 });
    expect(seed?.models.pqm.trainSteps).toBe(6);
    // Baselines behave as theory says: pass@n never falls with n, random stays at the policy's accuracy.
    const pass = results.summary.bestOfN.pass.map((value) => value.mean);
    for (let i = 1; i < pass.length; i++) expect(pass[i]).toBeGreaterThanOrEqual(pass[i - 1]! - 1e-12);
    for (const value of results.summary.bestOfN.random) {
      expect(value.mean).toBeCloseTo(results.summary.policyAccuracy.mean, 10);
    }

    // Stages in order, each started and ended; every step of both models; one thread per model, all ended.
    const stages = events.filter((event) => event.type === "stage-start" || event.type === "stage-end");
    expect(stages.map((event) => `${event.type} ${event.stage}`)).toEqual(
      [
        "annotate",
        "sample candidates",
        "train and score both models and search with each (one thread each)",
        "evaluate",
        "search with the exact-Q oracle",
      ].flatMap((stage) => [`stage-start ${stage}`, `stage-end ${stage}`]),
    );
    // Beam search and best-of-N with each verifier at N = 4; on arith both generate the same tokens.
    const search = results.summary.search;
    expect(search?.ns).toEqual([4]);
    expect(search?.rows.map((row) => `${row.scorer} ${row.method}`)).toEqual([
      "pqm bon",
      "pqm beam",
      "bce bon",
      "bce beam",
      "oracle bon",
      "oracle beam",
    ]);
    for (const scorer of ["pqm", "bce", "oracle"]) {
      const [bon, beam] = search!.rows.filter((row) => row.scorer === scorer);
      expect(bon!.generatedTokens[0]!.mean).toBeGreaterThan(0);
      expect(beam!.generatedTokens[0]!.mean).toBeCloseTo(bon!.generatedTokens[0]!.mean, 9);
    }
    // The weighted votes are reported beside the picks, at every n.
    expect(results.summary.bestOfN.pqmWeighted).toHaveLength(3);
    for (const model of ["pqm", "bce"]) {
      const steps = events.filter((event) => event.type === "training-step" && event.model === model);
      expect(steps.map((event) => (event.type === "training-step" ? event.step : 0))).toEqual([
        1, 2, 3, 4, 5, 6,
      ]);
    }
    expect(events.filter((event) => event.type === "model-trained")).toHaveLength(2);
    expect(workerCounts(events)).toEqual({ started: 2, exited: 2 });
    expect(events.some((event) => event.type === "annotation" && event.progress.type === "end")).toBe(true);

    expect(files).not.toBeNull();
    expect(JSON.parse(await readFile(join(out, "results.json"), "utf8"))).toEqual(
      JSON.parse(JSON.stringify(results)),
    );
    expect(results.modelReports.map((report) => report.folder)).toEqual(["report-pqm", "report-bce"]);
    for (const file of [
      "index.html",
      "report.md",
      "accuracy-vs-n.svg",
      "search-vs-tokens.svg",
      "report-pqm/index.html",
      "seed-0/annotations.jsonl",
    ]) {
      expect((await stat(join(out, file))).size, file).toBeGreaterThan(100);
    }
    expect(await readFile(join(out, "report.md"), "utf8")).toContain(results.verdict);
  });

  it("gives the same numbers training in the calling thread, and writes nothing without a results folder", async () => {
    const events: Pipeline.PipelineEvent[] = [];
    const { results, files } = await runDemo({
      recipe: { ...quickDemoRecipe, parallel: false },
      backend: "wasm",
      onProgress: (event) => events.push(event),
    });
    expect(files).toBeNull();
    expect(results.modelReports).toEqual([]);
    expect(workerCounts(events)).toEqual({ started: 0, exited: 0 });
    expect(
      events.some(
        (event) =>
          event.type === "stage-start" && event.stage === "train and score both models and search with each",
      ),
    ).toBe(true);
    expect(parallelRun).toBeDefined();
    expect(numbers(results.runs[0]!)).toEqual(numbers(parallelRun!.results.runs[0]!));
    expect(results.verdict).toBe(parallelRun!.results.verdict);
  });

  it("refuses a recipe whose n exceeds the candidates, naming the field", async () => {
    await expect(runDemo({ recipe: { ...quickDemoRecipe, ns: [1, 99] } })).rejects.toThrow(
      "recipe.ns[1] = 99 is larger than recipe.candidates (8)",
    );
  });
});

describe("runDemo, aborted", () => {
  it("rejects with an AbortError right after the first progress event, having started nothing", async () => {
    const controller = new AbortController();
    const events: Pipeline.PipelineEvent[] = [];
    const run = runDemo({
      recipe: quickDemoRecipe,
      signal: controller.signal,
      onProgress: (event) => {
        events.push(event);
        controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(events).toEqual([{ type: "stage-start", seed: 0, stage: "annotate" }]);
  });

  it("stops training between steps, ends both worker threads and only then rejects", async () => {
    const controller = new AbortController();
    const events: Pipeline.PipelineEvent[] = [];
    // A budget far beyond what runs before the abort lands: training must be stopped, not finish.
    const trainSteps = 500;
    const started = performance.now();
    const run = runDemo({
      recipe: { ...quickDemoRecipe, trainSteps },
      backend: "wasm",
      signal: controller.signal,
      onProgress: (event) => {
        events.push(event);
        if (event.type === "training-step") controller.abort();
      },
    });
    const outcome = await run.then(
      () => "resolved",
      (error: unknown) => error,
    );
    expect(outcome).toMatchObject({ name: "AbortError" });
    // Every thread that started had exited when the promise rejected.
    const atRejection = workerCounts(events);
    expect(atRejection.started).toBe(2);
    expect(atRejection.exited).toBe(2);
    const lastStep = Math.max(...events.map((event) => (event.type === "training-step" ? event.step : 0)));
    expect(lastStep).toBeLessThan(trainSteps);
    expect(events.some((event) => event.type === "model-trained")).toBe(false);
    expect(performance.now() - started).toBeLessThan(60_000);
    // Nothing is left running: no event comes after the rejection.
    const count = events.length;
    await sleep(1000);
    expect(events).toHaveLength(count);
  });

  it("stops training in the calling thread at the step whose progress event aborted it", async () => {
    const controller = new AbortController();
    const steps: number[] = [];
    const run = runDemo({
      recipe: { ...quickDemoRecipe, parallel: false, trainSteps: 500 },
      backend: "wasm",
      signal: controller.signal,
      onProgress: (event) => {
        if (event.type !== "training-step") return;
        steps.push(event.step);
        if (event.step === 2) controller.abort(new Error("enough"));
      },
    });
    await expect(run).rejects.toThrow("enough");
    expect(steps).toEqual([1, 2]);
  });
});

describe("runDemo, aborted with a results folder, and run again", () => {
  const out = () => join(folder, "resumed");

  it("says what it kept; the same recipe resumes to the same numbers, reading back what was finished", async () => {
    const controller = new AbortController();
    const run = runDemo({
      recipe: quickDemoRecipe,
      out: out(),
      backend: "wasm",
      signal: controller.signal,
      onProgress: (event) => {
        if (event.type === "training-step") controller.abort(new Error("stop"));
      },
    });
    const error = await run.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    // The annotation was finished and is kept; the models in training were abandoned.
    expect(error).toMatchObject({
      name: "AbortError",
      message: `stop; kept in ${out()}: seed 0: annotation`,
      saved: { out: out(), finished: ["seed 0: annotation"], partial: [] },
    });
    expect(JSON.parse(await readFile(join(out(), "run.json"), "utf8"))).toMatchObject({
      settings: { run: "demo", recipe: { trainSteps: quickDemoRecipe.trainSteps } },
    });

    const resumed = await runDemo({ recipe: quickDemoRecipe, out: out(), backend: "wasm" });
    const first = parallelRun?.results.runs[0];
    expect(first).toBeDefined();
    expect(numbers(resumed.results.runs[0]!)).toEqual(numbers(first!));

    // Finished: a third run trains nothing; it reads both models back.
    const events: Pipeline.PipelineEvent[] = [];
    const again = await runDemo({
      recipe: quickDemoRecipe,
      out: out(),
      backend: "wasm",
      onProgress: (event) => events.push(event),
    });
    expect(events.filter((event) => event.type === "model-resumed").map((event) => event.model)).toEqual([
      "pqm",
      "bce",
    ]);
    expect(events.some((event) => event.type === "worker" || event.type === "training-step")).toBe(false);
    expect(numbers(again.results.runs[0]!)).toEqual(numbers(first!));
  });

  it("refuses a folder holding another recipe's run; overwrite starts over", async () => {
    const other = { ...quickDemoRecipe, trainSteps: 7 };
    await expect(runDemo({ recipe: other, out: out() })).rejects.toMatchObject({
      name: "RunMismatchError",
      field: "recipe.trainSteps",
      message: `${out()} already holds a run with other settings (recipe.trainSteps: 6 there, 7 now)`,
    });
    // Overwrite deletes the other run's state, then claims the folder (stopped here at once).
    const controller = new AbortController();
    const run = runDemo({
      recipe: other,
      out: out(),
      overwrite: true,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    await expect(run).rejects.toMatchObject({ name: "AbortError", saved: { finished: [] } });
    // The old annotations and models are gone (the new run stopped before writing any).
    expect(await readdir(join(out(), "seed-0"))).toEqual([]);
    expect(JSON.parse(await readFile(join(out(), "run.json"), "utf8"))).toMatchObject({
      settings: { recipe: { trainSteps: 7 } },
    });
  });
});

describe("runExperiment (zeta, quick, from code)", () => {
  it("trains one PQM model per zeta on the same candidates; zeta 4 is the demo's PQM model", async () => {
    const out = join(folder, "zeta");
    const events: Pipeline.PipelineEvent[] = [];
    const { results, files } = await runExperiment({
      experiment: "zeta",
      quick: true,
      recipe: quickDemoRecipe,
      out,
      backend: "wasm",
      onProgress: (event) => events.push(event),
    });
    expect(results.rows.map((row) => [row.variant, row.loss, row.zeta])).toEqual([
      ["zeta=0", "pqm", 0],
      ["zeta=4", "pqm", 4],
    ]);
    expect(events.find((event) => event.type === "stage-start" && event.stage === "train")).toMatchObject({
      models: 2,
    });
    expect(workerCounts(events)).toEqual({ started: 2, exited: 2 });
    // Same seed, recipe, corpus and initialization: the zeta 4 model is the demo's PQM model.
    expect(results.rows[1]?.bestOfN).toEqual(parallelRun?.results.runs[0]?.models.pqm.bestOfN);
    expect(results.rows[1]?.stepAuroc).toBe(parallelRun?.results.runs[0]?.models.pqm.stepLabels.auroc);
    expect(files?.html).toBe(join(out, "index.html"));
    expect(JSON.parse(await readFile(join(out, "results.json"), "utf8"))).toEqual(
      JSON.parse(JSON.stringify(results)),
    );
  });

  it("refuses an unknown experiment", async () => {
    await expect(
      runExperiment({ experiment: "dropout" as Pipeline.ExperimentName, recipe: quickDemoRecipe }),
    ).rejects.toThrow(
      "experiment 'dropout' is not one of zeta, annotation, sample-efficiency, loss-variants",
    );
  });
});
