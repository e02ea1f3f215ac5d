/**
 * The one interface attacks and evaluation see: a classifier is a plain function from a batch of images
 * [N, H, W, C] in [0, 1] to logits [N, K]. Attacks never know about layers or training.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { fusedClassifier } from "./fused_classifier.ts";

/** A model as a function from images to logits. Must be differentiable with respect to its input. */
export type Classifier = (images: tf.Tensor4D) => tf.Tensor2D;

/**
 * A forward-only path to a classifier's logits: `[n * classes]` (row-major) for `n` images given as NHWC
 * floats. An onnxruntime session of the same model is one (`OrtModel.logits`); attacks that need no
 * gradient (Square) may send their queries to it.
 */
export type ForwardLogits = (images: Float32Array, n: number) => Promise<Float32Array>;

/** Row-wise argmax of `n` rows of logits (`[n * classes]`, row-major): each row's first largest entry. */
export function argmaxRows(logits: Float32Array, n: number): Int32Array {
  const k = n ? logits.length / n : 0;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

/**
 * A tfjs layers model as a {@linkcode Classifier} in inference mode (batch norm uses its moving averages).
 * Sequential stacks of convolutions, dense layers, max-pooling and flattening get the fused form of
 * `fused_classifier.ts` (the same outputs and gradients, fewer passes under `tf.grad`); other models run
 * through `model.apply`.
 */
export function asClassifier(model: tf.LayersModel): Classifier {
  return fusedClassifier(model) ?? ((images) => model.apply(images, { training: false }) as tf.Tensor2D);
}
