/**
 * The attack objective and its input gradient: per-example cross-entropy of the classifier's logits, and the
 * gradient an attack ascends (or, for a targeted attack, descends towards the target class).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { inputGradientsOnly } from "../util/gradient_scope.ts";
import type { Classifier } from "../models/classifier.ts";

/** Per-example softmax cross-entropy, shape [N], for logits [N, K] and integer labels [N]. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, "int32"), logits.shape[1]);
    return tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
  });
}

/**
 * The gradient, with respect to the input, of the objective an attack ascends: the summed cross-entropy of
 * `labels` (untargeted), or its negative for a targeted attack (then `labels` are the targets).
 */
export function attackGradient(
  model: Classifier,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  targeted = false,
): tf.Tensor4D {
  // Only the input gradient is used: let the backend skip the parameter gradients tfjs would discard.
  return inputGradientsOnly(() =>
    tf.tidy(() => {
      const g = tf.grad((xi: tf.Tensor) => {
        const loss = tf.sum(crossEntropy(model(xi as tf.Tensor4D), labels));
        return targeted ? tf.neg(loss) : loss;
      });
      return g(x) as tf.Tensor4D;
    })
  );
}

/** Predicted classes as a typed array (runs the model once; disposes everything). */
export function predictLabels(model: Classifier, x: tf.Tensor4D): Int32Array {
  const t = tf.tidy(() => tf.argMax(model(x), 1));
  const out = Int32Array.from(t.dataSync());
  t.dispose();
  return out;
}
