import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertGreater, assertLess, assertRejects } from "@std/assert";
import { imagesTensor, take } from "../../lib/data/mod.ts";
import { buildRobustDataset, invertRepresentation, representationDistance } from "../../lib/datasets/mod.ts";
import { representationOf } from "../../lib/models/mod.ts";
import { smallTrainedModel } from "../_helpers.ts";

const { model, test } = await smallTrainedModel();
const features = representationOf(model);
const source = take(test, Array.from({ length: 24 }, (_, i) => i), "test[24]");

Deno.test("invertRepresentation() lowers the representation distance of every image, by l2 steps or by Adam", async () => {
  const before = tf.memory().numTensors;
  const x = imagesTensor(source, 0, 8);
  const start = imagesTensor(source, 8, 16);
  const target = features(x);
  for (const [method, stepSize] of [["l2", 1], ["adam", 0.05]] as const) {
    const inv = await invertRepresentation(features, target, start, { steps: 30, stepSize, method });
    const check = representationDistance(features, inv.images, target);
    assertEquals(Array.from(await check.data()), Array.from(inv.finalDistance));
    for (let i = 0; i < 8; i++) assertLess(inv.finalDistance[i], 0.5 * inv.initialDistance[i], method);
    const pixels = await inv.images.data();
    assert(pixels.every((v) => v >= 0 && v <= 1), "pixels stay in [0, 1]");
    tf.dispose([inv.images, check]);
  }
  tf.dispose([x, start, target]);
  assertEquals(tf.memory().numTensors, before, "no tensor is left behind");
});

Deno.test("invertRepresentation() with zero steps returns the start", async () => {
  const x = imagesTensor(source, 0, 4);
  const start = imagesTensor(source, 4, 8);
  const target = features(x);
  const inv = await invertRepresentation(features, target, start, { steps: 0, stepSize: 1 });
  assertEquals(Array.from(await inv.images.data()), Array.from(await start.data()));
  assertEquals(Array.from(inv.finalDistance), Array.from(inv.initialDistance));
  tf.dispose([x, start, target, inv.images]);
});

Deno.test("buildRobustDataset() keeps the labels, lowers the distance, and resumes to the same result", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const settings = {
      steps: 15,
      stepSize: 1,
      seed: 2,
      batchSize: 6,
      chunkSize: 8,
      progress: "silent" as const,
    };
    const whole = await buildRobustDataset(features, source, settings);
    assertEquals(Array.from(whole.dataset.labels), Array.from(source.labels));
    assert(whole.dataset.images.every((v) => v >= 0 && v <= 1));
    assertLess(whole.meanFinalDistance, 0.5 * whole.meanInitialDistance);
    assertGreater(whole.meanRelativeDistance, 0);
    assert(
      Array.from(whole.startIndex).every((j, i) => j !== i && j >= 0 && j < 24),
      "starts from another image",
    );
    const part = await buildRobustDataset(features, source, { ...settings, dir, stopAfterChunks: 1 });
    assertEquals(part.finished, false);
    const resumed = await buildRobustDataset(features, source, { ...settings, dir });
    assert(resumed.finished && !resumed.fromCache);
    assertEquals(Array.from(resumed.dataset.images), Array.from(whole.dataset.images));
    assertEquals(Array.from(resumed.finalDistance), Array.from(whole.finalDistance));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildRobustDataset() from noise records no start image and still lowers the distance", async () => {
  const built = await buildRobustDataset(features, take(source, [0, 1, 2, 3, 4, 5]), {
    steps: 20,
    stepSize: 1,
    start: "noise",
    noiseRange: [0, 0.2],
    progress: "silent",
  });
  assert(Array.from(built.startIndex).every((j) => j === -1));
  assertLess(built.meanFinalDistance, built.meanInitialDistance);
});

Deno.test("buildRobustDataset() rejects an unknown start and a noise range outside [0, 1]", async () => {
  await assertRejects(
    () => buildRobustDataset(features, source, { steps: 1, stepSize: 1, start: "zeros" as "noise" }),
    RangeError,
    "start",
  );
  await assertRejects(
    () => buildRobustDataset(features, source, { steps: 1, stepSize: 1, start: "noise", noiseRange: [0, 2] }),
    RangeError,
    "noiseRange",
  );
});
