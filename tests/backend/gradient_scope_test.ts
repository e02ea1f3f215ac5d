import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "@std/assert";
import { attackGradient, crossEntropy } from "../../lib/attacks/loss.ts";
import { initBackend, inputGradientsOnly, parameterGradientsSkipped } from "../../lib/backend/mod.ts";
import { asClassifier, buildModel } from "../../lib/models/mod.ts";

await initBackend({ backend: "wasm" });

Deno.test("inputGradientsOnly() leaves a ResNet's input gradient bit-identical", () => {
  const model = buildModel({ kind: "resnet", widths: [4, 8], blocksPerStage: 1 }, {
    inputShape: [28, 28, 1],
    classes: 10,
  }, 1);
  const c = asClassifier(model);
  const x = tf.randomUniform([6, 28, 28, 1], 0, 1, "float32", 3) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 2, 3, 4, 5], "int32");
  const scoped = attackGradient(c, x, y);
  const plain = tf.tidy(() => tf.grad((xi: tf.Tensor) => tf.sum(crossEntropy(c(xi as tf.Tensor4D), y)))(x));
  assertEquals(Array.from(scoped.dataSync()), Array.from(plain.dataSync()));
  assert(tf.tidy(() => tf.max(tf.abs(plain)).dataSync()[0]) > 0, "the gradient is not trivially zero");
  tf.dispose([scoped, plain, x, y]);
  model.dispose();
});

Deno.test("inputGradientsOnly() skips filter gradients inside the scope only, and nests", () => {
  const x = tf.randomUniform([2, 9, 9, 3], -1, 1, "float32", 1) as tf.Tensor4D;
  const w = tf.randomUniform([3, 3, 3, 4], -1, 1, "float32", 2) as tf.Tensor4D;
  const filterGrad = () =>
    tf.tidy(() => tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(x, f as tf.Tensor4D, 1, "same")))(w));
  const outside = filterGrad();
  const inside = inputGradientsOnly(() => inputGradientsOnly(filterGrad));
  assert(tf.tidy(() => tf.max(tf.abs(outside)).dataSync()[0]) > 0);
  assertEquals(tf.tidy(() => tf.max(tf.abs(inside)).dataSync()[0]), 0);
  assertEquals(parameterGradientsSkipped(), false);
  tf.dispose([x, w, outside, inside]);
});

Deno.test("inputGradientsOnly() restores the normal mode when its function throws", () => {
  try {
    inputGradientsOnly(() => {
      throw new Error("boom");
    });
  } catch { /* expected */ }
  assertEquals(parameterGradientsSkipped(), false);
});
