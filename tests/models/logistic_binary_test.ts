import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertLess, assertThrows } from "@std/assert";
import { crossEntropy } from "../../lib/attacks/loss.ts";
import { fgsm } from "../../lib/attacks/fgsm.ts";
import { asClassifier } from "../../lib/models/classifier.ts";
import {
  binaryLogistic,
  binaryWeights,
  closedFormAdversarialLoss,
  logisticFgsm,
  logisticLoss,
  setBinaryWeights,
  signedLabels,
  softplus,
} from "../../lib/models/logistic_binary.ts";
import { createPrng } from "../../lib/random/prng.ts";
import { setupBackend } from "../_helpers.ts";

await setupBackend();

/** A random binary problem: weights, bias, inputs in [0, 1] and labels in {-1, +1}, in float64. */
function randomProblem(seed: number, n: number, d: number) {
  const prng = createPrng(seed);
  const u = () => prng.next();
  const scale = 0.05 + 2 * u();
  const w = Float64Array.from({ length: d }, () => scale * (2 * u() - 1));
  const b = 2 * u() - 1;
  const x = Float64Array.from({ length: n * d }, () => u());
  const y = Int8Array.from({ length: n }, () => (u() < 0.5 ? -1 : 1));
  const eps = 0.5 * u();
  return { w, b, x, y, eps };
}

Deno.test("softplus() is log(1 + e^t) without overflow", () => {
  for (const t of [-50, -3, -1e-9, 0, 1e-9, 2.5, 40]) {
    assertAlmostEquals(softplus(t), Math.log1p(Math.exp(t)), 1e-12);
  }
  assertEquals(softplus(1000), 1000);
  assert(softplus(-1000) >= 0 && softplus(-1000) < 1e-300);
});

Deno.test("closedFormAdversarialLoss() equals the loss at the FGSM point to 1e-6 for random w, x, y, eps (float64)", () => {
  let worst = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const { w, b, x, y, eps } = randomProblem(seed, 16, 1 + (seed * 37) % 200);
    const closed = closedFormAdversarialLoss(w, b, x, y, eps);
    const attacked = logisticLoss(w, b, logisticFgsm(w, b, x, y, eps), y);
    for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(closed[i] - attacked[i]));
  }
  assertLess(worst, 1e-6);
});

Deno.test("logisticFgsm() finds the worst point of the l-inf ball: no random point of it has a higher loss", () => {
  const { w, b, x, y, eps } = randomProblem(7, 8, 50);
  const closed = closedFormAdversarialLoss(w, b, x, y, eps);
  const prng = createPrng(8);
  for (let trial = 0; trial < 200; trial++) {
    // Random corners and interior points of the ball.
    const xr = Float64Array.from(
      x,
      (v) => v + eps * (trial % 2 ? (prng.next() < 0.5 ? -1 : 1) : 2 * prng.next() - 1),
    );
    const loss = logisticLoss(w, b, xr, y);
    for (let i = 0; i < y.length; i++) assert(loss[i] <= closed[i] + 1e-12, `trial ${trial}, example ${i}`);
  }
  // And the clean loss is below the adversarial one whenever w is not zero.
  const clean = logisticLoss(w, b, x, y);
  for (let i = 0; i < y.length; i++) assertLess(clean[i], closed[i]);
});

Deno.test("binaryLogistic() gives softmax cross-entropy equal to softplus(-y (w'x + b))", () => {
  const { w, b, x, y } = randomProblem(3, 12, 28 * 28);
  const model = binaryLogistic([28, 28, 1]);
  setBinaryWeights(model, w, b);
  const labels = Int32Array.from(y, (v) => (v === 1 ? 1 : 0));
  const ce = tf.tidy(() =>
    crossEntropy(
      asClassifier(model)(tf.tensor4d(Float32Array.from(x), [12, 28, 28, 1])),
      tf.tensor1d(labels, "int32"),
    )
      .arraySync()
  );
  const wf = Float32Array.from(w);
  const expected = logisticLoss(wf, Math.fround(b), Float32Array.from(x), signedLabels(labels));
  ce.forEach((v, i) => assertAlmostEquals(v, expected[i], 1e-4));
  const back = binaryWeights(model);
  assertEquals(Array.from(back.w), Array.from(wf));
  assertEquals(back.b, Math.fround(b));
  model.dispose();
});

Deno.test("the library's FGSM on binaryLogistic() with an unbounded pixel range reaches the closed form within float32 error", () => {
  const n = 32, d = 28 * 28;
  const model = binaryLogistic([28, 28, 1]);
  const classifier = asClassifier(model);
  const u = 2 ** -24; // float32 unit roundoff
  for (const seed of [11, 12, 13]) {
    const { w, b, x, y, eps } = randomProblem(seed, n, d);
    setBinaryWeights(model, w, b);
    const wf = Float32Array.from(w), bf = Math.fround(b), xf = Float32Array.from(x);
    const labels = Int32Array.from(y, (v) => (v === 1 ? 1 : 0));
    const [xt, yt] = [tf.tensor4d(xf, [n, 28, 28, 1]), tf.tensor1d(labels, "int32")];
    const r = fgsm(classifier, xt, yt, { eps, clipMin: -Infinity, clipMax: Infinity });
    const attacked = tf.tidy(() => crossEntropy(classifier(r.adversarial), yt).arraySync());
    const closed = closedFormAdversarialLoss(wf, bf, xf, y, Math.fround(eps));
    for (let i = 0; i < n; i++) {
      // Float32 error bound: the score sums d products of size up to |w_j| (|x_j| + eps); each rounding
      // costs at most u times the running sum, and the softplus is 1-Lipschitz.
      let mass = Math.abs(bf);
      for (let j = 0; j < d; j++) mass += Math.abs(wf[j]) * (Math.abs(xf[i * d + j]) + eps);
      const bound = 2 * d * u * mass + 8 * u * (1 + closed[i]);
      assert(
        Math.abs(attacked[i] - closed[i]) <= bound,
        `seed ${seed}, example ${i}: attacked ${attacked[i]} vs closed form ${closed[i]} (bound ${bound})`,
      );
    }
    tf.dispose([xt, yt, r.adversarial]);
  }
  model.dispose();
});

Deno.test("clipping the FGSM point to [0, 1] makes the closed form only an upper bound", () => {
  const n = 32;
  const { w, b, x, y, eps } = randomProblem(21, n, 28 * 28);
  const model = binaryLogistic([28, 28, 1]);
  setBinaryWeights(model, w, b);
  const labels = Int32Array.from(y, (v) => (v === 1 ? 1 : 0));
  const xt = tf.tensor4d(Float32Array.from(x), [n, 28, 28, 1]), yt = tf.tensor1d(labels, "int32");
  const r = fgsm(asClassifier(model), xt, yt, { eps });
  const clipped = tf.tidy(() => crossEntropy(asClassifier(model)(r.adversarial), yt).arraySync());
  const closed = closedFormAdversarialLoss(w, b, x, y, eps);
  let below = 0;
  for (let i = 0; i < n; i++) {
    assert(clipped[i] <= closed[i] + 1e-3);
    if (clipped[i] < closed[i] - 1e-2) below++;
  }
  assertEquals(below, n, "every example of uniform inputs loses some of its perturbation to clipping");
  tf.dispose([xt, yt, r.adversarial]);
  model.dispose();
});

Deno.test("closedFormAdversarialLoss() rejects inputs of the wrong size", () => {
  assertThrows(() => closedFormAdversarialLoss([1, 2], 0, [1, 2, 3], [1], 0.1), RangeError, "x must hold");
  assertThrows(() => setBinaryWeights(binaryLogistic([2, 2, 1]), [1, 2], 0), RangeError, "expected 4");
});
