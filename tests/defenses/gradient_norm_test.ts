import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { attackGradient } from "../../lib/attacks/mod.ts";
import { inputGradientNorms, quantizer, withTransform } from "../../lib/defenses/mod.ts";
import { setupBackend, smallTrainedModel } from "../_helpers.ts";

await setupBackend();

Deno.test("inputGradientNorms() measures each example's gradient, and is zero behind a quantiser", async () => {
  const { classifier, test } = await smallTrainedModel();
  const x = tf.tensor4d(test.images.slice(0, 8 * 784), [8, 28, 28, 1]);
  const y = tf.tensor1d(test.labels.slice(0, 8), "int32");
  const before = tf.memory().numTensors;
  const norms = inputGradientNorms(classifier, x, y);
  assertEquals(tf.memory().numTensors, before);
  const g = attackGradient(classifier, x, y);
  const values = Array.from(g.dataSync());
  for (let i = 0; i < 8; i++) {
    const row = values.slice(i * 784, (i + 1) * 784);
    const l2 = Math.sqrt(row.reduce((s, v) => s + v * v, 0));
    assertAlmostEquals(norms.l2[i], l2, 1e-4 * Math.max(1, l2));
    assertAlmostEquals(norms.linf[i], Math.max(...row.map(Math.abs)), 1e-6);
  }
  assert(norms.l2.every((v) => v > 0));
  const masked = inputGradientNorms(withTransform(classifier, quantizer(8)), x, y);
  assert(masked.l2.every((v) => v === 0) && masked.linf.every((v) => v === 0));
  tf.dispose([x, y, g]);
});
