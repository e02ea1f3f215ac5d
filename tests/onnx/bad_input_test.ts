import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { buildModel } from "../../lib/models/mod.ts";
import { exportOnnx, importOnnx, loadOnnx, loadOrtModel, parseOnnx, saveOnnx } from "../../lib/onnx/mod.ts";
import { setupBackend } from "../_helpers.ts";

await setupBackend();
const model = buildModel({ kind: "madry-cnn", scale: 1 }, { inputShape: [28, 28, 1], classes: 10 }, 1);
const bytes = exportOnnx(model);

Deno.test("loadOnnx() says a missing file is not found, for onnxruntime and for the tfjs import", async () => {
  const path = `${await Deno.makeTempDir()}/nothing-here.onnx`;
  await assertRejects(() => loadOnnx(path), Error, `ONNX model file ${path} not found`);
  await assertRejects(() => loadOrtModel(path, { provider: "cpu" }), Error, "not found");
  await assertRejects(() => importOnnx(path), Error, "not found");
});

Deno.test("loadOnnx() calls a truncated file truncated, wherever it was cut", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/cut.onnx`;
  for (const keep of [1, 10, 100, Math.floor(bytes.length / 2), bytes.length - 1]) {
    await Deno.writeFile(path, bytes.subarray(0, keep));
    await assertRejects(
      () => loadOrtModel(path, { provider: "cpu" }),
      Error,
      "not a valid ONNX model (truncated or corrupt?)",
    );
    await assertRejects(() => importOnnx(path), Error, `${path}: not a valid ONNX model`);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parseOnnx() rejects an empty file and bytes that are not ONNX", () => {
  assertThrows(() => parseOnnx(new Uint8Array(0), "empty.onnx"), Error, "empty.onnx: the file is empty");
  const text = new TextEncoder().encode("this is a text file, not a model\n");
  assertThrows(() => parseOnnx(text, "notes.onnx"), Error, "notes.onnx: not a valid ONNX model");
});

Deno.test("loadOrtModel() and importOnnx() reject images of the wrong shape, naming the expected one", async () => {
  const dir = await Deno.makeTempDir();
  await saveOnnx(model, `${dir}/cnn.onnx`);
  const ort = await loadOrtModel(`${dir}/cnn.onnx`, { provider: "cpu" });
  const imported = await importOnnx(`${dir}/cnn.onnx`);
  const wrong = [
    tf.zeros([2, 28, 28, 3]),
    tf.zeros([2, 1, 28, 28]),
    tf.zeros([2, 32, 32, 1]),
  ] as tf.Tensor4D[];
  for (const x of wrong) {
    await assertRejects(() => ort.logits(x), RangeError, "takes images [N, 28, 28, 1] (NHWC)");
    assertThrows(() => imported.classifier(x), RangeError, "takes images [N, 28, 28, 1] (NHWC)");
  }
  await assertRejects(() => ort.logits(new Float32Array(700)), RangeError, "do not make whole images");
  tf.dispose(wrong);
  imported.dispose();
  await ort.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("importOnnx() refuses a batch of 0 and int32 images, naming the model; onnxruntime refuses int32 too", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/cnn.onnx`;
  await saveOnnx(model, path);
  const imported = await importOnnx(path);
  const ort = await loadOrtModel(path, { provider: "cpu" });
  const empty = tf.zeros([0, 28, 28, 1]) as tf.Tensor4D;
  const ints = tf.zeros([2, 28, 28, 1], "int32") as tf.Tensor4D;
  const before = tf.memory().numTensors;
  assertThrows(() => imported.classifier(empty), RangeError, `${path}: got a batch of 0 images`);
  assertThrows(
    () => imported.classifier(ints),
    TypeError,
    `${path}: takes float32 images in [0, 1], got a int32`,
  );
  assertEquals(tf.memory().numTensors, before, "no tensor leaks from the refused calls");
  await assertRejects(
    () => ort.logits(ints),
    TypeError,
    `${path} takes float32 images in [0, 1], got a int32 tensor`,
  );
  await assertRejects(
    () => ort.logits(new Int32Array(784) as unknown as Float32Array),
    TypeError,
    `${path} takes float32 images in [0, 1] (a Float32Array or a float32 tensor [N, 28, 28, 1]), got a Int32Array`,
  );
  assertEquals((await ort.logits(empty)).length, 0, "onnxruntime answers an empty batch with no logits");
  tf.dispose([empty, ints]);
  imported.dispose();
  await ort.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("exportOnnx() names the layers it cannot export", () => {
  const odd = tf.sequential({
    layers: [
      tf.layers.upSampling2d({ inputShape: [4, 4, 1], size: [2, 2] }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2 }),
    ],
  });
  assertThrows(() => exportOnnx(odd), Error, "layers ONNX export does not support: UpSampling2D");
  odd.dispose();
});
