import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertThrows } from "@std/assert";
import { crossEntropy } from "../../lib/attacks/loss.ts";
import { buildModel, describeModel, type ModelSpec } from "../../lib/models/mod.ts";
import { fusedClassifier } from "../../lib/models/fused_classifier.ts";
import type { Classifier } from "../../lib/models/mod.ts";
import { GradientScopeError, inputGradientsOnly } from "../../lib/util/gradient_scope.ts";
import { maxAbsDiff, randomBatch, setupBackend } from "../_helpers.ts";

await setupBackend();
const shape = { inputShape: [28, 28, 1] as [number, number, number], classes: 10 };
const layersForward = (model: tf.LayersModel): Classifier => (images) =>
  model.apply(images, { training: false }) as tf.Tensor2D;

const lossOf = (c: Classifier, x: tf.Tensor4D, y: tf.Tensor1D) => tf.mean(crossEntropy(c(x), y)) as tf.Scalar;

const fusable: ModelSpec[] = [
  { kind: "madry-cnn", scale: 1 },
  { kind: "madry-cnn", scale: 4 },
  { kind: "mlp", hidden: [64, 32] },
  { kind: "logistic" },
];

for (const spec of fusable) {
  Deno.test(`fusedClassifier() of ${describeModel(spec)} gives the layers model's logits and gradients, bit for bit`, () => {
    const model = buildModel(spec, shape, 7);
    const fused = fusedClassifier(model);
    assert(fused, `${spec.kind} is fusable`);
    const plain = layersForward(model);
    const { x, y } = randomBatch(33, 5);
    const before = tf.memory().numTensors;
    const inputGrad = (c: Classifier) => tf.grad((xi: tf.Tensor) => lossOf(c, xi as tf.Tensor4D, y))(x);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const paramGrads = (c: Classifier) => {
      const { value, grads } = tf.variableGrads(() => lossOf(c, x, y), vars);
      value.dispose();
      return vars.map((v) => grads[v.name]);
    };
    tf.tidy(() => {
      assertEquals(maxAbsDiff(fused(x), plain(x)), 0, "logits");
      assertEquals(maxAbsDiff(inputGrad(fused), inputGrad(plain)), 0, "input gradient");
      const scoped = inputGradientsOnly(() => tf.tidy(() => inputGrad(fused)));
      assertEquals(maxAbsDiff(scoped, inputGrad(plain)), 0, "input gradient inside inputGradientsOnly");
      const [pf, pp] = [paramGrads(fused), paramGrads(plain)];
      pf.forEach((g, i) => assertEquals(maxAbsDiff(g, pp[i]), 0, `gradient of ${vars[i].name}`));
    });
    assertEquals(tf.memory().numTensors, before, "no tensor leaks");
    tf.dispose([x, y]);
    model.dispose();
  });
}

Deno.test("fusedClassifier() reads the live weights: a training step shows in its next output", () => {
  const model = buildModel({ kind: "madry-cnn", scale: 1 }, shape, 2);
  const fused = fusedClassifier(model)!;
  const { x, y } = randomBatch(8, 3);
  const first = tf.tidy(() => fused(x));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const opt = tf.train.sgd(0.5);
  tf.tidy(() => {
    opt.minimize(() => lossOf(fused, x, y), false, vars);
  });
  tf.tidy(() => {
    assert(maxAbsDiff(fused(x), first) > 0, "the output moved");
    assertEquals(maxAbsDiff(fused(x), layersForward(model)(x)), 0, "and still equals the layers model's");
  });
  tf.dispose([first, x, y]);
  opt.dispose();
  model.dispose();
});

Deno.test("fusedClassifier() declines models it does not compute (batch norm, residual graphs)", () => {
  for (
    const spec of [{ kind: "resnet", widths: [4, 8], blocksPerStage: 1 }, { kind: "lenet" }] as ModelSpec[]
  ) {
    const model = buildModel(spec, shape, 1);
    const fusable = spec.kind === "lenet";
    // LeNet is a plain stack too, unless it uses a layer this module does not compute.
    const hasOther = model.layers.some((l) =>
      !["Conv2D", "Dense", "MaxPooling2D", "Flatten", "InputLayer"].includes(l.getClassName())
    );
    assertEquals(fusedClassifier(model) !== undefined, fusable && !hasOther, spec.kind);
    model.dispose();
  }
});

Deno.test("inside inputGradientsOnly, the fused classifier's skipped parameter gradients cannot escape", () => {
  const model = buildModel({ kind: "mlp", hidden: [16] }, shape, 1);
  const fused = fusedClassifier(model)!;
  const { x, y } = randomBatch(4, 1);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let kept: tf.Tensor[] = [];
  assertThrows(
    () =>
      inputGradientsOnly(() => {
        const { value, grads } = tf.variableGrads(() => lossOf(fused, x, y), vars);
        value.dispose();
        kept = Object.values(grads);
      }),
    GradientScopeError,
  );
  tf.dispose(kept);
  tf.dispose([x, y]);
  model.dispose();
});
