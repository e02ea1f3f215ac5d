import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertGreater, assertLess } from "@std/assert";
import { asClassifier } from "../../lib/models/mod.ts";
import { decodeModel, exportOnnx, importOnnx, loadOrtModel } from "../../lib/onnx/mod.ts";
import { setupBackend } from "../_helpers.ts";
import { architectures, logitsAndGradient, maxDiff } from "./_models.ts";

await setupBackend();

function batch(shape: number[], n: number, seed: number) {
  return tf.tidy(() => ({
    x: tf.randomUniform(
      [n, ...shape] as [number, number, number, number],
      0,
      1,
      "float32",
      seed,
    ) as tf.Tensor4D,
    y: tf.tensor1d(Array.from({ length: n }, (_, i) => i % 5), "int32"),
  }));
}

for (const { name, model } of architectures()) {
  const shape = model.inputs[0].shape.slice(1) as number[];

  Deno.test(`exportOnnx() of ${name}: onnxruntime's logits equal tfjs's within 1e-4`, async () => {
    const { x, y } = batch(shape, 4, 1);
    const bytes = exportOnnx(model);
    const ort = await loadOrtModel(bytes, { provider: "cpu" });
    const ref = tf.tidy(() => asClassifier(model)(x).dataSync());
    const got = await ort.logits(x);
    assertEquals(got.length, ref.length);
    assertLess(maxDiff(ref, got), 1e-4);
    assertGreater(maxDiff(ref, new Float32Array(ref.length)), 1e-3, "logits are not all zero");
    await ort.dispose();
    tf.dispose([x, y]);
  });

  Deno.test(`importOnnx() of ${name}: logits and input gradient equal the original's within 1e-4`, async () => {
    const { x, y } = batch(shape, 3, 2);
    const imported = await importOnnx(exportOnnx(model));
    const a = logitsAndGradient(asClassifier(model), x, y);
    const b = logitsAndGradient(imported.classifier, x, y);
    assertLess(maxDiff(a.logits, b.logits), 1e-4);
    assertLess(maxDiff(a.grad, b.grad), 1e-4);
    assertGreater(maxDiff(a.grad, new Float32Array(a.grad.length)), 1e-5, "the gradient is not zero");
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) logitsAndGradient(imported.classifier, x, y);
    assertEquals(tf.memory().numTensors, before);
    imported.dispose();
    tf.dispose([x, y]);
  });
}

Deno.test("exportOnnx() writes NCHW graphs: OIHW kernels, explicit pads, one input Transpose", () => {
  const model = architectures().find((a) => a.name === "madry-cnn")!.model;
  const onnx = decodeModel(exportOnnx(model));
  const ops = onnx.graph.nodes.map((n) => n.opType);
  assertEquals(ops.filter((o) => o === "Transpose").length, 1);
  assertEquals(onnx.graph.inputs[0].shape, ["N", 28, 28, 1]);
  assertEquals(onnx.metadata["advex.input_layout"], "NHWC");
  const conv = onnx.graph.nodes.find((n) => n.opType === "Conv")!;
  assertEquals(onnx.graph.initializers.find((t) => t.name === conv.inputs[1])!.dims, [2, 1, 5, 5]);
  assertEquals(conv.attributes.find((a) => a.name === "pads")!.ints, [2, 2, 2, 2]);
  const nchw = decodeModel(exportOnnx(model, { inputLayout: "NCHW" }));
  assertEquals(nchw.graph.inputs[0].shape, ["N", 1, 28, 28]);
  assertEquals(nchw.graph.nodes.some((n) => n.opType === "Transpose"), false);
});

Deno.test("exportOnnx() folds a ResNet-50's explicit zero padding into the convolutions' pads", () => {
  const model = architectures().find((a) => a.name === "resnet50-imagenet-stem")!.model;
  const onnx = decodeModel(exportOnnx(model, { inputLayout: "NCHW" }));
  const ops = onnx.graph.nodes.map((n) => n.opType);
  // Only the max-pool's padding stays a Pad node: zeros there are not the -inf of MaxPool's own pads.
  assertEquals(ops.filter((o) => o === "Pad").length, 1);
  const stem = onnx.graph.nodes.find((n) => n.opType === "Conv")!;
  assertEquals(stem.attributes.find((a) => a.name === "pads")!.ints, [3, 3, 3, 3]);
  assertEquals(stem.attributes.find((a) => a.name === "strides")!.ints, [2, 2]);
});
