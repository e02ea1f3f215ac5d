/**
 * R+FGSM (Tramer et al. 2018): a random sign step of size alpha, then one gradient-sign step of eps - alpha
 * from there. Single-step like FGSM, but it escapes the sharp local maximum a masked model puts at x.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Classifier } from "../models/classifier.ts";
import { seedFrom } from "../random/prng.ts";
import { checkBatch, finish, prngFrom, threatFrom } from "./common.ts";
import { gradientStep } from "./fgsm.ts";
import type { AttackResult, CommonAttackOptions } from "./types.ts";

/** Options of {@linkcode rfgsm}. */
export interface RfgsmOptions extends CommonAttackOptions {
  /** Size of the random sign step, below eps. Default eps / 2 (the paper's choice). */
  alpha?: number;
}

/**
 * R+FGSM: x' = clip(x + alpha * sign(N(0, I))), then x_adv = proj(x' + (eps - alpha) * sign(grad J(x'))).
 * l-inf only. Uses exactly one gradient evaluation.
 */
export function rfgsm(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  options: RfgsmOptions,
): AttackResult {
  checkBatch(x, y, "rfgsm");
  const threat = threatFrom(options);
  if (threat.norm !== "linf") {
    throw new RangeError(`rfgsm: only the l-inf threat model is defined, got ${threat.norm}`);
  }
  const alpha = options.alpha ?? threat.eps / 2;
  if (!(alpha >= 0 && alpha <= threat.eps)) {
    throw new RangeError(`rfgsm: alpha must be in [0, eps], got ${alpha}`);
  }
  const targeted = options.targeted ?? false;
  const seed = seedFrom(prngFrom(options));
  const adversarial = tf.tidy(() => {
    const noise = tf.sign(tf.randomNormal(x.shape, 0, 1, "float32", seed));
    const start = tf.clipByValue(
      tf.add(x, tf.mul(noise, alpha)),
      threat.clipMin,
      threat.clipMax,
    ) as tf.Tensor4D;
    return gradientStep(model, start, x, y, threat, threat.eps - alpha, targeted);
  });
  return finish(model, adversarial, y, targeted, 1);
}
