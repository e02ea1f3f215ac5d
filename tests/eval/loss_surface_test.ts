import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { crossEntropy } from "../../lib/attacks/mod.ts";
import { imagesTensor } from "../../lib/data/mod.ts";
import { bpda, quantizer, withTransform } from "../../lib/defenses/mod.ts";
import { lossSurface } from "../../lib/eval/mod.ts";
import { setupBackend, smallTrainedModel } from "../_helpers.ts";

await setupBackend();

Deno.test("lossSurface() is centred on the input: the middle value is the loss at x", async () => {
  const { classifier, test } = await smallTrainedModel();
  const x = imagesTensor(test, 3, 4);
  const label = test.labels[3];
  const before = tf.memory().numTensors;
  const s = lossSurface(classifier, x, label, { radius: 0.2, points: 9, batchSize: 20 });
  assertEquals(tf.memory().numTensors, before);
  assertEquals(s.xs.length, 9);
  assertEquals(s.values.length, 9);
  assertEquals(s.xs[4], 0);
  assertEquals(s.ys[4], 0);
  assertAlmostEquals(s.xs[0], -0.2, 1e-12);
  assertAlmostEquals(s.xs[8], 0.2, 1e-12);
  const direct = tf.tidy(() => crossEntropy(classifier(x), tf.tensor1d([label], "int32")).dataSync()[0]);
  assertAlmostEquals(s.centre, direct, 1e-4 * Math.max(1, direct));
  assertAlmostEquals(s.values[4][4], direct, 1e-4 * Math.max(1, direct));
  assert(s.max.value >= s.values[4][4]);
  x.dispose();
});

Deno.test("lossSurface() steps along the gradient sign: the loss rises from x along the first axis", async () => {
  const { classifier, test } = await smallTrainedModel();
  for (const i of [0, 1, 2]) {
    const s = lossSurface(classifier, imagesTensor(test, i, i + 1), test.labels[i], {
      radius: 0.02,
      points: 5,
    });
    assert(s.gradientDirection && s.gradientNorm > 0);
    assert(s.values[2][3] > s.values[2][2], `example ${i}: ${s.values[2][3]} <= ${s.values[2][2]}`);
    assert(s.values[2][1] < s.values[2][2], `example ${i}: ${s.values[2][1]} >= ${s.values[2][2]}`);
  }
});

Deno.test("lossSurface() reports a zero gradient behind a quantiser and can follow a BPDA direction instead", async () => {
  const { classifier, test } = await smallTrainedModel();
  const masked = withTransform(classifier, quantizer(8));
  const x = imagesTensor(test, 0, 1);
  const own = lossSurface(masked, x, test.labels[0], { points: 5 });
  assertEquals([own.gradientNorm, own.gradientDirection], [0, false]);
  const viaBpda = lossSurface(masked, x, test.labels[0], {
    points: 5,
    directionModel: withTransform(classifier, bpda(quantizer(8))),
  });
  assertEquals([viaBpda.gradientNorm, viaBpda.gradientDirection], [0, true]);
  assert(viaBpda.max.value > viaBpda.centre);
  x.dispose();
});

Deno.test("lossSurface() rejects an even number of points and a batch of several images", async () => {
  const { classifier, test } = await smallTrainedModel();
  const x = imagesTensor(test, 0, 2);
  const one = imagesTensor(test, 0, 1);
  assertThrows(() => lossSurface(classifier, x, 0), RangeError, "one image");
  assertThrows(() => lossSurface(classifier, one, 0, { points: 4 }), RangeError, "odd");
  tf.dispose([x, one]);
});
