/**
 * The gradient of batch normalisation without a full-size Tile.
 *
 * tfjs's own gradient of `FusedBatchNorm` tiles the per-channel factor 1/sqrt(var + eps) to the whole
 * activation shape before multiplying, where broadcasting gives the same numbers. On the wasm backend that
 * Tile is the most expensive kernel of a ResNet training step (about 40% of it for a ResNet-50). This
 * registration computes the same five gradients (input, mean, variance, scale, offset) with broadcasting.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

let registered = false;

/** Registers the broadcasting gradient of `FusedBatchNorm` (once; later calls do nothing). */
export function registerBatchNormGradient(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: "FusedBatchNorm",
    inputsToSave: ["x", "mean", "variance", "scale"],
    gradFunc: (dyIn: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const dy = Array.isArray(dyIn) ? dyIn[0] : dyIn;
      const eps = (attrs as unknown as { varianceEpsilon: number }).varianceEpsilon;
      const [x, mean, variance, scale] = saved;
      const scaleValue = scale == null ? tf.scalar(1) : scale;
      // Per-channel statistics (rank 1) are summed over every axis but the last; full-shape ones are not.
      const axes = mean.rank === 1 ? [...Array(x.rank - 1).keys()] : [];
      const reduce = (t: tf.Tensor) => tf.reshape(axes.length ? tf.sum(t, axes) : t, mean.shape);
      const centered = tf.sub(x, mean);
      const dyScaled = tf.mul(dy, scaleValue);
      const rstd = tf.rsqrt(tf.add(variance, tf.scalar(eps)));
      return {
        x: () => tf.reshape(tf.mul(dyScaled, rstd), x.shape),
        mean: () => reduce(tf.mul(dyScaled, tf.neg(rstd))),
        variance: () => reduce(tf.mul(tf.mul(tf.mul(tf.pow(rstd, 3), -0.5), centered), dyScaled)),
        scale: () => reduce(tf.mul(dy, tf.mul(centered, rstd))),
        offset: () => reduce(dy),
      };
    },
  });
}
