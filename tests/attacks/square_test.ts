import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertThrows } from "@std/assert";
import { ball, fgsm, pgd, square, squareSchedule } from "../../lib/attacks/mod.ts";
import { imagesTensor, labelsTensor } from "../../lib/data/mod.ts";
import { quantize } from "../../lib/defenses/mod.ts";
import type { Classifier } from "../../lib/models/mod.ts";
import { maxAbsDiff, mean, setupBackend, smallTrainedModel } from "../_helpers.ts";

await setupBackend();
const { classifier, test } = await smallTrainedModel();
const x = imagesTensor(test, 0, 60);
const y = labelsTensor(test, 0, 60);

Deno.test("squareSchedule() halves p at the authors' query counts, rescaled to the budget", () => {
  assertEquals(squareSchedule(0.8, 5, 10000), 0.8);
  assertEquals(squareSchedule(0.8, 11, 10000), 0.4);
  assertEquals(squareSchedule(0.8, 100, 10000), 0.2);
  assertEquals(squareSchedule(0.8, 9000, 10000), 0.8 / 512);
  assertEquals(squareSchedule(0.8, 2500, 5000), 0.8 / 128);
  assertEquals(squareSchedule(0.8, 150, 5000), 0.8 / 8);
});

Deno.test("square() with eps = 0 returns the input unchanged", () => {
  for (const norm of ["linf", "l2"] as const) {
    const r = square(classifier, x, y, { eps: 0, norm, queries: 10 });
    assertEquals(maxAbsDiff(r.adversarial, x), 0, norm);
    r.adversarial.dispose();
  }
});

Deno.test("square() keeps every image in its ball and in [clipMin, clipMax], and breaks the model", () => {
  const xr = tf.tidy(() => tf.add(tf.mul(x, 0.9), 0.05) as tf.Tensor4D);
  for (const [norm, eps] of [["linf", 0.2], ["l2", 2]] as const) {
    const r = square(classifier, xr, y, { eps, norm, queries: 300, clipMin: 0.05, clipMax: 0.95, seed: 1 });
    const dist = ball(norm, eps).distance(r.adversarial, xr).dataSync();
    assert(Math.max(...dist) <= eps * (1 + 1e-5), `${norm}: ${Math.max(...dist)}`);
    const [lo, hi] = tf.tidy(
      () => [tf.min(r.adversarial).dataSync()[0], tf.max(r.adversarial).dataSync()[0]],
    );
    assert(lo >= 0.05 - 1e-7 && hi <= 0.95 + 1e-7, `${norm}: range [${lo}, ${hi}]`);
    assert(mean(r.success) > 0.5, `${norm}: success ${mean(r.success)}`);
    assertEquals(r.gradientSteps, 0);
    r.adversarial.dispose();
  }
  xr.dispose();
});

Deno.test("square() gives the same result for the same seed and leaks no tensors", () => {
  const before = tf.memory().numTensors;
  for (const norm of ["linf", "l2"] as const) {
    const a = square(classifier, x, y, { eps: norm === "linf" ? 0.1 : 1, norm, queries: 50, seed: 9 });
    const b = square(classifier, x, y, { eps: norm === "linf" ? 0.1 : 1, norm, queries: 50, seed: 9 });
    assertEquals(maxAbsDiff(a.adversarial, b.adversarial), 0, norm);
    tf.dispose([a.adversarial, b.adversarial]);
  }
  assertThrows(() => square(classifier, x, y, { eps: 0.1, queries: 0 }), RangeError, "queries");
  assertThrows(() => square(classifier, x, y, { eps: 0.1, pInit: 2 }), RangeError, "pInit");
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("square() uses no gradients: it runs on a model that cannot be differentiated", () => {
  // A model whose gradient throws: only forward passes are allowed.
  const noGrad: Classifier = (images) =>
    tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
      value: classifier(args[0] as tf.Tensor4D),
      gradFunc: () => {
        throw new Error("square() asked for a gradient");
      },
    }))(images) as tf.Tensor2D;
  const r = square(noGrad, x, y, { eps: 0.2, queries: 100, seed: 2 });
  assert(mean(r.success) > 0.3, `success ${mean(r.success)}`);
  r.adversarial.dispose();
});

Deno.test("square() breaks an input quantiser that FGSM and PGD from the data point cannot move", () => {
  // Rounding to 8 levels keeps the predictions but makes the input gradient exactly zero.
  const quantised: Classifier = (images) => tf.tidy(() => classifier(quantize(images, 8)));
  const eps = 0.3;
  const clean = tf.tidy(() =>
    tf.mean(tf.cast(tf.equal(tf.argMax(quantised(x), 1), y), "float32")).dataSync()[0]
  );
  const f = fgsm(quantised, x, y, { eps });
  const p = pgd(quantised, x, y, { eps, steps: 20, randomStart: false });
  const s = square(quantised, x, y, { eps, queries: 1000, seed: 3 });
  const [accF, accP, accS] = [f, p, s].map((r) => 1 - mean(r.success));
  assert(clean > 0.85, `the quantised model still classifies: ${clean}`);
  assert(accF > clean - 0.05 && accP > clean - 0.05, `FGSM ${accF} and PGD ${accP} should not move`);
  assert(accS < accP - 0.5, `Square leaves ${accS}, PGD ${accP}`);
  tf.dispose([f.adversarial, p.adversarial, s.adversarial]);
});

Deno.test("square() refuses bad labels and pixels, and returns an empty result for an empty batch", () => {
  const before = tf.memory().numTensors;
  const bad = tf.tensor1d(Array.from({ length: 60 }, (_, i) => (i === 2 ? -1 : 0)), "int32");
  const big = tf.tidy(() => tf.mul(x, 255) as tf.Tensor4D);
  assertThrows(() => square(classifier, x, bad, { eps: 0.1 }), RangeError, "labels[2]");
  assertThrows(() => square(classifier, big, y, { eps: 0.1 }), RangeError, "pixel range");
  const empty = tf.zeros([0, 28, 28, 1]) as tf.Tensor4D, none = tf.tensor1d([], "int32");
  const r = square(classifier, empty, none, { eps: 0.1 });
  assertEquals(r.success.length, 0);
  tf.dispose([r.adversarial, empty, none, bad, big]);
  assertEquals(tf.memory().numTensors, before);
});
