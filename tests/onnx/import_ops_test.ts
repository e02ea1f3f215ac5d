/**
 * importOnnx() on graphs written by hand with the operators and attributes advex's exporter never emits
 * (model-zoo and PyTorch exports do), checked against onnxruntime as the reference implementation.
 */
import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertGreater, assertLess, assertRejects } from "@std/assert";
import { importOnnx, loadOrtModel, type OnnxModel } from "../../lib/onnx/mod.ts";
import { floatAttr, intAttr, intsAttr, stringAttr } from "../../lib/onnx/model_proto.ts";
import { floatTensor, int64Tensor } from "../../lib/onnx/tensor_data.ts";
import { setupBackend } from "../_helpers.ts";
import { graphModel, maxDiff, node, uniform } from "./_models.ts";

await setupBackend();

async function compare(model: OnnxModel, shape: [number, number, number, number]) {
  const options = { inputLayout: "NCHW" as const };
  const x = tf.tensor4d(uniform(shape.reduce((a, b) => a * b, 1), 42, 0, 1), shape);
  const ort = await loadOrtModel(model, { ...options, provider: "cpu" });
  const expected = await ort.logits(x);
  await ort.dispose();
  const imported = await importOnnx(model, options);
  const got = tf.tidy(() => imported.classifier(x).dataSync() as Float32Array);
  const grad = tf.tidy(() =>
    tf.grad((xi: tf.Tensor) => tf.sum(tf.square(imported.classifier(xi as tf.Tensor4D))))(x)
      .dataSync() as Float32Array
  );
  imported.dispose();
  x.dispose();
  return { expected, got, grad };
}

Deno.test("importOnnx() matches onnxruntime on zoo-style operators: depthwise Conv, Pad, pooling pads and ceil_mode, Gemm, Reshape, Transpose, MatMul", async () => {
  const c = 3;
  const nodes = [
    node("Sub", ["x", "mean"], "centered"),
    node("Div", ["centered", "std"], "normalized"),
    node("Conv", ["normalized", "dw", "dwb"], "dwconv", [
      intAttr("group", c),
      intsAttr("kernel_shape", [3, 3]),
      intsAttr("pads", [1, 1, 1, 1]),
    ]),
    node("Mul", ["dwconv", "two"], "scaled"),
    node("Pad", ["scaled", "pads"], "padded"),
    node("AveragePool", ["padded"], "avg", [
      intsAttr("kernel_shape", [3, 3]),
      intsAttr("strides", [2, 2]),
      intsAttr("pads", [1, 1, 1, 1]),
    ]),
    node("AveragePool", ["padded"], "avgIncl", [
      intsAttr("kernel_shape", [3, 3]),
      intsAttr("strides", [2, 2]),
      intsAttr("pads", [1, 1, 1, 1]),
      intAttr("count_include_pad", 1),
    ]),
    node("Add", ["avg", "avgIncl"], "avgSum"),
    node("MaxPool", ["avgSum"], "max", [
      intsAttr("kernel_shape", [2, 2]),
      intsAttr("strides", [2, 2]),
      intAttr("ceil_mode", 1),
    ]),
    node("LeakyRelu", ["max"], "leaky", [floatAttr("alpha", 0.1)]),
    node("Clip", ["leaky", "lo", "hi"], "clipped"),
    node("Conv", ["clipped", "w1"], "conv", [
      intsAttr("kernel_shape", [1, 1]),
      stringAttr("auto_pad", "SAME_UPPER"),
    ]),
    node("GlobalMaxPool", ["conv"], "gmax"),
    node("GlobalAveragePool", ["conv"], "gavg"),
    node("Concat", ["gmax", "gavg"], "cat", [intAttr("axis", 1)]),
    node("Flatten", ["cat"], "flat"),
    node("Gemm", ["flat", "fcw", "fcb"], "fc", [
      intAttr("transB", 1),
      floatAttr("alpha", 0.5),
      floatAttr("beta", 2),
    ]),
    node("Reshape", ["fc", "shape3"], "r3"),
    node("Transpose", ["r3"], "t3", [intsAttr("perm", [0, 2, 1])]),
    node("Reshape", ["t3", "shape2"], "r2"),
    node("MatMul", ["r2", "mm"], "logits"),
  ];
  const inits = [
    floatTensor("mean", [c, 1, 1], [0.4, 0.5, 0.6]),
    floatTensor("std", [c, 1, 1], [0.2, 0.25, 0.3]),
    floatTensor("dw", [c, 1, 3, 3], uniform(c * 9, 1)),
    floatTensor("dwb", [c], uniform(c, 2)),
    floatTensor("two", [], [2]),
    int64Tensor("pads", [8], [0, 0, 1, 0, 0, 0, 0, 1]),
    floatTensor("lo", [], [-0.5]),
    floatTensor("hi", [], [1.5]),
    floatTensor("w1", [4, c, 1, 1], uniform(4 * c, 3)),
    floatTensor("fcw", [6, 8], uniform(48, 4)),
    floatTensor("fcb", [6], uniform(6, 5)),
    int64Tensor("shape3", [3], [0, 2, -1]),
    int64Tensor("shape2", [2], [0, -1]),
    floatTensor("mm", [6, 5], uniform(30, 6)),
  ];
  const model = graphModel(nodes, inits, { name: "x", shape: ["N", c, 8, 8] }, {
    name: "logits",
    shape: ["N", 5],
  });
  const { expected, got, grad } = await compare(model, [2, 8, 8, c]);
  assertEquals(got.length, 10);
  assertLess(maxDiff(expected, got), 1e-4);
  assertGreater(maxDiff(grad, new Float32Array(grad.length)), 1e-4, "the gradient reaches the input");
});

Deno.test("importOnnx() matches onnxruntime on opset-10 semantics: Pad and Clip attributes, 2-D-coerced Softmax", async () => {
  const nodes = [
    node("Pad", ["x"], "padded", [intsAttr("pads", [0, 0, 1, 1, 0, 0, 0, 1]), floatAttr("value", 0.5)]),
    node("BatchNormalization", ["padded", "gamma", "beta", "mu", "var"], "bn", [floatAttr("epsilon", 1e-3)]),
    node("Clip", ["bn"], "clipped", [floatAttr("min", -1), floatAttr("max", 1)]),
    node("Softmax", ["clipped"], "soft"),
    node("Flatten", ["soft"], "flat"),
    node("MatMul", ["flat", "w"], "logits"),
  ];
  const inits = [
    floatTensor("gamma", [2], [1.2, 0.7]),
    floatTensor("beta", [2], [0.1, -0.2]),
    floatTensor("mu", [2], [0.3, 0.6]),
    floatTensor("var", [2], [0.5, 1.5]),
    floatTensor("w", [2 * 5 * 7, 3], uniform(210, 9)),
  ];
  const model = graphModel(nodes, inits, { name: "x", shape: [1, 2, 4, 5] }, {
    name: "logits",
    shape: [1, 3],
  }, 10);
  const { expected, got } = await compare(model, [1, 4, 5, 2]);
  assertLess(maxDiff(expected, got), 1e-5);
});

Deno.test("importOnnx() names the unsupported operators and refuses the model", async () => {
  const model = graphModel(
    [node("Shape", ["x"], "s"), node("Erf", ["x"], "e"), node("Relu", ["e"], "y")],
    [],
    { name: "x", shape: ["N", 1, 4, 4] },
    { name: "y", shape: ["N", 1, 4, 4] },
  );
  await assertRejects(() => importOnnx(model), Error, "unsupported ONNX operators: Shape, Erf");
});
