import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertThrows } from "@std/assert";
import { attackGradient, crossEntropy } from "../../lib/attacks/loss.ts";
import {
  GradientScopeError,
  initBackend,
  inputGradientsOnly,
  parameterGradientsSkipped,
} from "../../lib/backend/mod.ts";
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

Deno.test("inputGradientsOnly() skips filter gradients inside the scope only, nests, and refuses to hand them out", () => {
  const x = tf.randomUniform([2, 9, 9, 3], -1, 1, "float32", 1) as tf.Tensor4D;
  const w = tf.randomUniform([3, 3, 3, 4], -1, 1, "float32", 2) as tf.Tensor4D;
  const filterGrad = () =>
    tf.tidy(() => tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(x, f as tf.Tensor4D, 1, "same")))(w));
  const outside = filterGrad();
  assert(tf.tidy(() => tf.max(tf.abs(outside)).dataSync()[0]) > 0);
  // Inside, the zeros the backend returns are used (here: their size), then disposed: allowed.
  const inner = inputGradientsOnly(() =>
    inputGradientsOnly(() => tf.tidy(() => tf.max(tf.abs(filterGrad())).dataSync()[0]))
  );
  assertEquals(inner, 0);
  // Kept past the scope: an error, not silently wrong zeros.
  const before = tf.memory().numTensors;
  assertThrows(() => inputGradientsOnly(filterGrad), GradientScopeError, "parameter gradient");
  assertEquals(parameterGradientsSkipped(), false);
  assertEquals(tf.memory().numTensors, before + 1, "the kept gradient is the caller's to dispose");
  tf.dispose([x, w, outside]);
});

Deno.test("a classifier that needs parameter gradients internally fails under an attack's gradient instead of getting zeros", () => {
  const model = buildModel({ kind: "madry-cnn", scale: 1 }, { inputShape: [28, 28, 1], classes: 10 }, 1);
  const c = asClassifier(model);
  // A classifier that adapts itself at test time: one gradient step on its first convolution's filter.
  const conv = model.layers.find((l) => l.getClassName() === "Conv2D")!;
  const adaptive = (xi: tf.Tensor4D) => {
    const filter = conv.trainableWeights[0].read() as tf.Variable;
    const copy = tf.tensor4d(xi.dataSync(), xi.shape);
    const g = tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(copy, f as tf.Tensor4D, 1, "same")))(filter);
    filter.assign(tf.sub(filter, tf.mul(g, 0.01)));
    return c(xi);
  };
  const x = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 3) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1], "int32");
  assertThrows(() => attackGradient(adaptive, x, y), GradientScopeError, "was assigned inside the scope");
  assertEquals(parameterGradientsSkipped(), false);
  // Outside the scope the same classifier adapts with its real gradient.
  const before = Array.from((conv.trainableWeights[0].read() as tf.Variable).dataSync());
  tf.tidy(() => adaptive(x));
  const after = Array.from((conv.trainableWeights[0].read() as tf.Variable).dataSync());
  assert(after.some((v, i) => v !== before[i]), "the filter moved");
  tf.dispose([x, y]);
  model.dispose();
});

Deno.test("inputGradientsOnly() restores the normal mode when its function throws", () => {
  try {
    inputGradientsOnly(() => {
      throw new Error("boom");
    });
  } catch { /* expected */ }
  assertEquals(parameterGradientsSkipped(), false);
});
