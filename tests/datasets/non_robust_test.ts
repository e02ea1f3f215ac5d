import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertGreater, assertLessOrEqual, assertRejects } from "@std/assert";
import { take } from "../../lib/data/mod.ts";
import { buildNonRobustDataset } from "../../lib/datasets/mod.ts";
import { smallTrainedModel } from "../_helpers.ts";

const { classifier, test } = await smallTrainedModel();
const source = take(test, Array.from({ length: 40 }, (_, i) => i), "test[40]");

Deno.test("buildNonRobustDataset() relabels D_det exactly (y + 1) mod C and keeps every image in [0, 1] and the budget", async () => {
  const before = tf.memory().numTensors;
  const eps = 2;
  const built = await buildNonRobustDataset(classifier, source, {
    rule: "det",
    eps,
    steps: 10,
    batchSize: 16,
    chunkSize: 20,
    progress: "silent",
  });
  assertEquals(tf.memory().numTensors, before, "no tensor is left behind");
  assertEquals(Array.from(built.dataset.labels), Array.from(source.labels, (y) => (y + 1) % 10));
  assertEquals(Array.from(built.sourceLabels), Array.from(source.labels));
  const images = built.dataset.images;
  assert(images.every((v) => v >= 0 && v <= 1), "pixels stay in [0, 1]");
  for (let i = 0; i < 40; i++) {
    let sq = 0;
    for (let j = 0; j < 784; j++) sq += (images[i * 784 + j] - source.images[i * 784 + j]) ** 2;
    assertLessOrEqual(Math.sqrt(sq), eps + 1e-4);
    assertLessOrEqual(Math.abs(Math.sqrt(sq) - built.perturbation[i]), 1e-3);
  }
  assert(built.finished && !built.fromCache);
});

Deno.test("buildNonRobustDataset() with a large enough budget makes the model see nearly every target", async () => {
  const built = await buildNonRobustDataset(classifier, source, {
    rule: "rand",
    eps: 4,
    steps: 30,
    seed: 4,
    progress: "silent",
  });
  assert(built.dataset.labels.every((t, i) => t !== source.labels[i]), "every label is wrong");
  assertGreater(built.successRate, 0.9);
  const weak = await buildNonRobustDataset(classifier, source, {
    rule: "rand",
    eps: 0.1,
    steps: 5,
    seed: 4,
    progress: "silent",
  });
  assert(weak.successRate < built.successRate, "success grows with the budget");
  assertEquals(built.successRate, built.success.reduce((a, b) => a + b, 0) / 40);
});

Deno.test("buildNonRobustDataset() resumed after an interruption equals an uninterrupted build", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const settings = {
      rule: "rand" as const,
      eps: 2,
      steps: 5,
      seed: 1,
      batchSize: 8,
      chunkSize: 10,
      progress: "silent" as const,
    };
    const whole = await buildNonRobustDataset(classifier, source, settings);
    const part = await buildNonRobustDataset(classifier, source, { ...settings, dir, stopAfterChunks: 2 });
    assertEquals(part.finished, false);
    assertEquals(part.dataset.labels.length, 20);
    const resumed = await buildNonRobustDataset(classifier, source, { ...settings, dir });
    assert(resumed.finished && !resumed.fromCache);
    assertEquals(Array.from(resumed.dataset.images), Array.from(whole.dataset.images));
    assertEquals(Array.from(resumed.dataset.labels), Array.from(whole.dataset.labels));
    assertEquals(Array.from(resumed.success), Array.from(whole.success));
    const cached = await buildNonRobustDataset(classifier, source, { ...settings, dir });
    assert(cached.fromCache);
    assertEquals(Array.from(cached.dataset.images), Array.from(whole.dataset.images));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildNonRobustDataset() rejects a number of steps below one", async () => {
  await assertRejects(
    () => buildNonRobustDataset(classifier, source, { rule: "det", eps: 1, steps: 0 }),
    RangeError,
    "steps",
  );
});
