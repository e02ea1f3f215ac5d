import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { asClassifier, buildModel, madryCnn, type ModelSpec, parameterCount } from "../../lib/models/mod.ts";
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
