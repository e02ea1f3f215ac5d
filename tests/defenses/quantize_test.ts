import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  quantize,
  quantizer,
  softQuantize,
  softQuantizeDerivative,
  softQuantizeGradient,
} from "../../lib/defenses/mod.ts";
import { setupBackend } from "../_helpers.ts";

await setupBackend();

Deno.test("quantize() rounds every pixel to the nearest of the evenly spaced levels", () => {
  const x = tf.tensor4d([0, 0.1, 0.24, 0.26, 0.5, 0.74, 0.9, 1], [1, 2, 4, 1]);
  const q = quantize(x, 5);
  assertEquals(Array.from(q.dataSync()), [0, 0, 0.25, 0.25, 0.5, 0.75, 1, 1]);
  tf.dispose([x, q]);
  assertThrows(() => quantizer(1), RangeError, "levels");
});

Deno.test("quantize() has a true input gradient of zero almost everywhere", () => {
  const x = tf.randomUniform([4, 28, 28, 1], 0, 1, "float32", 7) as tf.Tensor4D;
  const w = tf.randomNormal([4, 28, 28, 1], 0, 1, "float32", 8);
  const g = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(quantize(z as tf.Tensor4D, 8), w)))(x);
  const values = g.dataSync();
  assertEquals(values.length, 4 * 28 * 28);
  assert(values.every((v) => v === 0), "some gradient entries are not zero");
  tf.dispose([x, w, g]);
});

Deno.test("softQuantizeGradient() is the derivative of softQuantize", () => {
  const x = tf.randomUniform([2, 6, 6, 1], 0, 1, "float32", 3) as tf.Tensor4D;
  const auto = tf.grad((z: tf.Tensor) => tf.sum(softQuantize(z as tf.Tensor4D, 4, { temperature: 0.2 })))(x);
  const closed = softQuantizeGradient(x, 4, { temperature: 0.2 });
  const viaDerivative = softQuantizeDerivative(4, { temperature: 0.2 })(x);
  const a = auto.dataSync(), b = closed.dataSync(), c = viaDerivative.dataSync();
  for (let i = 0; i < a.length; i++) {
    assertAlmostEquals(b[i], a[i], 1e-4 * Math.max(1, Math.abs(a[i])));
    assertEquals(c[i], b[i]);
  }
  assert(Array.from(b).every((v) => v > 0), "the smooth staircase should be strictly increasing");
  tf.dispose([x, auto, closed, viaDerivative]);
});

Deno.test("softQuantize() approaches quantize as the temperature falls", () => {
  const x = tf.randomUniform([1, 10, 10, 1], 0, 1, "float32", 5) as tf.Tensor4D;
  const hard = quantize(x, 8);
  const gap = (t: number) =>
    tf.tidy(() => tf.mean(tf.abs(tf.sub(softQuantize(x, 8, { temperature: t }), hard))).dataSync()[0]);
  const coarse = gap(0.3), fine = gap(0.03), finer = gap(0.003);
  assert(fine < coarse && finer < fine, `gaps ${coarse}, ${fine}, ${finer} should fall with the temperature`);
  assert(finer < 0.005, `mean gap at temperature 0.003 is ${finer}`);
  tf.dispose([x, hard]);
});
