import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FuzzJson } from "@pqm/testing/fuzz";
import { FuzzTally, fuzzParameters, fuzzRuns, mutatedFile, renderMutatedFile } from "@pqm/testing/fuzz";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { CliError } from "../../shared/cli-error.js";
import { checkConfigLayer, readTrainConfigFile } from "./train-config.js";

// Valid `pqm train` config files (any subset of the sections and fields, as YAML or JSON), then
// mutated: fields deleted, retyped or misspelt, numbers out of range or huge, strings edited (YAML
// anchors, aliases, directives, tabs), bytes flipped or cut, a BOM, CRLF. Each must give a layer
// the schema accepts, or a usage error naming the file and the line (syntax) or the field (schema).

const config = fc.record(
  {
    data: fc.record(
      {
        train: fc.constantFrom("train.jsonl", "data/ms.jsonl"),
        validation: fc.constantFrom(null, "val.jsonl"),
      },
      { requiredKeys: [] },
    ),
    model: fc.record(
      { backbone: fc.constantFrom("preset:tiny", "hf://owner/name@v1", "models/base"), seed: fc.nat(100) },
      { requiredKeys: [] },
    ),
    encoding: fc.record(
      {
        template: fc.constantFrom(null, "plain", "pqm-alpaca"),
        maxLength: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 4096 })),
        overflow: fc.constantFrom("truncate-question", "drop"),
        addBos: fc.boolean(),
        stepTag: fc.constantFrom("[PRM]", "ки"),
      },
      { requiredKeys: [] },
    ),
    training: fc.record(
      {
        loss: fc.constantFrom("pqm", "bce", "mse", "orm"),
        zeta: fc.double({ min: 0, max: 8, noNaN: true }),
        labels: fc.constantFrom("hard", "soft"),
        learningRate: fc.double({ min: 1e-6, max: 1e-2, noNaN: true }),
        warmupRatio: fc.double({ min: 0, max: 0.5, noNaN: true }),
        epochs: fc.integer({ min: 1, max: 5 }),
        maxSteps: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 1000 })),
        batchSize: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 64 })),
        seed: fc.nat(1000),
        evalEvery: fc.nat(100),
      },
      { requiredKeys: [] },
    ),
    output: fc.record({ dir: fc.constant("out"), checkpointEvery: fc.nat(100) }, { requiredKeys: [] }),
    run: fc.record(
      {
        timeBudgetSeconds: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 3600 })),
        backend: fc.constantFrom("auto", "wasm", "cpu"),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

const files = mutatedFile(config as fc.Arbitrary<FuzzJson>);

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-fuzz-train-config-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("readTrainConfigFile under fuzzing", () => {
  it("reads every mutated YAML or JSON file to a valid layer or names file and line or field", async () => {
    const tally = new FuzzTally("train-config");
    await fc.assert(
      fc.asyncProperty(files, fc.boolean(), async (input, yaml) => {
        const name = yaml ? "train.yaml" : "train.json";
        const path = join(folder, name);
        await writeFile(
          path,
          renderMutatedFile(input, (value) => (yaml ? stringify(value) : JSON.stringify(value, null, 2))),
        );
        try {
          const layer = await readTrainConfigFile(path);
          // What the reader returns passes the schema again (paths made absolute are still strings).
          expect(() => checkConfigLayer(layer, name)).not.toThrow();
          tally.accept();
        } catch (error) {
          if (!(error instanceof CliError)) throw error;
          expect(error.exitCode).toBe(2);
          expect(error.message.startsWith(name)).toBe(true);
          expect(error.message).not.toContain("\n");
          // A syntax error names the line and column, a schema error the field (or the whole document).
          expect(error.message).toMatch(
            new RegExp(
              `^${name.replace(".", "\\.")}(:\\d+:\\d+: not valid (JSON|YAML)|: (field '|expected a mapping))`,
            ),
          );
          tally.reject(/not valid/.test(error.message) ? "syntax" : "schema");
        }
      }),
      fuzzParameters(2170, fuzzRuns(400, 8_000)),
    );
    tally.record();
    expect(tally.accepted).toBeGreaterThan(0);
  });
});

describe("config files the fuzzing found", () => {
  const cases: [string, string, string][] = [
    // Was a raw ReferenceError from the YAML library.
    ["an alias to no anchor", "training: *b\n", "found.yaml:1:11: not valid YAML: Unresolved alias"],
    [
      "an alias bomb",
      `a: &a [1, 2]\nb: &b [${"*a, ".repeat(20)}*a]\nc: &c [${"*b, ".repeat(20)}*b]\n`,
      "found.yaml:2:8: not valid YAML: Excessive alias count",
    ],
    // Was a message listing every method of a Buffer as an unknown field.
    [
      "a !!binary value",
      "training:\n  zeta: !!binary aGVsbG8=\n",
      "found.yaml: field 'training.zeta': expected a string, number, boolean, list or mapping, got Buffer",
    ],
    // Had no line: this V8 message names no position.
    ["a bare word in JSON", '{\n  "training": {"zeta": tru}\n}\n', "found.json:2:27: not valid JSON"],
    // Was "not valid JSON: Unexpected token".
    ["a byte-order mark", '\uFEFF{"training": {"zeta": 2}}', ""],
  ];
  for (const [what, text, message] of cases) {
    it(`${message === "" ? "reads" : "refuses"} ${what}`, async () => {
      const path = join(
        folder,
        message.startsWith("found.json") || text.startsWith("\uFEFF") ? "found.json" : "found.yaml",
      );
      await writeFile(path, text);
      if (message === "") {
        expect((await readTrainConfigFile(path)).training?.zeta).toBe(2);
        return;
      }
      const error = await readTrainConfigFile(path).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).message.startsWith(message)).toBe(true);
    });
  }
});
