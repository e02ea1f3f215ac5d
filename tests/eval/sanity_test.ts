import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertThrows } from "@std/assert";
import { stratifiedSubset } from "../../lib/data/mod.ts";
import { checkGradientMasking, judgeMasking, type MaskingMeasurements } from "../../lib/eval/mod.ts";
import type { Classifier } from "../../lib/models/mod.ts";
import { smallTrainedModel } from "../_helpers.ts";

const { classifier, test } = await smallTrainedModel();
const sample = stratifiedSubset(test, 150, { seed: 4 });
const options = { eps: 0.3, epsList: [0.1, 0.2, 0.3], pgdSteps: 10, seed: 1 };

const healthy: MaskingMeasurements = {
  clean: 0.98,
  curve: [{ eps: 0.1, fgsm: 0.8, pgd: 0.7 }, { eps: 0.3, fgsm: 0.3, pgd: 0.1 }],
  unboundedEps: 1,
  unbounded: 0,
};

function failing(m: MaskingMeasurements): string[] {
  return judgeMasking(m).checks.filter((c) => !c.passed).map((c) => c.id);
}

Deno.test("judgeMasking() passes healthy measurements and flags each symptom with its own check", () => {
  const ok = judgeMasking(healthy);
  assertEquals(ok.flagged, false);
  assertEquals(ok.checks.map((c) => c.passed), [true, true, true]);
  assertEquals(
    failing({ ...healthy, curve: [{ eps: 0.1, fgsm: 0.4, pgd: 0.3 }, { eps: 0.3, fgsm: 0.6, pgd: 0.2 }] }),
    ["falls-with-eps"],
  );
  assertEquals(
    failing({
      ...healthy,
      curve: [{ eps: 0.1, fgsm: 0.97, pgd: 0.97 }, { eps: 0.3, fgsm: 0.96, pgd: 0.96 }],
    }),
    ["falls-with-eps"],
  );
  assertEquals(failing({ ...healthy, curve: [{ eps: 0.3, fgsm: 0.3, pgd: 0.5 }] }), ["pgd-not-weaker"]);
  assertEquals(failing({ ...healthy, unbounded: 0.1 }), ["unbounded-reaches-zero"]);
  assertThrows(() => judgeMasking({ ...healthy, curve: [] }), RangeError, "at least one");
});

Deno.test("judgeMasking() sorts the curve by eps and honours its tolerances", () => {
  const reversed = { ...healthy, curve: [...healthy.curve].reverse() };
  assertEquals(judgeMasking(reversed).flagged, false);
  const slightRise = {
    ...healthy,
    curve: [{ eps: 0.1, fgsm: 0.5, pgd: 0.4 }, { eps: 0.3, fgsm: 0.51, pgd: 0.4 }],
  };
  assertEquals(judgeMasking(slightRise).flagged, false);
  assertEquals(judgeMasking(slightRise, { tolerance: 0 }).flagged, true);
  assertEquals(judgeMasking({ ...healthy, unbounded: 0.05 }, { unboundedMax: 0.1 }).flagged, false);
});

Deno.test("checkGradientMasking() does not flag a normally trained model", async () => {
  const report = await checkGradientMasking(classifier, sample, options);
  assertEquals(report.flagged, false, report.checks.map((c) => c.detail).join("\n"));
  assertEquals(report.measurements.curve.map((p) => p.eps), [0.1, 0.2, 0.3]);
  assertEquals(report.measurements.unboundedEps, 1);
});

Deno.test("checkGradientMasking() flags a model whose quantised input has a zero gradient", async () => {
  // Rounding pixels to {0, 1} barely changes the prediction, but tf.round has a zero gradient: FGSM and PGD
  // cannot move, and even an unbounded attack only gets its random start.
  const quantised: Classifier = (x) => tf.tidy(() => classifier(tf.round(x) as tf.Tensor4D));
  const report = await checkGradientMasking(quantised, sample, options);
  assert(report.flagged);
  const failed = report.checks.filter((c) => !c.passed).map((c) => c.id);
  assert(failed.includes("falls-with-eps"), failed.join(", "));
  assert(failed.includes("unbounded-reaches-zero"), failed.join(", "));
  assert(report.measurements.clean > 0.8, `the masked model still classifies: ${report.measurements.clean}`);
});

Deno.test("checkGradientMasking() flags a model with a sharp logit scale (saturated softmax)", async () => {
  // Logits times 1e4: the same predictions, but the softmax saturates and the cross-entropy gradient of every
  // confidently classified example rounds to exactly zero in float32.
  const sharp: Classifier = (x) => tf.tidy(() => tf.mul(classifier(x), 1e4) as tf.Tensor2D);
  const report = await checkGradientMasking(sharp, sample, options);
  assert(report.flagged);
  assert(!report.checks.find((c) => c.id === "unbounded-reaches-zero")!.passed);
});

Deno.test("checkGradientMasking() does not leak tensors", async () => {
  const small = stratifiedSubset(sample, 20, { seed: 1 });
  await checkGradientMasking(classifier, small, { ...options, pgdSteps: 2 });
  const before = tf.memory().numTensors;
  await checkGradientMasking(classifier, small, { ...options, pgdSteps: 2 });
  assertEquals(tf.memory().numTensors, before);
});
