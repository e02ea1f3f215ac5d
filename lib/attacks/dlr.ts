/**
 * The difference-of-logits-ratio losses of Croce and Hein (2020), untargeted and targeted: margins of the
 * logits divided by a spread of the largest logits, so that they do not change when the logits are shifted
 * or rescaled (unlike the cross-entropy, whose gradient vanishes on a model with a large logit scale).
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * The logits' k largest values per row, sorted in decreasing order, as k tensors of shape [N]. Differentiable
 * (tfjs has no gradient for `topk`): each value is picked by a one-hot mask of an argmax, and the earlier
 * winners are masked out before the next argmax, so ties count once each.
 */
export function largestLogits(logits: tf.Tensor2D, k: number): tf.Tensor1D[] {
  const classes = logits.shape[1];
  if (!Number.isInteger(k) || k < 1 || k > classes) {
    throw new RangeError(`largestLogits: k must be an integer in [1, ${classes}], got ${k}`);
  }
  return tf.tidy(() => {
    const out: tf.Tensor1D[] = [];
    let rest: tf.Tensor2D = logits;
    const floor = tf.fill(logits.shape, -3.4e38);
    for (let i = 0; i < k; i++) {
      const pick = tf.oneHot(tf.argMax(rest, 1), classes);
      out.push(tf.sum(tf.mul(logits, pick), 1) as tf.Tensor1D);
      rest = tf.where(tf.cast(pick, "bool"), floor, rest) as tf.Tensor2D;
    }
    return out;
  });
}

function checkClasses(logits: tf.Tensor2D, least: number, name: string): void {
  if (logits.rank !== 2 || logits.shape[1] < least) {
    throw new RangeError(`${name} needs logits [N, K] with K >= ${least}, got shape [${logits.shape}]`);
  }
}

function logitOf(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.sum(tf.mul(logits, tf.oneHot(tf.cast(labels, "int32"), logits.shape[1])), 1) as tf.Tensor1D;
}

/**
 * The DLR loss per example, shape [N]: -(z_y - max_{j != y} z_j) / (z_(1) - z_(3) + 1e-12), with z_(i) the
 * i-th largest logit. Positive once the example is misclassified; an attack ascends it. Needs K >= 3.
 */
export function dlrLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  checkClasses(logits, 3, "dlrLoss");
  return tf.tidy(() => {
    const [z1, , z3] = largestLogits(logits, 3);
    const zy = logitOf(logits, labels);
    const isY = tf.cast(tf.oneHot(tf.cast(labels, "int32"), logits.shape[1]), "bool");
    const others = tf.max(tf.where(isY, tf.fill(logits.shape, -3.4e38), logits), 1);
    return tf.div(tf.sub(others, zy), tf.add(tf.sub(z1, z3), 1e-12)) as tf.Tensor1D;
  });
}

/**
 * The targeted DLR loss per example, shape [N]: -(z_y - z_t) / (z_(1) - (z_(3) + z_(4)) / 2 + 1e-12) for true
 * labels y and targets t. An attack ascends it (it pushes z_t above z_y). Needs K >= 4.
 */
export function targetedDlrLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, targets: tf.Tensor1D): tf.Tensor1D {
  checkClasses(logits, 4, "targetedDlrLoss");
  return tf.tidy(() => {
    const [z1, , z3, z4] = largestLogits(logits, 4);
    const spread = tf.add(tf.sub(z1, tf.mul(tf.add(z3, z4), 0.5)), 1e-12);
    return tf.div(tf.sub(logitOf(logits, targets), logitOf(logits, labels)), spread) as tf.Tensor1D;
  });
}
