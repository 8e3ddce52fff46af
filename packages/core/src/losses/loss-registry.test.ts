import { describeEachBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { expect, it } from "vitest";
import { lossNames } from "./loss-definitions.js";
import { getLoss, registeredLossNames, registerLoss } from "./loss-registry.js";

describeEachBackend(
  "loss registry",
  () => {
    it("knows every built-in loss, config style", async () => {
      expect(registeredLossNames().slice(0, lossNames.length)).toEqual([...lossNames]);
      const config = { loss: "pqm", zeta: 2 };
      const loss = getLoss(config.loss, { zeta: config.zeta });
      // zeta = 2, r = [0, 0], l = [1, 0]: term_0 = ln(1 + e^2 + eps), c1 = ln(1 + 1 + e^2 + eps) - 0
      const expected = (Math.log(1 + Math.exp(2) + 1e-5) + Math.log(2 + Math.exp(2) + 1e-5)) / 2;
      const value = loss(tf.tensor2d([[0, 0]]), tf.tensor2d([[1, 0]]));
      expect((await value.data())[0]).toBeCloseTo(expected, 5);
      value.dispose();
    });

    it("registers a user loss with the same input checks, once", async () => {
      const name = `sum-of-squares-${tf.getBackend()}`;
      registerLoss(name, () => (scores) => tf.sum(tf.square(scores)), { labelKind: "hard" });
      expect(registeredLossNames()).toContain(name);
      const loss = getLoss(name);
      const value = loss(tf.tensor2d([[1, 2]]), tf.tensor2d([[1, 0]]));
      expect((await value.data())[0]).toBe(5);
      value.dispose();
      expect(() => tf.tidy(() => loss(tf.tensor2d([[1, 2]]), tf.tensor2d([[1, 0.5]])))).toThrow(
        `labels[0][1] = 0.5: loss '${name}' takes hard labels`,
      );
      expect(() => registerLoss(name, () => (scores) => tf.sum(scores))).toThrow("already registered");
      expect(() => registerLoss("pqm", () => (scores) => tf.sum(scores))).toThrow(
        "loss = 'pqm' is already registered",
      );
      expect(() => registerLoss("", () => (scores) => tf.sum(scores))).toThrow("name is empty");
    });
  },
  { webgpu: true },
);
