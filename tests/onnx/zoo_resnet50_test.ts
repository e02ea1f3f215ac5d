/**
 * The import path on an ImageNet ResNet-50 of the ONNX model zoo's form: NCHW input [N, 3, 224, 224],
 * ImageNet normalisation, 1000 classes, base width 64 (25.6 M parameters). No such file can be downloaded
 * here, so advex builds one with random weights at full size and runs a forward pass on one image.
 */
import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertLess, assertRejects, assertThrows } from "@std/assert";
import { asClassifier, parameterCount, resnet50 } from "../../lib/models/mod.ts";
import {
  decodeModel,
  exportOnnx,
  IMAGENET_NORMALIZATION,
  importOnnx,
  loadOrtModel,
} from "../../lib/onnx/mod.ts";
import { setupBackend } from "../_helpers.ts";
import { maxDiff } from "./_models.ts";

await setupBackend();

Deno.test("importOnnx() and loadOrtModel() take a full-size ImageNet ResNet-50 in the model zoo's form", async () => {
  const model = resnet50(
    { inputShape: [224, 224, 3], classes: 1000 },
    { baseWidth: 64, stem: "imagenet" },
    3,
  );
  assertEquals(parameterCount(model), 25_557_032); // torchvision's resnet50
  // Damp each residual branch (as torchvision's zero_init_residual does, less drastically) so that random
  // weights give logits of a trained network's size rather than hundreds.
  for (const layer of model.layers.filter((l) => l.name.endsWith(".bn3"))) {
    const [gamma, ...rest] = layer.getWeights();
    const damped = tf.mul(gamma, 0.2);
    layer.setWeights([damped, ...rest]);
    damped.dispose();
  }
  const bytes = exportOnnx(model, { inputLayout: "NCHW" });
  const graph = decodeModel(bytes).graph;
  assertEquals(graph.inputs[0].shape, ["N", 3, 224, 224]);
  assertEquals(graph.nodes.filter((n) => n.opType === "Conv").length, 53);

  const x = tf.randomUniform([1, 224, 224, 3], 0, 1, "float32", 5) as tf.Tensor4D;
  const reference = tf.tidy(() => {
    const normalized = tf.div(tf.sub(x, IMAGENET_NORMALIZATION.mean), IMAGENET_NORMALIZATION.std);
    return asClassifier(model)(normalized as tf.Tensor4D).dataSync() as Float32Array;
  });
  model.dispose();

  const ort = await loadOrtModel(bytes, { normalization: IMAGENET_NORMALIZATION, provider: "cpu" });
  assertEquals(ort.signature.layout, "NCHW");
  assertEquals(ort.signature.inputShape, [224, 224, 3]);
  const ortLogits = await ort.logits(x);
  assertEquals(ortLogits.length, 1000);
  assertLess(maxDiff(reference, ortLogits), 1e-4);
  await assertRejects(
    () => ort.logits(tf.zeros([1, 28, 28, 1]) as tf.Tensor4D),
    RangeError,
    "[N, 224, 224, 3]",
  );
  await ort.dispose();

  const imported = await importOnnx(bytes, { normalization: IMAGENET_NORMALIZATION });
  const tfLogits = tf.tidy(() => imported.classifier(x).dataSync() as Float32Array);
  assertLess(maxDiff(reference, tfLogits), 1e-4);
  assertThrows(() => imported.classifier(tf.zeros([1, 3, 224, 224]) as tf.Tensor4D), RangeError, "(NHWC)");
  imported.dispose();
  x.dispose();
});
