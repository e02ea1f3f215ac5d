/**
 * importOnnx() on models PyTorch exported (`torch.onnx.export`, opsets 11, 13 and 17; written by
 * tools/fixtures/export_torch_fixtures.py, committed under tests/onnx/fixtures/torch/): torchvision-style
 * ResNets flattened with `torch.flatten` and with `x.view(x.size(0), -1)`, with Conv+BatchNorm folded and
 * kept apart, an MNIST CNN, a mobile-style 32x32 colour network, an NHWC model and one normalising inside.
 * Each must give PyTorch's logits and onnxruntime's, and an input gradient that finite differences confirm.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertGreater, assertLess } from "@std/assert";
import { importOnnx, loadOrtModel, type Normalization } from "../../lib/onnx/mod.ts";
import { setupBackend } from "../_helpers.ts";
import { maxDiff, uniform } from "./_models.ts";

await setupBackend();

const dir = new URL("./fixtures/torch/", import.meta.url);

interface Fixture {
  name: string;
  opset: number;
  layout: "NCHW" | "NHWC";
  inputShape: [number, number, number];
  normalization: Normalization | null;
  constantFolding: boolean;
  dynamicBatch: boolean;
  operators: string[];
  pixels: number[];
  logits: number[];
}

const manifest = JSON.parse(await Deno.readTextFile(new URL("manifest.json", dir))) as {
  torch: string;
  fixtures: { name: string }[];
};

Deno.test("the PyTorch fixtures are small and record the versions that wrote them", async () => {
  assert(manifest.torch.length > 0);
  assertGreater(manifest.fixtures.length, 8);
  let bytes = 0;
  for await (const e of Deno.readDir(dir)) bytes += (await Deno.stat(new URL(e.name, dir))).size;
  assertLess(bytes, 3e6);
});

for (const { name } of manifest.fixtures) {
  Deno.test(`importOnnx() of PyTorch's ${name}: PyTorch's and onnxruntime's logits within 1e-4, input gradient = finite differences`, async () => {
    const f = JSON.parse(await Deno.readTextFile(new URL(`${name}.json`, dir))) as Fixture;
    const path = new URL(`${name}.onnx`, dir).pathname;
    const options = { normalization: f.normalization ?? undefined };
    const n = f.pixels.length / f.inputShape.reduce((a, b) => a * b, 1);
    const images = Float32Array.from(f.pixels, (k) => k / 255);
    const x = tf.tensor4d(images, [n, ...f.inputShape]);

    const start = tf.memory().numTensors;
    const imported = await importOnnx(path, options);
    assertEquals(imported.signature.layout, f.layout);
    assertEquals(imported.signature.inputShape, f.inputShape);
    const got = tf.tidy(() => imported.classifier(x).dataSync() as Float32Array);
    assertLess(maxDiff(got, f.logits), 1e-4, "PyTorch's logits");

    // Three images (the first twice): any batch size runs, the fixed-batch file's in chunks of 2.
    const three = tf.tidy(() =>
      imported.classifier(tf.concat([x, tf.slice(x, [0, 0, 0, 0], [1, -1, -1, -1])]))
        .dataSync() as Float32Array
    );
    const k = got.length / n;
    assertLess(maxDiff(three, [...got, ...got.subarray(0, k)]), 1e-5, "a batch of 3");

    const ort = await loadOrtModel(path, { ...options, provider: "cpu" });
    const reference = await ort.logits(x);
    assertLess(maxDiff(got, reference), 1e-4, "onnxruntime's logits");

    // The gradient g of a fixed linear function of the logits, against central differences of onnxruntime's
    // forward pass (an implementation independent of the import) along g / |g|: they must give |g|.
    const w = uniform(got.length, 7);
    const weights = tf.tensor2d(w, [n, got.length / n]);
    const grad = tf.tidy(() =>
      tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(imported.classifier(xi as tf.Tensor4D), weights)))(x)
        .dataSync() as Float32Array
    );
    const norm = Math.sqrt(grad.reduce((s, g) => s + g * g, 0));
    assertGreater(norm, 1e-4, "the gradient reaches the input");
    const h = 1e-2;
    const loss = async (sign: number) => {
      const shifted = images.map((v, i) => v + sign * h * grad[i] / norm);
      const out = await ort.logits(shifted, n);
      return out.reduce((s, v, i) => s + v * w[i], 0);
    };
    const numeric = ((await loss(1)) - (await loss(-1))) / (2 * h);
    assertLess(Math.abs(numeric - norm), 0.02 * norm, `|g| = ${norm}, finite differences ${numeric}`);

    const before = tf.memory().numTensors;
    tf.dispose(imported.classifier(x));
    assertEquals(tf.memory().numTensors, before, "a call leaves no tensors behind");
    await ort.dispose();
    imported.dispose();
    tf.dispose([x, weights]);
    assertEquals(tf.memory().numTensors, start - 1, "dispose() frees every weight (and x is gone)");
  });
}
