import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { ball, L2Ball, LINF_STEP_KERNEL, LinfBall, projectorOf } from "../../lib/attacks/mod.ts";
import { LINF_STEP } from "../../lib/backend/linf_step.ts";
import { maxAbsDiff, randomBatch, setupBackend } from "../_helpers.ts";

await setupBackend();

function maxOf(t: tf.Tensor): number {
  return tf.tidy(() => tf.max(t).dataSync()[0]);
}
function minOf(t: tf.Tensor): number {
  return tf.tidy(() => tf.min(t).dataSync()[0]);
}

Deno.test("LinfBall.project() lands within eps of x and within [0, 1]", () => {
  const { x, y } = randomBatch(8, 1);
  const far = tf.randomUniform(x.shape, -2, 3, "float32", 2) as tf.Tensor4D;
  const b = new LinfBall(0.1);
  const p = b.project(far, x);
  assert(maxOf(b.distance(p, x)) <= 0.1 + 1e-6);
  assert(minOf(p) >= 0 && maxOf(p) <= 1);
  tf.dispose([x, y, far, p]);
});

Deno.test("L2Ball.project() lands within eps of x and within [0, 1], and leaves inner points alone", () => {
  const { x, y } = randomBatch(8, 3);
  const b = new L2Ball(1.5);
  const far = tf.randomUniform(x.shape, -1, 2, "float32", 4) as tf.Tensor4D;
  const p = b.project(far, x);
  assert(maxOf(b.distance(p, x)) <= 1.5 + 1e-4);
  assert(minOf(p) >= 0 && maxOf(p) <= 1);
  const near = tf.clipByValue(
    tf.add(x, tf.mul(tf.sign(tf.randomNormal(x.shape, 0, 1, "float32", 5)), 0.001)),
    0,
    1,
  ) as tf.Tensor4D;
  const q = b.project(near, x);
  assertAlmostEquals(maxOf(tf.abs(tf.sub(q, near))), 0, 1e-6);
  tf.dispose([x, y, far, p, near, q]);
});

Deno.test("step() has length eps in its norm: sign for l-inf, unit direction for l2", () => {
  const g = tf.randomNormal([4, 28, 28, 1], 0, 1, "float32", 6) as tf.Tensor4D;
  const s1 = new LinfBall(0.3).step(g, 0.3);
  assertAlmostEquals(maxOf(tf.abs(s1)), 0.3, 1e-6);
  assertAlmostEquals(minOf(tf.abs(s1)), 0.3, 1e-6);
  const s2 = new L2Ball(2).step(g, 2);
  const norms = tf.sqrt(tf.sum(tf.square(s2.reshape([4, -1])), 1));
  assertAlmostEquals(maxOf(norms), 2, 1e-4);
  assertAlmostEquals(minOf(norms), 2, 1e-4);
  tf.dispose([g, s1, s2, norms]);
});

Deno.test("randomStart() stays in the ball and the pixel range for both norms", () => {
  const { x, y } = randomBatch(6, 7);
  for (const b of [new LinfBall(0.3), new L2Ball(2)]) {
    const r = b.randomStart(x, 9);
    assert(maxOf(b.distance(r, x)) <= b.eps + 1e-4, b.norm);
    assert(minOf(r) >= 0 && maxOf(r) <= 1, b.norm);
    tf.dispose(r);
  }
  tf.dispose([x, y]);
});

Deno.test("ball() rejects an unknown norm and a negative eps", () => {
  // deno-lint-ignore no-explicit-any
  assertThrows(() => ball("l1" as any, 0.1), RangeError, "unknown norm");
  assertThrows(() => new LinfBall(-1), RangeError, "eps");
});

Deno.test("LinfBall.step() keeps the sign of gradients smaller than float32 epsilon", () => {
  const g = tf.tensor4d([1e-9, -1e-9, 3e-8, -5e-8, 0, 2], [1, 2, 3, 1]);
  const s = new LinfBall(0.3).step(g, 0.3);
  assertEquals(Array.from(s.dataSync()), [0.3, -0.3, 0.3, -0.3, 0, 0.3].map(Math.fround));
  tf.dispose([g, s]);
});

Deno.test("projectorOf(): its step and projection are the threat's, bit for bit, on the fused kernel too", () => {
  assertEquals(LINF_STEP_KERNEL, LINF_STEP, "the attacks ask for the kernel the backend registers");
  assert(tf.getKernel(LINF_STEP, tf.getBackend()) !== undefined, "the wasm backend has the fused l-inf step");
  const { x, y } = randomBatch(16, 21);
  const before = tf.memory().numTensors;
  // Gradients with exact zeros, both signs and tiny magnitudes (where the backend's Sign would round to 0).
  const grad = tf.tidy(() => {
    const g = tf.randomNormal(x.shape, 0, 1, "float32", 4);
    return tf.where(tf.less(tf.abs(g), 0.3), tf.zerosLike(g), tf.mul(g, tf.scalar(1e-9)));
  }) as tf.Tensor4D;
  for (
    const threat of [ball("linf", 0.3), ball("linf", 0.1, { clipMin: 0.2, clipMax: 0.9 }), ball("l2", 1.5)]
  ) {
    const projector = projectorOf(threat, x);
    tf.tidy(() => {
      const xAdv = threat.randomStart(x, 3);
      for (const size of [0.01, 0.07, 1 / 3]) {
        const reference = threat.project(tf.add(xAdv, threat.step(grad, size)) as tf.Tensor4D, x);
        assertEquals(
          maxAbsDiff(projector.step(xAdv, grad, size), reference),
          0,
          `${threat.norm} step ${size}`,
        );
      }
      const far = tf.add(xAdv, tf.randomNormal(x.shape, 0, 0.5, "float32", 8)) as tf.Tensor4D;
      assertEquals(
        maxAbsDiff(projector.project(far), threat.project(far, x)),
        0,
        `${threat.norm} projection`,
      );
    });
    projector.dispose();
  }
  grad.dispose();
  assertEquals(tf.memory().numTensors, before, "the projectors leave nothing behind");
  tf.dispose([x, y]);
});
