/**
 * A direct look at the gradient an attack would use: per-example norms of the input gradient of the loss.
 * A defence that zeroes them (exactly, or up to rounding) is masking its gradient, whatever its accuracy
 * under gradient attacks suggests.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { attackGradient } from "../attacks/loss.ts";
import type { Classifier } from "../models/classifier.ts";

/** Per-example l2 and l-inf norms of the input gradient of the cross-entropy of `model` at (x, y). */
export function inputGradientNorms(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
): { l2: Float32Array; linf: Float32Array } {
  const [l2, linf] = tf.tidy(() => {
    const g = attackGradient(model, x, y).reshape([x.shape[0], -1]);
    return [tf.sqrt(tf.sum(tf.square(g), 1)), tf.max(tf.abs(g), 1)];
  });
  const out = { l2: l2.dataSync() as Float32Array, linf: linf.dataSync() as Float32Array };
  tf.dispose([l2, linf]);
  return out;
}
