import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  ball,
  fabTargeted,
  fabTargetedWithForward,
  projectOntoHyperplaneInBox,
} from "../../lib/attacks/mod.ts";
import { imagesTensor, labelsTensor } from "../../lib/data/mod.ts";
import { createPrng } from "../../lib/random/prng.ts";
import { forwardOf, maxAbsDiff, mean, setupBackend, smallTrainedModel } from "../_helpers.ts";

await setupBackend();
const { classifier, test } = await smallTrainedModel();
const x = imagesTensor(test, 0, 40);
const y = labelsTensor(test, 0, 40);

Deno.test("projectOntoHyperplaneInBox() finds the minimal-norm point of the hyperplane inside the box", () => {
  const prng = createPrng(4);
  for (const norm of ["linf", "l2"] as const) {
    for (let trial = 0; trial < 20; trial++) {
      const n = 12;
      const p = Float32Array.from({ length: n }, () => prng.next());
      const w = Float32Array.from({ length: n }, () => 2 * prng.next() - 1);
      const c = (prng.next() - 0.5) * 1.5;
      const d = new Float32Array(n);
      projectOntoHyperplaneInBox(p, w, c, 0, 1, norm, d);
      let dot = 0;
      for (let i = 0; i < n; i++) {
        dot += w[i] * d[i];
        assert(p[i] + d[i] >= -1e-6 && p[i] + d[i] <= 1 + 1e-6, "inside the box");
      }
      assertAlmostEquals(dot, c, 1e-4, `${norm}: on the hyperplane`);
      // No random point of the hyperplane in the box is closer.
      const size = norm === "linf" ? Math.max(...d.map(Math.abs)) : Math.hypot(...d);
      for (let k = 0; k < 200; k++) {
        const e = Float32Array.from(d, (v) => v + (prng.next() - 0.5) * 0.2);
        const j = Math.floor(prng.next() * n);
        let rest = 0;
        for (let i = 0; i < n; i++) if (i !== j) rest += w[i] * e[i];
        e[j] = (c - rest) / w[j];
        if (!e.every((v, i) => p[i] + v >= 0 && p[i] + v <= 1)) continue;
        const other = norm === "linf" ? Math.max(...e.map(Math.abs)) : Math.hypot(...e);
        assert(other >= size - 1e-5, `${norm}: a closer point ${other} < ${size}`);
      }
    }
  }
  // Unreachable in the box: every pixel moves as far as the box allows, in the direction of w.
  const d = new Float32Array(2);
  projectOntoHyperplaneInBox(Float32Array.of(0.5, 0.5), Float32Array.of(1, -1), 5, 0, 1, "linf", d);
  assertEquals(Array.from(d), [0.5, -0.5]);
});

Deno.test("fabTargeted() with eps = 0 returns the input unchanged", () => {
  for (const norm of ["linf", "l2"] as const) {
    const r = fabTargeted(classifier, x, y, { eps: 0, norm });
    assertEquals(maxAbsDiff(r.adversarial, x), 0, norm);
    r.adversarial.dispose();
  }
});

Deno.test("fabTargeted() keeps every image in its ball and in [clipMin, clipMax], and breaks the model", () => {
  const xr = tf.tidy(() => tf.add(tf.mul(x, 0.9), 0.05) as tf.Tensor4D);
  for (const [norm, eps] of [["linf", 0.1], ["l2", 1.5]] as const) {
    const r = fabTargeted(classifier, xr, y, {
      eps,
      norm,
      steps: 20,
      targetClasses: 3,
      clipMin: 0.05,
      clipMax: 0.95,
      seed: 1,
    });
    const dist = ball(norm, eps).distance(r.adversarial, xr).dataSync();
    assert(Math.max(...dist) <= eps * (1 + 1e-5), `${norm}: ${Math.max(...dist)}`);
    const [lo, hi] = tf.tidy(
      () => [tf.min(r.adversarial).dataSync()[0], tf.max(r.adversarial).dataSync()[0]],
    );
    assert(lo >= 0.05 - 1e-6 && hi <= 0.95 + 1e-6, `${norm}: range [${lo}, ${hi}]`);
    assert(mean(r.success) > 0.5, `${norm}: success ${mean(r.success)}`);
    assertEquals(r.gradientSteps, 60);
    r.adversarial.dispose();
  }
  xr.dispose();
});

Deno.test("fabTargeted() gives the same result for the same seed and leaks no tensors", () => {
  const before = tf.memory().numTensors;
  const opts = { eps: 0.05, steps: 5, targetClasses: 2, restarts: 2, seed: 3 };
  const a = fabTargeted(classifier, x, y, opts);
  const b = fabTargeted(classifier, x, y, opts);
  assertEquals(maxAbsDiff(a.adversarial, b.adversarial), 0);
  tf.dispose([a.adversarial, b.adversarial]);
  assertThrows(
    () => fabTargeted(classifier, x, y, { eps: 0.1, targetClasses: 10 }),
    RangeError,
    "targetClasses",
  );
  assertThrows(() => fabTargeted(classifier, x, y, { eps: 0.1, eta: 0.5 }), RangeError, "eta");
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("fabTargeted() succeeds on at least as many examples at a larger eps", () => {
  const small = fabTargeted(classifier, x, y, { eps: 0.04, steps: 30, targetClasses: 3 });
  const large = fabTargeted(classifier, x, y, { eps: 0.12, steps: 30, targetClasses: 3 });
  assert(mean(large.success) >= mean(small.success), `${mean(large.success)} < ${mean(small.success)}`);
  assert(mean(large.success) > 0.8, `success at eps 0.12: ${mean(large.success)}`);
  tf.dispose([small.adversarial, large.adversarial]);
});

Deno.test("fabTargeted() refuses bad labels and pixels, and returns an empty result for an empty batch", () => {
  const before = tf.memory().numTensors;
  const bad = tf.tensor1d(Array.from({ length: 40 }, (_, i) => (i === 1 ? 0.5 : 0)), "float32");
  const big = tf.tidy(() => tf.mul(x, 255) as tf.Tensor4D);
  assertThrows(() => fabTargeted(classifier, x, bad, { eps: 0.1 }), RangeError, "labels[1]");
  assertThrows(() => fabTargeted(classifier, big, y, { eps: 0.1 }), RangeError, "pixel range");
  const empty = tf.zeros([0, 28, 28, 1]) as tf.Tensor4D, none = tf.tensor1d([], "int32");
  const r = fabTargeted(classifier, empty, none, { eps: 0.1 });
  assertEquals(r.success.length, 0);
  tf.dispose([r.adversarial, empty, none, bad, big]);
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("fabTargetedWithForward() with the model's own logits is fabTargeted(), bit for bit, and leaks no tensors", async () => {
  for (const norm of ["linf", "l2"] as const) {
    const opts = {
      eps: norm === "linf" ? 0.15 : 1.5,
      norm,
      steps: 15,
      targetClasses: 3,
      restarts: 2,
      seed: 5,
    };
    const before = tf.memory().numTensors;
    const a = fabTargeted(classifier, x, y, opts);
    const b = await fabTargetedWithForward(classifier, forwardOf(classifier), x, y, opts);
    assertEquals(maxAbsDiff(a.adversarial, b.adversarial), 0, norm);
    assertEquals(Array.from(a.success), Array.from(b.success), norm);
    assert(mean(a.success) > 0, `${norm}: FAB-T breaks some points`);
    tf.dispose([a.adversarial, b.adversarial]);
    assertEquals(tf.memory().numTensors, before, norm);
  }
});
