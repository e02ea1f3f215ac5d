/**
 * Shared test fixtures: backend set-up and a small trained model, so tests of attacks and evaluation run on
 * a real classifier in a few seconds.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend/mod.ts";
import { type Dataset, loadDataset, stratifiedSubset } from "../lib/data/mod.ts";
import { asClassifier, buildModel, type Classifier, type ForwardLogits } from "../lib/models/mod.ts";
import { train } from "../lib/train/mod.ts";

/** Selects the backend the library would pick (or ADVEX_BACKEND). */
export async function setupBackend(): Promise<void> {
  await initBackend();
}

let trained: Promise<{ model: tf.LayersModel; classifier: Classifier; test: Dataset }> | undefined;

/** An MLP trained on 3,000 MNIST images (about 95% test accuracy); built once per test file. */
export function smallTrainedModel(): Promise<
  { model: tf.LayersModel; classifier: Classifier; test: Dataset }
> {
  trained ??= (async () => {
    await setupBackend();
    const data = stratifiedSubset(await loadDataset("mnist", "train"), 3000, { seed: 11 });
    const test = stratifiedSubset(await loadDataset("mnist", "test"), 300, { seed: 12 });
    const model = buildModel({ kind: "mlp", hidden: [64] }, { inputShape: [28, 28, 1], classes: 10 }, 3);
    await train(model, data, {
      epochs: 4,
      batchSize: 64,
      optimizer: { name: "adam", learningRate: 3e-3 },
      seed: 5,
      progress: "silent",
    });
    return { model, classifier: asClassifier(model), test };
  })();
  return trained;
}

/** Random images in [0, 1] and labels, from a fixed seed. */
export function randomBatch(n: number, seed: number, classes = 10): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return tf.tidy(() => ({
    x: tf.randomUniform([n, 28, 28, 1], 0, 1, "float32", seed) as tf.Tensor4D,
    y: tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7 + seed) % classes), "int32"),
  }));
}

/** The largest absolute difference between two tensors of the same shape. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** The mean of 0/1 flags (e.g. an attack's per-example success). */
export function mean(a: Uint8Array): number {
  return a.reduce((s, v) => s + v, 0) / a.length;
}

/** A classifier's own logits as a forward-only path (images of `shape`, MNIST's by default). */
export function forwardOf(
  classifier: Classifier,
  shape: [number, number, number] = [28, 28, 1],
): ForwardLogits {
  return (images, n) => {
    const logits = tf.tidy(() => classifier(tf.tensor4d(images, [n, ...shape])));
    const out = Float32Array.from(logits.dataSync());
    logits.dispose();
    return Promise.resolve(out);
  };
}

/** Runs `fn` with `ADVEX_CACHE_DIR` set to a fresh temporary folder, removed afterwards. */
export async function inCache(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  Deno.env.set("ADVEX_CACHE_DIR", dir);
  try {
    await fn(dir);
  } finally {
    Deno.env.delete("ADVEX_CACHE_DIR");
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `fn` collecting what it writes to `console.error` instead of printing it. */
export function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; messages: string[] }> {
  const messages: string[] = [];
  const error = console.error;
  console.error = (m: string) => messages.push(String(m));
  return fn().then((value) => ({ value, messages })).finally(() => (console.error = error));
}

/** Whether `pid` is a live process on Linux (neither gone nor a zombie). */
export function processAlive(pid: number): boolean {
  try {
    return !/^State:\s+[ZX]/m.test(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return false;
  }
}

/** Polls `ok` every 100 ms until it holds; after `seconds`, an error naming `what`. */
export async function waitFor(
  what: string,
  ok: () => boolean | Promise<boolean>,
  seconds: number,
): Promise<void> {
  const deadline = performance.now() + seconds * 1000;
  while (!(await ok())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
