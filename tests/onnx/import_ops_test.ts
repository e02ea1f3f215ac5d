/**
 * importOnnx() on graphs written by hand with the operators and attributes advex's exporter never emits
 * (model-zoo and PyTorch exports do), checked against onnxruntime as the reference implementation.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertGreater, assertLess, assertRejects } from "@std/assert";
import { IMPORTABLE_OPERATORS, importOnnx, loadOrtModel, type OnnxModel } from "../../lib/onnx/mod.ts";
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

Deno.test("importOnnx() matches onnxruntime on a tf2onnx-style NHWC graph: LRN, PRelu, Split, reductions, Squeeze, shape arithmetic before Reshape", async () => {
  const c = 4;
  const nodes = [
    node("Transpose", ["x"], "nchw", [intsAttr("perm", [0, 3, 1, 2])]),
    // A kernel stored HWIO and transposed in the graph, and a bias computed from constants: both fold.
    node("Transpose", ["w_hwio"], "w", [intsAttr("perm", [3, 2, 0, 1])]),
    node("Mul", ["b_half", "two"], "b"),
    node("Conv", ["nchw", "w", "b"], "conv", [
      intsAttr("kernel_shape", [3, 3]),
      intsAttr("pads", [1, 1, 1, 1]),
    ]),
    node("PRelu", ["conv", "slope"], "prelu"),
    node("LRN", ["prelu"], "lrn", [intAttr("size", 3), floatAttr("alpha", 0.5), floatAttr("beta", 0.75)]),
    { ...node("Split", ["lrn", "split"], "s0", [intAttr("axis", 1)]), outputs: ["s0", "s1"] },
    node("Max", ["s0", "s1"], "mx"),
    node("Min", ["s0", "s1"], "mn"),
    node("Mean", ["mx", "mn", "s0"], "avg3"),
    node("HardSwish", ["avg3"], "hs"),
    node("Erf", ["hs"], "erf"),
    node("Exp", ["erf"], "ex"),
    node("Sqrt", ["ex"], "sq"),
    node("Pow", ["sq", "three"], "cube"),
    node("ReduceMean", ["cube"], "gap", [intsAttr("axes", [2, 3]), intAttr("keepdims", 1)]),
    node("Squeeze", ["gap", "axes23"], "sqz"),
    node("ReduceSum", ["cube", "axes23"], "rsum", [intAttr("keepdims", 0)]),
    node("Concat", ["sqz", "rsum"], "feat", [intAttr("axis", 1)]),
    // Shape arithmetic on the symbolic batch: Reshape(feat, Concat(Slice(Shape(feat), 0, 1), [-1])).
    node("Shape", ["feat"], "shp"),
    node("Slice", ["shp", "zero1", "one1"], "batch"),
    node("Cast", ["batch"], "batch64", [intAttr("to", 7)]),
    node("Concat", ["batch64", "minus1"], "target", [intAttr("axis", 0)]),
    node("Reshape", ["feat", "target"], "flat"),
    node("Unsqueeze", ["flat", "axes1"], "unsq"),
    node("Squeeze", ["unsq", "axes1"], "flat2"),
    node("MatMul", ["flat2", "fc"], "mm"),
    node("Add", ["mm", "fcb"], "logits"),
  ];
  const inits = [
    floatTensor("w_hwio", [3, 3, 3, c], uniform(9 * 3 * c, 21)),
    floatTensor("b_half", [c], uniform(c, 22)),
    floatTensor("two", [], [2]),
    floatTensor("slope", [c, 1, 1], [0.1, 0.2, 0.3, 0.4]),
    int64Tensor("split", [2], [2, 2]),
    floatTensor("three", [], [3]),
    int64Tensor("axes23", [2], [2, 3]),
    int64Tensor("axes1", [1], [1]),
    int64Tensor("zero1", [1], [0]),
    int64Tensor("one1", [1], [1]),
    int64Tensor("minus1", [1], [-1]),
    floatTensor("fc", [4, 3], uniform(12, 23)),
    floatTensor("fcb", [3], uniform(3, 24)),
  ];
  const model = graphModel(nodes, inits, { name: "x", shape: ["N", 6, 7, 3] }, {
    name: "logits",
    shape: ["N", 3],
  }, 14);
  const x = tf.tensor4d(uniform(2 * 6 * 7 * 3, 42, 0, 1), [2, 6, 7, 3]);
  const ort = await loadOrtModel(model, { provider: "cpu" });
  const expected = await ort.logits(x);
  await ort.dispose();
  const imported = await importOnnx(model);
  assertEquals(imported.signature.layout, "NHWC");
  assertEquals(imported.foldedNodes, 2, "the weight Transpose and the bias Mul");
  const got = tf.tidy(() => imported.classifier(x).dataSync() as Float32Array);
  assertEquals(got.length, 6);
  assertLess(maxDiff(expected, got), 1e-4);
  const grad = tf.tidy(() =>
    tf.grad((xi: tf.Tensor) => tf.sum(imported.classifier(xi as tf.Tensor4D)))(x).dataSync() as Float32Array
  );
  assertGreater(maxDiff(grad, new Float32Array(grad.length)), 1e-4, "the gradient reaches the input");
  imported.dispose();
  x.dispose();
});

Deno.test("importOnnx() matches onnxruntime on a model-zoo MNIST (opset 8): weights reshaped in the graph, auto_pad, a batch fixed at 1", async () => {
  const nodes = [
    node("Reshape", ["w_flat", "w_shape"], "w"),
    node("Conv", ["x", "w"], "conv", [
      intsAttr("kernel_shape", [5, 5]),
      stringAttr("auto_pad", "SAME_UPPER"),
    ]),
    node("Add", ["conv", "bias"], "plus"),
    node("Relu", ["plus"], "relu"),
    node("MaxPool", ["relu"], "pool", [intsAttr("kernel_shape", [3, 3]), intsAttr("strides", [3, 3])]),
    node("Reshape", ["pool", "flat_shape"], "flat"),
    node("MatMul", ["flat", "fc"], "mm"),
    node("Add", ["mm", "fcb"], "logits"),
  ];
  const inits = [
    floatTensor("w_flat", [4 * 25], uniform(100, 31)),
    int64Tensor("w_shape", [4], [4, 1, 5, 5]),
    floatTensor("bias", [4, 1, 1], uniform(4, 32)),
    int64Tensor("flat_shape", [2], [1, 4 * 9 * 9]),
    floatTensor("fc", [4 * 81, 10], uniform(3240, 33, -0.1, 0.1)),
    floatTensor("fcb", [1, 10], uniform(10, 34)),
  ];
  const model = graphModel(nodes, inits, { name: "x", shape: [1, 1, 28, 28] }, {
    name: "logits",
    shape: [1, 10],
  }, 8);
  const { expected, got, grad } = await compare(model, [3, 28, 28, 1]);
  assertEquals(got.length, 30, "three images through a file that fixes the batch at 1");
  assertLess(maxDiff(expected, got), 1e-4);
  assertGreater(maxDiff(grad, new Float32Array(grad.length)), 1e-4, "the gradient reaches the input");
});

Deno.test("importOnnx() matches onnxruntime on strided and reversed Slice, Gather, Expand and Cast of image tensors", async () => {
  const nodes = [
    node("Slice", ["x", "rstart", "rend", "raxes", "rsteps"], "rev"),
    node("Slice", ["rev", "starts", "ends", "axes", "steps"], "sl"),
    node("Gather", ["sl", "idx"], "ga", [intAttr("axis", 1)]),
    node("Expand", ["ga", "eshape"], "ex"),
    node("Cast", ["ex"], "cast", [intAttr("to", 1)]),
    node("Flatten", ["cast"], "flat"),
    node("MatMul", ["flat", "w"], "y"),
  ];
  const inits = [
    int64Tensor("rstart", [1], [-1]),
    int64Tensor("rend", [1], [-1000]),
    int64Tensor("raxes", [1], [1]),
    int64Tensor("rsteps", [1], [-1]),
    int64Tensor("starts", [2], [1, 0]),
    int64Tensor("ends", [2], [9223372036854775807n as unknown as number, -1]),
    int64Tensor("axes", [2], [2, 3]),
    int64Tensor("steps", [2], [2, 3]),
    int64Tensor("idx", [2], [2, 0]),
    int64Tensor("eshape", [4], [1, 2, 1, 1]),
    floatTensor("w", [2 * 4 * 3, 4], uniform(96, 41)),
  ];
  const model = graphModel(nodes, inits, { name: "x", shape: ["N", 3, 8, 9] }, {
    name: "y",
    shape: ["N", 4],
  });
  const { expected, got, grad } = await compare(model, [2, 8, 9, 3]);
  assertEquals(got.length, 8);
  assertLess(maxDiff(expected, got), 1e-5);
  assertGreater(maxDiff(grad, new Float32Array(grad.length)), 1e-4, "the gradient reaches the input");
});

Deno.test("importOnnx() folds Shape of a fixed-size input at import, and runs it on each call otherwise", async () => {
  const nodes = [
    node("Shape", ["x"], "shp"),
    node("Gather", ["shp", "zero"], "n"),
    node("Unsqueeze", ["n", "axes0"], "n1"),
    node("Concat", ["n1", "minus1"], "target", [intAttr("axis", 0)]),
    node("Reshape", ["x", "target"], "flat"),
    node("MatMul", ["flat", "w"], "y"),
  ];
  const inits = [
    int64Tensor("zero", [], [0]),
    int64Tensor("axes0", [1], [0]),
    int64Tensor("minus1", [1], [-1]),
    floatTensor("w", [12, 2], uniform(24, 5)),
  ];
  const fixed = await importOnnx(
    graphModel(nodes, inits, { name: "x", shape: [3, 1, 3, 4] }, { name: "y", shape: [3, 2] }),
  );
  assertEquals(fixed.foldedNodes, 4, "the whole shape chain: Shape, Gather, Unsqueeze, Concat");
  const dynamic = await importOnnx(
    graphModel(nodes, inits, { name: "x", shape: ["N", 1, 3, 4] }, { name: "y", shape: ["N", 2] }),
  );
  assertEquals(dynamic.foldedNodes, 0);
  for (const n of [1, 5]) {
    const x = tf.tensor4d(uniform(n * 12, n), [n, 3, 4, 1]);
    assertEquals(dynamic.classifier(x).shape, [n, 2]);
    x.dispose();
  }
  const x3 = tf.tensor4d(uniform(36, 3), [3, 3, 4, 1]);
  assertLess(maxDiff(fixed.classifier(x3).dataSync(), dynamic.classifier(x3).dataSync()), 1e-6);
  tf.dispose(x3);
  fixed.dispose();
  dynamic.dispose();
});

Deno.test("IMPORTABLE_OPERATORS lists every operator of the conversion tables, sorted", () => {
  for (const op of ["Conv", "Gemm", "Shape", "Gather", "Unsqueeze", "Concat", "Reshape", "Identity", "LRN"]) {
    assert(IMPORTABLE_OPERATORS.includes(op), op);
  }
  assertEquals([...IMPORTABLE_OPERATORS].sort(), IMPORTABLE_OPERATORS);
  assertEquals(new Set(IMPORTABLE_OPERATORS).size, IMPORTABLE_OPERATORS.length);
});

Deno.test("importOnnx() names the unsupported operators and refuses the model", async () => {
  const model = graphModel(
    [node("Resize", ["x"], "s"), node("NonMaxSuppression", ["x"], "e"), node("Relu", ["e"], "y")],
    [],
    { name: "x", shape: ["N", 1, 4, 4] },
    { name: "y", shape: ["N", 1, 4, 4] },
  );
  await assertRejects(
    () => importOnnx(model),
    Error,
    "unsupported ONNX operators: Resize, NonMaxSuppression",
  );
});

Deno.test("importOnnx() says which operator needs constant inputs when a shape-only one reads the image", async () => {
  const model = graphModel(
    [node("ConstantOfShape", ["x"], "y")],
    [],
    { name: "x", shape: ["N", 1, 4, 4] },
    { name: "y", shape: ["N", 1, 4, 4] },
  );
  await assertRejects(
    () => importOnnx(model),
    Error,
    "ConstantOfShape y is supported on constants and shapes only",
  );
});
