import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useBackend } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  goldenDecoderModels,
  goldenDecoderPath,
  readGoldenExpected,
} from "../backbone/golden-decoders.test-helper.js";
import { loadPretrained } from "../backbone/load-pretrained.js";
import { decoderOnnxBytes, exportBackboneToOnnx } from "./export-onnx.js";
import { OnnxDecoderSession } from "./onnx-decoder-session.js";

let scratch = "";

beforeAll(async () => {
  await useBackend("cpu");
  scratch = mkdtempSync(join(tmpdir(), "pqm-onnx-golden-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("exported golden decoders on ONNX Runtime", () => {
  for (const model of goldenDecoderModels) {
    for (const paddingCase of ["right_padding", "left_padding"] as const) {
      it(`${model}, ${paddingCase}: hidden states, logits and value head within the README's tolerances`, async () => {
        const golden = readGoldenExpected(model);
        const backbone = await loadPretrained(goldenDecoderPath(model), { mode: "frozen" });
        const path = join(scratch, `${model}-${paddingCase}.onnx`);
        const exported = await exportBackboneToOnnx(backbone, path, { logits: true });
        expect(exported.outputs).toEqual(["hidden_states", "logits"]);
        // The value head from expected.json, exported into the same graph (values at every position).
        const head = {
          weight: Float32Array.from(golden.value_head.weight),
          bias: golden.value_head.bias,
        };
        const withHead = decoderOnnxBytes(backbone, head, { logits: false }).bytes;
        backbone.dispose();

        const data = golden.cases[paddingCase];
        const batch = data.input_ids.length;
        const sequence = data.input_ids[0]!.length;
        const tokens = {
          batch,
          sequence,
          inputIds: data.input_ids.flat(),
          attentionMask: data.attention_mask.flat(),
        };
        const session = await OnnxDecoderSession.open(path, { threads: 1 });
        const { hidden_states: hidden, logits } = await session.run(tokens, ["hidden_states", "logits"]);
        await session.release();
        const hiddenSize = hidden.dims[2]!;
        const vocab = logits.dims[2]!;
        expect(hidden.dims).toEqual([batch, sequence, hiddenSize]);
        let hiddenWorst = 0;
        let logitWorst = 0;
        let compared = 0;
        for (let row = 0; row < batch; row++) {
          for (let position = 0; position < sequence; position++) {
            if (data.attention_mask[row]![position] === 0) continue;
            const wantHidden = data.hidden_states[row]![position]!;
            const wantLogits = data.logits[row]![position]!;
            const base = row * sequence + position;
            for (let h = 0; h < hiddenSize; h++) {
              hiddenWorst = Math.max(
                hiddenWorst,
                Math.abs(hidden.data[base * hiddenSize + h]! - wantHidden[h]!),
              );
            }
            for (let v = 0; v < vocab; v++) {
              const want = wantLogits[v]!;
              logitWorst = Math.max(
                logitWorst,
                Math.abs(logits.data[base * vocab + v]! - want) / Math.max(1, Math.abs(want)),
              );
            }
            compared++;
          }
        }
        expect(compared).toBe(golden.sequences.reduce((sum, tokens) => sum + tokens.length, 0));
        expect(hiddenWorst).toBeLessThanOrEqual(1e-4);
        expect(logitWorst).toBeLessThanOrEqual(1e-3);

        const headSession = await OnnxDecoderSession.open(withHead);
        const { values } = await headSession.run(tokens, ["values"]);
        await headSession.release();
        expect(values.dims).toEqual([batch, sequence]);
        data.last_real_index.forEach((last, row) => {
          const want = golden.value_head.values[paddingCase]![row]!;
          expect(Math.abs(values.data[row * sequence + last]! - want)).toBeLessThanOrEqual(
            1e-4 * Math.max(1, Math.abs(want)),
          );
        });
      });
    }
  }
});
