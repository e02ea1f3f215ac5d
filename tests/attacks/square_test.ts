import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  ball,
  fgsm,
  marginsOf,
  pgd,
  square,
  squareSchedule,
  squareWithForward,
} from "../../lib/attacks/mod.ts";
import { imagesTensor, labelsTensor } from "../../lib/data/mod.ts";
import { quantize } from "../../lib/defenses/mod.ts";
import type { Classifier } from "../../lib/models/mod.ts";
import { ortForward, withOrtForward } from "../../lib/onnx/mod.ts";
import { forwardOf, maxAbsDiff, mean, setupBackend, smallTrainedModel } from "../_helpers.ts";

await setupBackend();
const { model, classifier, test } = await smallTrainedModel();
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

const tfjsForward = forwardOf(classifier);

Deno.test("marginsOf() gives z_y - max_{j != y} z_j per row", () => {
  const logits = Float32Array.from([1, 5, 2, -1, -3, -2]);
  assertEquals(Array.from(marginsOf(logits, Int32Array.from([1, 2]), 2)), [3, -1]);
});

Deno.test("squareWithForward() with the model's own logits is square(), bit for bit, and leaks no tensors", async () => {
  for (const norm of ["linf", "l2"] as const) {
    const opts = { eps: norm === "linf" ? 0.1 : 1, norm, queries: 40, seed: 4 };
    const before = tf.memory().numTensors;
    const a = square(classifier, x, y, opts);
    const b = await squareWithForward(classifier, tfjsForward, x, y, opts);
    assertEquals(maxAbsDiff(a.adversarial, b.adversarial), 0, norm);
    assertEquals(Array.from(a.success), Array.from(b.success), norm);
    tf.dispose([a.adversarial, b.adversarial]);
    assertEquals(tf.memory().numTensors, before, norm);
  }
  await assertRejects(
    () => squareWithForward(classifier, tfjsForward, x, y, { eps: 0.1, queries: 0 }),
    RangeError,
  );
});

Deno.test("squareWithForward() on onnxruntime's forward pass stays in the ball and breaks the model as square() does", async () => {
  const ort = await ortForward(model);
  if (typeof ort === "string") throw new Error(ort);
  try {
    const eps = 0.2;
    const a = square(classifier, x, y, { eps, queries: 150, seed: 6 });
    const b = await squareWithForward(classifier, ort.forward, x, y, { eps, queries: 150, seed: 6 });
    const dist = tf.tidy(() => ball("linf", eps).distance(b.adversarial, x).dataSync());
    assert(dist.every((d) => d <= eps + 1e-6), `largest distance ${Math.max(...dist)}`);
    const range = tf.tidy(() => [tf.min(b.adversarial).dataSync()[0], tf.max(b.adversarial).dataSync()[0]]);
    assert(range[0] >= 0 && range[1] <= 1, `range ${range}`);
    // The two forward passes agree to float rounding, so the searches take (nearly) the same decisions.
    assert(Math.abs(mean(a.success) - mean(b.success)) <= 0.05, `${mean(a.success)} vs ${mean(b.success)}`);
    assert(mean(b.success) > 0.3, `success ${mean(b.success)}`);
    tf.dispose([a.adversarial, b.adversarial]);
  } finally {
    await ort.dispose();
  }
});

Deno.test("withOrtForward() hands over onnxruntime's logits of the model, and names what runs them", async () => {
  const images = Float32Array.from(x.dataSync().subarray(0, 5 * 784));
  const { name, fallback, diff } = await withOrtForward(model, async ({ forward, name, fallback }) => {
    const ort = await forward!(images, 5);
    const own = await forwardOf(classifier)(images, 5);
    return { name, fallback, diff: Math.max(...ort.map((v, i) => Math.abs(v - own[i]))) };
  });
  assert(name.startsWith("onnxruntime ("), name);
  assertEquals(fallback, undefined);
  assert(diff < 1e-4, `logits ${diff} apart`);
});
