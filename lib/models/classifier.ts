/**
 * The one interface attacks and evaluation see: a classifier is a plain function from a batch of images
 * [N, H, W, C] in [0, 1] to logits [N, K]. Attacks never know about layers or training.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** A model as a function from images to logits. Must be differentiable with respect to its input. */
export type Classifier = (images: tf.Tensor4D) => tf.Tensor2D;

/** A tfjs layers model as a {@linkcode Classifier} in inference mode (batch norm uses its moving averages). */
export function asClassifier(model: tf.LayersModel): Classifier {
  return (images) => model.apply(images, { training: false }) as tf.Tensor2D;
}
