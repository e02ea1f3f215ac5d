import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import {
  asClassifier,
  buildModel,
  denseNet,
  lenet,
  madryCnn,
  type ModelSpec,
  parameterCount,
  vgg,
} from "../../lib/models/mod.ts";
import { setupBackend } from "../_helpers.ts";

const shape = { inputShape: [28, 28, 1] as [number, number, number], classes: 10 };
await setupBackend();

Deno.test("madryCnn() at scale 16 is the paper's network (conv 32, conv 64, dense 1024)", () => {
  const m = madryCnn(shape, 16);
  // 5*5*1*32+32 + 5*5*32*64+64 + 7*7*64*1024+1024 + 1024*10+10
  assertEquals(parameterCount(m), 832 + 51264 + 3212288 + 10250);
  m.dispose();
});

Deno.test("madryCnn() scale 1 has conv 2, conv 4, dense 64 filters", () => {
  const m = madryCnn(shape, 1);
  assertEquals(m.layers.map((l) => l.outputShape.at(-1)), [2, 2, 4, 4, 196, 64, 10]);
  assertThrows(() => madryCnn(shape, 0), RangeError);
  m.dispose();
});

Deno.test("buildModel() makes every kind a classifier from [N,28,28,1] to [N,10] logits", () => {
  for (
    const spec of [
      { kind: "logistic" },
      { kind: "mlp", hidden: [32, 16] },
      { kind: "madry-cnn", scale: 1 },
      { kind: "resnet", widths: [4, 8], blocksPerStage: 1 },
      { kind: "lenet" },
      { kind: "vgg", widths: [4, 8], convsPerStage: 2, dense: [16] },
      { kind: "densenet", growthRate: 4, blocks: [2, 2] },
    ] as ModelSpec[]
  ) {
    const m = buildModel(spec, shape, 1);
    const out = tf.tidy(() => asClassifier(m)(tf.zeros([3, 28, 28, 1])).shape);
    assertEquals(out, [3, 10], spec.kind);
    m.dispose();
  }
});

Deno.test("buildModel() is reproducible from its seed", () => {
  const a = buildModel({ kind: "mlp", hidden: [8] }, shape, 7);
  const b = buildModel({ kind: "mlp", hidden: [8] }, shape, 7);
  const c = buildModel({ kind: "mlp", hidden: [8] }, shape, 8);
  const wa = Array.from(a.getWeights()[0].dataSync().slice(0, 20));
  assertEquals(wa, Array.from(b.getWeights()[0].dataSync().slice(0, 20)));
  assertNotEquals(wa, Array.from(c.getWeights()[0].dataSync().slice(0, 20)));
  [a, b, c].forEach((m) => m.dispose());
});

Deno.test("lenet() is LeNet-5: conv 6 (same), avg-pool, conv 16 (valid), avg-pool, dense 120, 84, 10", () => {
  const m = lenet(shape);
  assertEquals(m.layers.map((l) => l.outputShape.slice(1)), [
    [28, 28, 6],
    [14, 14, 6],
    [10, 10, 16],
    [5, 5, 16],
    [400],
    [120],
    [84],
    [10],
  ]);
  // 5*5*6+6 + 5*5*6*16+16 + 400*120+120 + 120*84+84 + 84*10+10
  assertEquals(parameterCount(m), 156 + 2416 + 48120 + 10164 + 850);
  m.dispose();
});

Deno.test("vgg() stacks 3x3 convolutions per stage and halves the resolution after each", () => {
  const m = vgg(shape, [4, 8, 16], 2, [32]);
  const convs = m.layers.filter((l) => l.getClassName() === "Conv2D");
  assertEquals(convs.map((l) => l.outputShape.slice(1)), [
    [28, 28, 4],
    [28, 28, 4],
    [14, 14, 8],
    [14, 14, 8],
    [7, 7, 16],
    [7, 7, 16],
  ]);
  assertEquals(m.layers.at(-3)!.outputShape, [null, 3 * 3 * 16]);
  assertThrows(() => vgg(shape, [], 2, []), RangeError);
  assertThrows(() => vgg(shape, [4], 0, []), RangeError);
  m.dispose();
});

Deno.test("denseNet() grows each block by growthRate per layer and halves channels in transitions", () => {
  const m = denseNet(shape, 4, [2, 3]);
  const concats = m.layers.filter((l) => l.getClassName() === "Concatenate");
  // Stem 8 channels; block 1: 12, 16; transition to 8 at 14x14; block 2: 12, 16, 20.
  assertEquals(concats.map((l) => (l.outputShape as number[]).slice(1)), [
    [28, 28, 12],
    [28, 28, 16],
    [14, 14, 12],
    [14, 14, 16],
    [14, 14, 20],
  ]);
  assertThrows(() => denseNet(shape, 0, [2]), RangeError);
  assertThrows(() => denseNet(shape, 4, [2, 0]), RangeError);
  m.dispose();
});
