/**
 * Quantisation of pixel values: a piecewise-constant input transform whose gradient is zero almost
 * everywhere, and a smooth staircase that approximates it, a surrogate for BPDA's backward pass.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Derivative } from "./bpda.ts";
import type { Transform } from "./transform.ts";

function checkLevels(levels: number, name: string): void {
  if (!Number.isInteger(levels) || levels < 2) {
    throw new RangeError(`${name}: levels must be an integer >= 2, got ${levels}`);
  }
}

/**
 * Rounds every pixel of `x` (in [0, 1]) to the nearest of `levels` evenly spaced values 0, 1/(levels - 1),
 * ..., 1. Piecewise constant: its gradient is exactly zero wherever it is defined (tfjs defines it as zero
 * at the jumps too).
 */
export function quantize(x: tf.Tensor4D, levels: number): tf.Tensor4D {
  checkLevels(levels, "quantize");
  return tf.tidy(() => {
    const steps = levels - 1;
    return tf.div(tf.round(tf.mul(tf.clipByValue(x, 0, 1), steps)), steps) as tf.Tensor4D;
  });
}

/** Options of {@linkcode softQuantize}. */
export interface SoftQuantizeOptions {
  /**
   * Width of each smoothed jump, as a fraction of the distance between levels: small values follow the
   * staircase closely, large ones approach the identity's slope. Default 0.1.
   */
  temperature?: number;
}

/**
 * A smooth staircase that tends to {@linkcode quantize} as the temperature goes to 0: a sum of sigmoids,
 * one per jump, each of height 1/(levels - 1), centred half-way between two levels. Its gradient is
 * positive everywhere, large near the jumps and small on the steps.
 */
export function softQuantize(x: tf.Tensor4D, levels: number, options: SoftQuantizeOptions = {}): tf.Tensor4D {
  checkLevels(levels, "softQuantize");
  const temperature = options.temperature ?? 0.1;
  if (!(temperature > 0)) throw new RangeError(`softQuantize: temperature must be > 0, got ${temperature}`);
  const step = 1 / (levels - 1);
  return tf.tidy(() => {
    let sum: tf.Tensor = tf.zerosLike(x);
    for (let k = 1; k < levels; k++) {
      const jump = (k - 0.5) * step;
      sum = tf.add(sum, tf.sigmoid(tf.div(tf.sub(x, jump), step * temperature)));
    }
    return tf.mul(sum, step) as tf.Tensor4D;
  });
}

/**
 * The derivative of {@linkcode softQuantize} at every pixel of `x`, in closed form: the sum over the jumps of
 * sigmoid'(z) / temperature, with z the pixel's scaled distance to the jump.
 */
export function softQuantizeGradient(
  x: tf.Tensor4D,
  levels: number,
  options: SoftQuantizeOptions = {},
): tf.Tensor4D {
  checkLevels(levels, "softQuantizeGradient");
  const temperature = options.temperature ?? 0.1;
  if (!(temperature > 0)) {
    throw new RangeError(`softQuantizeGradient: temperature must be > 0, got ${temperature}`);
  }
  const step = 1 / (levels - 1);
  return tf.tidy(() => {
    let sum: tf.Tensor = tf.zerosLike(x);
    for (let k = 1; k < levels; k++) {
      const s = tf.sigmoid(tf.div(tf.sub(x, (k - 0.5) * step), step * temperature));
      sum = tf.add(sum, tf.mul(s, tf.sub(1, s)));
    }
    return tf.div(sum, temperature) as tf.Tensor4D;
  });
}

/** {@linkcode quantize} with `levels` as a {@linkcode Transform}. */
export function quantizer(levels: number): Transform {
  checkLevels(levels, "quantizer");
  return (x) => quantize(x, levels);
}

/** {@linkcode softQuantizeGradient} with `levels` and `options`, as BPDA's surrogate derivative. */
export function softQuantizeDerivative(levels: number, options: SoftQuantizeOptions = {}): Derivative {
  checkLevels(levels, "softQuantizeDerivative");
  return (x) => softQuantizeGradient(x, levels, options);
}

/** {@linkcode softQuantize} with `levels` and `options` as a {@linkcode Transform}. */
export function softQuantizer(levels: number, options: SoftQuantizeOptions = {}): Transform {
  checkLevels(levels, "softQuantizer");
  return (x) => softQuantize(x, levels, options);
}
