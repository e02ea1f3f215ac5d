import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { attackGradient, makeAttack } from "../../lib/attacks/mod.ts";
import { stratifiedSubset } from "../../lib/data/mod.ts";
import { evaluate } from "../../lib/eval/mod.ts";
import {
  attackVia,
  bpda,
  quantize,
  quantizer,
  softQuantizeDerivative,
  softQuantizeGradient,
  withTransform,
} from "../../lib/defenses/mod.ts";
import { setupBackend, smallTrainedModel } from "../_helpers.ts";

await setupBackend();

Deno.test("bpda() leaves the forward pass of the transform unchanged", () => {
  const x = tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 1) as tf.Tensor4D;
  const plain = quantize(x, 8);
  for (const t of [bpda(quantizer(8)), bpda(quantizer(8), softQuantizeDerivative(8))]) {
    const out = t(x);
    assertEquals(Array.from(out.dataSync()), Array.from(plain.dataSync()));
    out.dispose();
  }
  tf.dispose([x, plain]);
});

Deno.test("bpda() back-propagates through the surrogate: identity by default, else its derivative", () => {
  const x = tf.randomUniform([2, 8, 8, 1], 0, 1, "float32", 2) as tf.Tensor4D;
  const w = tf.randomNormal([2, 8, 8, 1], 0, 1, "float32", 3);
  const gradOf = (t: (z: tf.Tensor4D) => tf.Tensor4D) =>
    tf.grad((z: tf.Tensor) => tf.sum(tf.mul(t(z as tf.Tensor4D), w)))(x);
  const straight = gradOf(bpda(quantizer(5)));
  assertEquals(Array.from(straight.dataSync()), Array.from(w.dataSync()));
  const soft = gradOf(bpda(quantizer(5), softQuantizeDerivative(5)));
  const expected = tf.mul(w, softQuantizeGradient(x, 5));
  const s = soft.dataSync(), e = expected.dataSync();
  for (let i = 0; i < s.length; i++) assertAlmostEquals(s[i], e[i], 1e-5 * Math.max(1, Math.abs(e[i])));
  const hard = gradOf(quantizer(5));
  assert(hard.dataSync().every((v) => v === 0));
  tf.dispose([x, w, straight, soft, expected, hard]);
});

Deno.test("bpda() in front of a model gives the same logits as the defended model and a non-zero input gradient", async () => {
  const { classifier, test } = await smallTrainedModel();
  const x = tf.tensor4d(test.images.slice(0, 16 * 784), [16, 28, 28, 1]);
  const y = tf.tensor1d(test.labels.slice(0, 16), "int32");
  const defended = withTransform(classifier, quantizer(8));
  const view = withTransform(classifier, bpda(quantizer(8)));
  const before = tf.memory().numTensors;
  const [a, b, gDefended, gView] = tf.tidy(() => [
    defended(x),
    view(x),
    attackGradient(defended, x, y),
    attackGradient(view, x, y),
  ]);
  // The backend's matrix products may differ in the last bit between two runs on the same input.
  const la = a.dataSync(), lb = b.dataSync();
  for (let i = 0; i < la.length; i++) assertAlmostEquals(lb[i], la[i], 1e-4);
  assert(gDefended.dataSync().every((v) => v === 0), "the defended model's gradient should vanish");
  assert(gView.dataSync().some((v) => v !== 0), "the BPDA gradient should not vanish");
  tf.dispose([a, b, gDefended, gView]);
  assertEquals(tf.memory().numTensors, before);
  tf.dispose([x, y]);
});

Deno.test("attackVia() takes the attack's gradients from the view and leaves the judging to the evaluated model", async () => {
  const { classifier, test } = await smallTrainedModel();
  const data = stratifiedSubset(test, 60, { seed: 7 });
  const defended = withTransform(classifier, quantizer(8));
  let viewCalls = 0;
  const view = withTransform((x) => {
    viewCalls++;
    return classifier(x);
  }, bpda(quantizer(8)));
  const fgsm = makeAttack({ kind: "fgsm", eps: 0.3 }, 1);
  const clean = await evaluate(defended, data);
  const direct = await evaluate(defended, data, { attack: fgsm });
  const through = await evaluate(defended, data, { attack: attackVia(view, fgsm) });
  assertEquals(direct.accuracy, clean.accuracy);
  assert(viewCalls > 0);
  assert(through.accuracy < clean.accuracy - 0.3, `${through.accuracy} vs clean ${clean.accuracy}`);
});
