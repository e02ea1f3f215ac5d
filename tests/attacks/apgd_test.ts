import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  apgd,
  apgdCheckpoints,
  apgdTargeted,
  ball,
  dlrLoss,
  fabTargeted,
  largestLogits,
  pgd,
  square,
  targetedDlrLoss,
} from "../../lib/attacks/mod.ts";
import { imagesTensor, labelsTensor } from "../../lib/data/mod.ts";
import type { Classifier } from "../../lib/models/mod.ts";
import { maxAbsDiff, mean, setupBackend, smallTrainedModel } from "../_helpers.ts";

await setupBackend();
const { classifier, test } = await smallTrainedModel();
const x = imagesTensor(test, 0, 100);
const y = labelsTensor(test, 0, 100);

Deno.test("apgdCheckpoints() follows p_0 = 0, p_1 = 0.22, p_(j+1) = p_j + max(p_j - p_(j-1) - 0.03, 0.06)", () => {
  assertEquals(apgdCheckpoints(100), [22, 41, 57, 70, 80, 87, 93, 99]);
  assertEquals(apgdCheckpoints(10), [3, 5, 6, 7, 8, 9, 10]);
  assertEquals(apgdCheckpoints(1), [1]);
});

Deno.test("dlrLoss() and targetedDlrLoss() match their formulas and ignore shifts and scales of the logits", () => {
  const logits = tf.tensor2d([[3, 1, 2, 0, -1], [0, 5, 4, 1, 2]]);
  const labels = tf.tensor1d([0, 2], "int32");
  const targets = tf.tensor1d([2, 1], "int32");
  // Row 0: z_y = 3, best other 2, z(1) - z(3) = 3 - 1. Row 1: z_y = 4, best other 5, z(1) - z(3) = 5 - 2.
  const d = dlrLoss(logits, labels).arraySync();
  assertAlmostEquals(d[0], -(3 - 2) / 2, 1e-6);
  assertAlmostEquals(d[1], (5 - 4) / 3, 1e-6);
  // Row 0: -(3 - 2) / (3 - (1 + 0) / 2); row 1: -(4 - 5) / (5 - (2 + 1) / 2).
  const t = targetedDlrLoss(logits, labels, targets).arraySync();
  assertAlmostEquals(t[0], -1 / 2.5, 1e-6);
  assertAlmostEquals(t[1], 1 / 3.5, 1e-6);
  const moved = tf.add(tf.mul(logits, 7), 3) as tf.Tensor2D;
  const d2 = dlrLoss(moved, labels).arraySync();
  assertAlmostEquals(d2[0], d[0], 1e-5);
  assertAlmostEquals(d2[1], d[1], 1e-5);
  const top = largestLogits(logits, 3).map((v) => v.arraySync());
  assertEquals(top, [[3, 5], [2, 4], [1, 2]]);
  assertThrows(() => dlrLoss(tf.zeros([2, 2]) as tf.Tensor2D, labels), RangeError, "K >= 3");
  tf.dispose([logits, labels, targets, moved]);
});

Deno.test("dlrLoss() is differentiable through the sorted logits", () => {
  const logits = tf.tensor2d([[3, 1, 2, 0]]);
  const g = tf.grad((z: tf.Tensor) => tf.sum(dlrLoss(z as tf.Tensor2D, tf.tensor1d([0], "int32"))))(logits);
  // loss = (z2 - z0) / (z0 - z1): d/dz0 = -1/2 - (z2 - z0)/(z0 - z1)^2 = -0.25, d/dz2 = 0.5, d/dz1 = -0.25.
  const v = g.arraySync() as number[][];
  assertAlmostEquals(v[0][0], -0.25, 1e-5);
  assertAlmostEquals(v[0][1], -0.25, 1e-5);
  assertAlmostEquals(v[0][2], 0.5, 1e-5);
  assertAlmostEquals(v[0][3], 0, 1e-6);
  tf.dispose([logits, g]);
});

Deno.test("apgd() and apgdTargeted() with eps = 0 return the input unchanged", () => {
  for (const norm of ["linf", "l2"] as const) {
    for (
      const r of [apgd(classifier, x, y, { eps: 0, norm }), apgdTargeted(classifier, x, y, { eps: 0, norm })]
    ) {
      assertEquals(maxAbsDiff(r.adversarial, x), 0, norm);
      r.adversarial.dispose();
    }
  }
});

Deno.test("apgd() keeps every image in its ball and in [clipMin, clipMax], for both losses and norms", () => {
  const cases = [
    { norm: "linf" as const, eps: 0.1, loss: "ce" as const },
    { norm: "linf" as const, eps: 0.1, loss: "dlr" as const },
    { norm: "l2" as const, eps: 1.5, loss: "ce" as const },
    { norm: "l2" as const, eps: 1.5, loss: "dlr" as const },
  ];
  // Images inside the narrower pixel range, as the attacks require.
  const xr = tf.tidy(() => tf.add(tf.mul(x, 0.9), 0.05) as tf.Tensor4D);
  for (const c of cases) {
    const r = apgd(classifier, xr, y, { ...c, steps: 10, clipMin: 0.05, clipMax: 0.95, seed: 1 });
    const dist = ball(c.norm, c.eps).distance(r.adversarial, xr).dataSync();
    assert(Math.max(...dist) <= c.eps * (1 + 1e-5), `${c.norm} ${c.loss}: ${Math.max(...dist)}`);
    const [lo, hi] = tf.tidy(
      () => [tf.min(r.adversarial).dataSync()[0], tf.max(r.adversarial).dataSync()[0]],
    );
    assert(lo >= 0.05 - 1e-7 && hi <= 0.95 + 1e-7, `${c.norm} ${c.loss}: range [${lo}, ${hi}]`);
    assert(mean(r.success) > 0.3, `${c.norm} ${c.loss}: success ${mean(r.success)}`);
    assertEquals(r.gradientSteps, 11);
    r.adversarial.dispose();
  }
  xr.dispose();
});

Deno.test("apgdTargeted() keeps every image in its ball and breaks the model", () => {
  for (const [norm, eps] of [["linf", 0.1], ["l2", 1.5]] as const) {
    const r = apgdTargeted(classifier, x, y, { eps, norm, steps: 10, targetClasses: 3, seed: 2 });
    const dist = ball(norm, eps).distance(r.adversarial, x).dataSync();
    assert(Math.max(...dist) <= eps * (1 + 1e-5), `${norm}: ${Math.max(...dist)}`);
    assert(mean(r.success) > 0.3, `${norm}: success ${mean(r.success)}`);
    assertEquals(r.gradientSteps, 33);
    r.adversarial.dispose();
  }
});

Deno.test("apgd() and apgdTargeted() give the same result for the same seed", () => {
  const a = apgd(classifier, x, y, { eps: 0.1, steps: 8, seed: 5, restarts: 2 });
  const b = apgd(classifier, x, y, { eps: 0.1, steps: 8, seed: 5, restarts: 2 });
  assertEquals(maxAbsDiff(a.adversarial, b.adversarial), 0);
  assertEquals(a.success, b.success);
  const c = apgdTargeted(classifier, x, y, { eps: 1, norm: "l2", steps: 5, seed: 5, targetClasses: 2 });
  const d = apgdTargeted(classifier, x, y, { eps: 1, norm: "l2", steps: 5, seed: 5, targetClasses: 2 });
  assertEquals(maxAbsDiff(c.adversarial, d.adversarial), 0);
  tf.dispose([a.adversarial, b.adversarial, c.adversarial, d.adversarial]);
});

Deno.test("apgd() and apgdTargeted() leak no tensors, on success and on error", () => {
  const before = tf.memory().numTensors;
  const r = apgd(classifier, x, y, { eps: 0.1, steps: 5, restarts: 2, eot: 2 });
  r.adversarial.dispose();
  const t = apgdTargeted(classifier, x, y, { eps: 0.1, steps: 5, targetClasses: 2, restarts: 2 });
  t.adversarial.dispose();
  assertThrows(() => apgd(classifier, x, y, { eps: 0.1, steps: 2.5 }), RangeError, "steps");
  assertThrows(
    () => apgd(classifier, x, y, { eps: 0.1, targeted: true, loss: "dlr" }),
    RangeError,
    "apgdTargeted",
  );
  assertThrows(
    () => apgdTargeted(classifier, x, y, { eps: 0.1, targetClasses: 10 }),
    RangeError,
    "targetClasses",
  );
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("apgd() and apgdTargeted() report the model's own predictions on the points they return", () => {
  // The search judges its result from its own forward passes (no extra one): they must be what the model says.
  const targets = tf.tidy(() => tf.mod(tf.add(y, 3), 10) as tf.Tensor1D);
  const runs = [
    { r: apgd(classifier, x, y, { eps: 0.08, steps: 6, restarts: 2, seed: 4 }), labels: y, targeted: false },
    {
      r: apgd(classifier, x, targets, { eps: 0.1, steps: 6, targeted: true }),
      labels: targets,
      targeted: true,
    },
    {
      r: apgdTargeted(classifier, x, y, { eps: 0.08, steps: 6, targetClasses: 3 }),
      labels: y,
      targeted: false,
    },
  ];
  for (const { r, labels, targeted } of runs) {
    const fresh = tf.tidy(() => tf.argMax(classifier(r.adversarial), 1)).dataSync();
    assertEquals(Array.from(r.predictions), Array.from(fresh));
    const l = labels.dataSync();
    const success = Array.from(fresh, (p, i) => (targeted ? p === l[i] : p !== l[i]) ? 1 : 0);
    assertEquals(Array.from(r.success), success);
    const share = mean(r.success);
    assert(share > 0 && share < 1, `the check needs both outcomes, got success ${share}`);
    r.adversarial.dispose();
  }
  targets.dispose();
});

Deno.test("apgd() with targeted cross-entropy reaches the targets", () => {
  const targets = tf.tidy(() => tf.mod(tf.add(y, 1), 10) as tf.Tensor1D);
  const r = apgd(classifier, x, targets, { eps: 0.2, targeted: true, steps: 20 });
  assert(mean(r.success) > 0.8, `targeted success ${mean(r.success)}`);
  tf.dispose([targets, r.adversarial]);
});

Deno.test("APGD-CE with 100 iterations is at least as strong as PGD-100 on a trained model", () => {
  for (const [norm, eps] of [["linf", 0.06], ["l2", 0.8]] as const) {
    const p = pgd(classifier, x, y, { eps, norm, steps: 100, seed: 3 });
    const a = apgd(classifier, x, y, { eps, norm, steps: 100, seed: 3 });
    const accPgd = 1 - mean(p.success), accApgd = 1 - mean(a.success);
    assert(accPgd > 0.1, `${norm}: the radius must leave PGD some accuracy (${accPgd})`);
    console.log(`${norm} eps ${eps}: PGD-100 leaves ${accPgd}, APGD-CE-100 ${accApgd}`);
    assert(accApgd <= accPgd, `${norm}: APGD-CE leaves ${accApgd}, PGD-100 ${accPgd}`);
    tf.dispose([p.adversarial, a.adversarial]);
  }
});

Deno.test("apgd() and apgdTargeted() refuse bad labels and pixels, and return an empty result for an empty batch", () => {
  const before = tf.memory().numTensors;
  const bad = tf.tensor1d(Array.from({ length: 100 }, (_, i) => (i === 3 ? 10 : 0)), "int32");
  const big = tf.tidy(() => tf.mul(x, 255) as tf.Tensor4D);
  for (const attack of [apgd, apgdTargeted]) {
    assertThrows(() => attack(classifier, x, bad, { eps: 0.1 }), RangeError, "labels[3]");
    assertThrows(() => attack(classifier, big, y, { eps: 0.1 }), RangeError, "pixel range");
    const empty = tf.zeros([0, 28, 28, 1]) as tf.Tensor4D, none = tf.tensor1d([], "int32");
    const r = attack(classifier, empty, none, { eps: 0.1 });
    assertEquals(r.adversarial.shape, [0, 28, 28, 1]);
    assertEquals(r.success.length, 0);
    tf.dispose([r.adversarial, empty, none]);
  }
  tf.dispose([bad, big]);
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("apgd(), apgdTargeted(), fabTargeted() and square() leak no tensors when the model throws midway", () => {
  let calls = 0;
  const failing: Classifier = (images) => {
    if (++calls > 4) throw new Error("model failure");
    return classifier(images);
  };
  const before = tf.memory().numTensors;
  const runs = [
    () => apgd(failing, x, y, { eps: 0.1, steps: 10 }),
    () => apgdTargeted(failing, x, y, { eps: 0.1, steps: 10 }),
    () => fabTargeted(failing, x, y, { eps: 0.1, steps: 10 }),
    () => square(failing, x, y, { eps: 0.1, queries: 10 }),
  ];
  for (const run of runs) {
    calls = 0;
    assertThrows(run, Error, "model failure");
    assertEquals(tf.memory().numTensors, before);
  }
});
