import * as tf from "@tensorflow/tfjs";
import { assertAlmostEquals, assertEquals, assertLess } from "@std/assert";
import { slice } from "../../lib/data/mod.ts";
import { evaluate } from "../../lib/eval/mod.ts";
import {
  argmaxRows,
  decodeModel,
  encodeModel,
  exportOnnx,
  loadOrtModel,
  ortEvaluate,
  ortPredict,
} from "../../lib/onnx/mod.ts";
import { smallTrainedModel } from "../_helpers.ts";
import { maxDiff } from "./_models.ts";

const { model, classifier, test } = await smallTrainedModel();
const bytes = exportOnnx(model);

Deno.test("ortEvaluate() gives the accuracy and loss tfjs's evaluate() gives", async () => {
  const ort = await loadOrtModel(bytes, { provider: "cpu" });
  const a = await evaluate(classifier, test);
  const b = await ortEvaluate(ort, test, { batchSize: 64 });
  assertEquals(b.n, a.n);
  assertAlmostEquals(b.accuracy, a.accuracy, 1 / a.n + 1e-9);
  assertAlmostEquals(b.loss, a.loss, 1e-4);
  assertLess(b.accuracy, 1);
  await ort.dispose();
});

Deno.test("loadOrtModel() splits and pads batches for a file that fixes the batch size", async () => {
  const onnx = decodeModel(bytes);
  onnx.graph.inputs[0].shape = [4, 28, 28, 1];
  onnx.graph.outputs[0].shape = [4, 10];
  const fixed = await loadOrtModel(encodeModel(onnx), { provider: "cpu" });
  const free = await loadOrtModel(bytes, { provider: "cpu" });
  assertEquals(fixed.fixedBatch, 4);
  assertEquals(free.fixedBatch, undefined);
  const ten = slice(test, 0, 10);
  const a = await ortPredict(free, ten);
  const b = await ortPredict(fixed, ten, { batchSize: 7 });
  assertEquals(b.logits.length, 100);
  assertLess(maxDiff(a.logits, b.logits), 1e-6);
  assertEquals(Array.from(b.predictions), Array.from(a.predictions));
  await fixed.dispose();
  await free.dispose();
});

Deno.test("loadOrtModel() feeds an NCHW graph the same images as an NHWC one", async () => {
  const nhwc = await loadOrtModel(bytes, { provider: "cpu" });
  const nchw = await loadOrtModel(exportOnnx(model, { inputLayout: "NCHW" }), { provider: "cpu" });
  assertEquals(nchw.signature.layout, "NCHW");
  const x = tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 4) as tf.Tensor4D;
  assertLess(maxDiff(await nhwc.logits(x), await nchw.logits(x)), 1e-5);
  assertEquals(Array.from(await nchw.predict(x)), Array.from(argmaxRows(await nhwc.logits(x), 3)));
  x.dispose();
  await nhwc.dispose();
  await nchw.dispose();
});

Deno.test("argmaxRows() returns each row's largest entry", () => {
  assertEquals(Array.from(argmaxRows(new Float32Array([1, 3, 2, 9, 0, -1]), 2)), [1, 0]);
  assertEquals(Array.from(argmaxRows(new Float32Array(0), 0)), []);
});
