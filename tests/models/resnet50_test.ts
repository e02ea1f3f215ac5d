import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertLess, assertNotEquals, assertThrows } from "@std/assert";
import { crossEntropy } from "../../lib/attacks/loss.ts";
import { modelSpecSchema } from "../../lib/config/specs.ts";
import { buildModel, describeModel, parameterCount, resnet50 } from "../../lib/models/mod.ts";
import { createOptimizer } from "../../lib/train/mod.ts";
import { setupBackend } from "../_helpers.ts";

await setupBackend();
const mnist = { inputShape: [28, 28, 1] as [number, number, number], classes: 10 };

const count = (m: tf.LayersModel, cls: string) => m.layers.filter((l) => l.getClassName() === cls).length;
const shapeOf = (m: tf.LayersModel, name: string) => m.getLayer(name).outputShape;

Deno.test("resnet50() has ResNet-50's 53 convolutions, 53 batch norms and 16 bottleneck blocks", () => {
  const m = resnet50(mnist, { baseWidth: 2 });
  assertEquals(count(m, "Conv2D"), 53);
  assertEquals(count(m, "BatchNormalization"), 53);
  assertEquals(count(m, "Add"), 16);
  assertEquals(m.layers.filter((l) => l.name.endsWith(".downsample.0")).length, 4);
  assertEquals(shapeOf(m, "fc"), [null, 10]);
  m.dispose();
});

Deno.test("resnet50() widens each stage's bottleneck 2x and expands its output 4x, stride on the 3x3 conv", () => {
  const m = resnet50(mnist, { baseWidth: 2 });
  assertEquals(shapeOf(m, "layer1.0.conv1"), [null, 28, 28, 2]);
  assertEquals(shapeOf(m, "layer1.2.add"), [null, 28, 28, 8]);
  assertEquals(shapeOf(m, "layer2.0.conv1"), [null, 28, 28, 4]);
  assertEquals(shapeOf(m, "layer2.0.conv2"), [null, 14, 14, 4]);
  assertEquals(shapeOf(m, "layer3.5.add"), [null, 7, 7, 32]);
  assertEquals(shapeOf(m, "layer4.2.add"), [null, 4, 4, 64]);
  m.dispose();
});

Deno.test("resnet50() stems: small (stride 1 or 2, no max-pool) and imagenet (7x7 stride 2, max-pool)", () => {
  const strided = resnet50(mnist, { baseWidth: 1, stemStride: 2 });
  assertEquals(shapeOf(strided, "relu"), [null, 14, 14, 1]);
  assertEquals(shapeOf(strided, "layer4.2.add"), [null, 2, 2, 32]);
  assertEquals(strided.layers.some((l) => l.name === "maxpool"), false);
  const imagenet = resnet50({ inputShape: [64, 64, 3], classes: 7 }, {
    baseWidth: 1,
    stem: "imagenet",
    blocks: [1, 1, 1, 1],
  });
  assertEquals(shapeOf(imagenet, "conv1"), [null, 32, 32, 1]);
  assertEquals(shapeOf(imagenet, "maxpool"), [null, 16, 16, 1]);
  assertEquals(shapeOf(imagenet, "fc"), [null, 7]);
  // Inputs larger than 64 pixels get the ImageNet stem by default.
  const large = resnet50({ inputShape: [96, 96, 3], classes: 2 }, { baseWidth: 1, blocks: [1, 1, 1, 1] });
  assertEquals(large.layers.some((l) => l.name === "maxpool"), true);
  [strided, imagenet, large].forEach((m) => m.dispose());
});

Deno.test("resnet50() rejects a bad width, stride or block list", () => {
  assertThrows(() => resnet50(mnist, { baseWidth: 0 }), RangeError, "baseWidth");
  assertThrows(() => resnet50(mnist, { stemStride: 3 }), RangeError, "stemStride");
  assertThrows(() => resnet50(mnist, { stem: "imagenet", stemStride: 2 }), RangeError, "small");
  assertThrows(() => resnet50(mnist, { blocks: [3, 4, 6] }), RangeError, "four integers");
});

Deno.test("buildModel() builds the resnet50 kind from a config spec, reproducibly from its seed", () => {
  const spec = modelSpecSchema.validate(
    { kind: "resnet50", baseWidth: 2, stem: "small", stemStride: 2 },
    "model",
  );
  assertEquals(describeModel(spec), "resnet-50 width 2 (small stem, stride 2)");
  const a = buildModel(spec, mnist, 4);
  const b = buildModel(spec, mnist, 4);
  const c = buildModel(spec, mnist, 5);
  assertEquals(parameterCount(a), parameterCount(resnet50(mnist, { baseWidth: 2, stemStride: 2 })));
  const first = (m: tf.LayersModel) => Array.from(m.getWeights()[0].dataSync());
  assertEquals(first(a), first(b));
  assertNotEquals(first(a), first(c));
  [a, b, c].forEach((m) => m.dispose());
});

Deno.test("resnet50() trains: a few Adam steps lower the loss on a fixed batch", () => {
  const m = resnet50(mnist, { baseWidth: 2, stemStride: 2 }, 1);
  const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
  const opt = createOptimizer({ name: "adam", learningRate: 3e-3 }, vars);
  const x = tf.randomUniform([16, 28, 28, 1], 0, 1, "float32", 2) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 10), "int32");
  const losses: number[] = [];
  for (let i = 0; i < 6; i++) {
    losses.push(tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.mean(crossEntropy(m.apply(x, { training: true }) as tf.Tensor2D, y)) as tf.Scalar,
        vars,
      );
      opt.apply(vars.map((v) => grads[v.name]));
      return value.dataSync()[0];
    }));
  }
  assertLess(losses[5], losses[0]);
  opt.dispose();
  tf.dispose([x, y]);
  m.dispose();
});

Deno.test("resnet50() with zeroInitResidual starts every block's last batch-norm scale at zero", () => {
  const zero = resnet50(mnist, { baseWidth: 1, stemStride: 2, zeroInitResidual: true });
  const plain = resnet50(mnist, { baseWidth: 1, stemStride: 2 });
  const gammas = (m: tf.LayersModel, suffix: string) =>
    m.layers.filter((l) => l.name.endsWith(suffix)).flatMap((l) => Array.from(l.getWeights()[0].dataSync()));
  assertEquals(new Set(gammas(zero, ".bn3")), new Set([0]));
  assertEquals(new Set(gammas(zero, ".bn2")), new Set([1]));
  assertEquals(new Set(gammas(plain, ".bn3")), new Set([1]));
  [zero, plain].forEach((m) => m.dispose());
});
