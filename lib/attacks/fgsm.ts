/**
 * The fast gradient method: one steepest-ascent step of length eps in the threat model's norm (FGSM for
 * l-inf, FGM for l2), optionally from a random start with a smaller step (Wong et al.'s "FGSM with random
 * start", step 1.25 eps).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Classifier } from "../models/classifier.ts";
import { seedFrom } from "../random/prng.ts";
import { checkBatch, finish, prngFrom, threatFrom } from "./common.ts";
import { attackGradient } from "./loss.ts";
import type { ThreatModel } from "./threat.ts";
import type { AttackResult, CommonAttackOptions } from "./types.ts";

/**
 * One attack step: the gradient at `xAdv`, a step of `stepSize` in the threat's norm, projected back onto
 * the ball around `x`. FGSM, PGD and R+FGSM are all made of this step, so they cannot drift apart.
 */
export function gradientStep(
  model: Classifier,
  xAdv: tf.Tensor4D,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  threat: ThreatModel,
  stepSize: number,
  targeted: boolean,
): tf.Tensor4D {
  return tf.tidy(() => {
    const grad = attackGradient(model, xAdv, y, targeted);
    return threat.project(tf.add(xAdv, threat.step(grad, stepSize)) as tf.Tensor4D, x);
  });
}

/** Options of {@linkcode fgsm}. */
export interface FgsmOptions extends CommonAttackOptions {
  /** Start from a uniformly random point of the ball instead of x. Default false. */
  randomStart?: boolean;
  /** Step length. Default eps (or 1.25 eps with a random start, as in Wong et al. 2020). */
  stepSize?: number;
}

/**
 * The fast gradient (sign) method: x' = proj(x + eps * sign(grad)) for l-inf, x + eps * grad / ||grad|| for l2.
 *
 * @example
 * ```ts ignore
 * const { adversarial, success } = fgsm(classifier, images, labels, { eps: 0.3 });
 * ```
 */
export function fgsm(model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, options: FgsmOptions): AttackResult {
  checkBatch(x, y, "fgsm");
  const threat = threatFrom(options);
  const targeted = options.targeted ?? false;
  const stepSize = options.stepSize ?? (options.randomStart ? 1.25 * threat.eps : threat.eps);
  const adversarial = tf.tidy(() => {
    const start = options.randomStart ? threat.randomStart(x, seedFrom(prngFrom(options))) : x;
    return gradientStep(model, start, x, y, threat, stepSize, targeted);
  });
  return finish(model, adversarial, y, targeted, 1);
}
