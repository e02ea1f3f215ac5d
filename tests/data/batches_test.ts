import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertRejects } from "@std/assert";
import { forEachBatch, forEachRange, makeDataset } from "../../lib/data/mod.ts";
import { setupBackend } from "../_helpers.ts";

await setupBackend();

const ds = makeDataset(
  "seven",
  Float32Array.from({ length: 7 * 4 }, (_, i) => i / 28),
  Int32Array.from([0, 1, 0, 1, 0, 1, 0]),
  [2, 2, 1],
  ["a", "b"],
);

Deno.test("forEachBatch() visits every example once, in order, as tensors it disposes", async () => {
  const before = tf.memory().numTensors;
  const seen: number[][] = [];
  await forEachBatch(ds, { batchSize: 3 }, async ({ x, y, start, end }) => {
    assertEquals(x.shape, [end - start, 2, 2, 1]);
    seen.push([start, end, ...await y.data()]);
  });
  assertEquals(seen, [[0, 3, 0, 1, 0], [3, 6, 1, 0, 1], [6, 7, 0]]);
  assertEquals(tf.memory().numTensors, before);
  const part: number[] = [];
  await forEachBatch(ds, { batchSize: 2, from: 1, to: 4 }, ({ start, end }) => void part.push(start, end));
  assertEquals(part, [1, 3, 3, 4]);
});

Deno.test("forEachBatch() disposes the batch when the work throws, and refuses a bad batch size", async () => {
  const before = tf.memory().numTensors;
  await assertRejects(
    () =>
      forEachBatch(ds, { batchSize: 4 }, () => {
        throw new Error("boom");
      }),
    Error,
    "boom",
  );
  assertEquals(tf.memory().numTensors, before);
  await assertRejects(() => forEachBatch(ds, { batchSize: 0 }, () => {}), RangeError, "batchSize");
  await assertRejects(() => forEachRange(0, 3, { batchSize: 1.5 }, () => {}), RangeError, "1.5");
});

Deno.test("forEachRange() reports progress over its range with the note after each range", async () => {
  const ranges: number[][] = [];
  await forEachRange(10, 15, { batchSize: 2, label: "x", progress: "silent", note: () => "n" }, (a, b) => {
    ranges.push([a, b]);
  });
  assertEquals(ranges, [[10, 12], [12, 14], [14, 15]]);
});
