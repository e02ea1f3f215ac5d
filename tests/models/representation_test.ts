import * as tf from "@tensorflow/tfjs";
import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  buildModel,
  type ModelSpec,
  representationLayer,
  representationModel,
  representationOf,
  representationSize,
} from "../../lib/models/mod.ts";
import { randomBatch, setupBackend } from "../_helpers.ts";

await setupBackend();
const shape = { inputShape: [28, 28, 1] as [number, number, number], classes: 10 };

Deno.test("representationOf() gives the input of the last layer: applying that layer yields the logits", () => {
  const specs: [ModelSpec, number][] = [
    [{ kind: "mlp", hidden: [32, 16] }, 16],
    [{ kind: "madry-cnn", scale: 1 }, 64],
    [{ kind: "resnet", widths: [4, 8], blocksPerStage: 1 }, 8],
  ];
  const { x, y } = randomBatch(3, 5);
  for (const [spec, size] of specs) {
    const model = buildModel(spec, shape, 2);
    const before = tf.memory().numTensors;
    const features = representationOf(model);
    const f = features(x);
    assertEquals(f.shape, [3, size]);
    assertEquals(representationSize(model), size);
    const last = model.layers[model.layers.length - 1];
    const [viaFeatures, direct] = [
      last.apply(f) as tf.Tensor,
      model.apply(x, { training: false }) as tf.Tensor,
    ];
    const a = viaFeatures.dataSync(), b = direct.dataSync();
    for (let i = 0; i < b.length; i++) assertAlmostEquals(a[i], b[i], 1e-4);
    tf.dispose([f, viaFeatures, direct]);
    assertEquals(tf.memory().numTensors, before, `${spec.kind}: no tensor is left behind`);
    model.dispose();
  }
  tf.dispose([x, y]);
});

Deno.test("representationOf() is differentiable in the input", () => {
  const model = buildModel({ kind: "madry-cnn", scale: 1 }, shape, 1);
  const features = representationOf(model);
  const { x, y } = randomBatch(2, 1);
  const g = tf.grad((z: tf.Tensor) => tf.sum(features(z as tf.Tensor4D)))(x);
  assertEquals(g.shape, x.shape);
  const norm = tf.norm(g).dataSync()[0];
  if (!(norm > 0 && Number.isFinite(norm))) throw new Error(`gradient norm ${norm}`);
  tf.dispose([x, y, g]);
  model.dispose();
});

Deno.test("representationModel() shares the weights of the model it reads", () => {
  const model = buildModel({ kind: "mlp", hidden: [8] }, shape, 1);
  const sub = representationModel(model);
  const { x, y } = randomBatch(2, 3);
  const sum = () => tf.tidy(() => tf.sum(sub.apply(x) as tf.Tensor).dataSync()[0]);
  const before = sum();
  // The hidden layer's biases start at zero, so doubling its kernel doubles its ReLU output.
  tf.tidy(() => {
    const [kernel, bias] = model.layers[1].getWeights();
    model.layers[1].setWeights([tf.mul(kernel, 2), bias]);
  });
  assertAlmostEquals(sum(), 2 * before, 1e-3);
  tf.dispose([x, y]);
  model.dispose();
});

Deno.test("representationLayer() finds layers by name or index and names the model's layers when one is missing", () => {
  const model = buildModel({ kind: "mlp", hidden: [8] }, shape, 1);
  assertEquals(representationLayer(model), model.layers[model.layers.length - 2]);
  assertEquals(representationLayer(model, 0), model.layers[0]);
  assertEquals(representationLayer(model, model.layers[1].name), model.layers[1]);
  assertThrows(() => representationLayer(model, "nope"), RangeError, "has no layer");
  assertThrows(() => representationLayer(model, 7), RangeError, "outside");
  model.dispose();
});
