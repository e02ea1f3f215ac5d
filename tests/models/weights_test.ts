import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertThrows } from "@std/assert";
import { buildModel, loadWeightsInto, serializeWeights } from "../../lib/models/mod.ts";
import { setupBackend } from "../_helpers.ts";

const shape = { inputShape: [28, 28, 1] as [number, number, number], classes: 10 };
await setupBackend();

Deno.test("serializeWeights() and loadWeightsInto() round-trip every weight, batch-norm statistics included", () => {
  const a = buildModel({ kind: "resnet", widths: [4, 8], blocksPerStage: 1 }, shape, 1);
  const b = buildModel({ kind: "resnet", widths: [4, 8], blocksPerStage: 1 }, shape, 2);
  const meta = loadWeightsInto(b, serializeWeights(a, { note: "x" }));
  assertEquals(meta, { note: "x" });
  const wa = a.getWeights(), wb = b.getWeights();
  wa.forEach((w, i) => assertEquals(Array.from(w.dataSync()), Array.from(wb[i].dataSync())));
  const x = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 3);
  assertEquals(
    Array.from((a.predict(x) as tf.Tensor).dataSync()),
    Array.from((b.predict(x) as tf.Tensor).dataSync()),
  );
  tf.dispose(x);
  a.dispose();
  b.dispose();
});

Deno.test("loadWeightsInto() rejects weights of another architecture and truncated files", () => {
  const a = buildModel({ kind: "mlp", hidden: [8] }, shape, 1);
  const b = buildModel({ kind: "mlp", hidden: [9] }, shape, 1);
  const bytes = serializeWeights(a);
  assertThrows(() => loadWeightsInto(b, bytes, "w.bin"), Error, "w.bin: tensor 0 has shape 784x8");
  assertThrows(() => loadWeightsInto(a, bytes.subarray(0, bytes.length - 4), "w.bin"), Error, "truncated");
  a.dispose();
  b.dispose();
});
