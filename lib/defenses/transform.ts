/**
 * Input transforms in front of a classifier: the defended model is `model(transform(x))`. A transform that
 * is piecewise constant (quantisation, thermometer codes, JPEG rounding) leaves the defended model's input
 * gradient zero or undefined, which stops gradient attacks without making the model any more robust: the
 * first kind of gradient masking of lecture section 5.1.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Classifier } from "../models/classifier.ts";

/** A map from a batch of images `[N, H, W, C]` to images of the same shape. */
export type Transform = (x: tf.Tensor4D) => tf.Tensor4D;

/**
 * The classifier `x => model(transform(x))`. Gradients flow through `transform` as tfjs defines them (zero
 * for rounding), or as {@linkcode bpda} redefines them. Like any classifier it creates tensors: call it
 * inside `tf.tidy`.
 */
export function withTransform(model: Classifier, transform: Transform): Classifier {
  return (images) => model(transform(images));
}
