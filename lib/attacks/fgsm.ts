/**
 * The fast gradient method: one steepest-ascent step of length eps in the threat model's norm (FGSM for
 * l-inf, FGM for l2), optionally from a random start with a smaller step (Wong et al.'s "FGSM with random
 * start", step 1.25 eps).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { bool, num, optional } from "../util/schema.ts";
import type { Classifier } from "../models/classifier.ts";
import { seedFrom } from "../random/prng.ts";
import { defineAttack, finish, normField, prngFrom, rangeFields, threatFrom } from "./common.ts";
import { attackGradient } from "./loss.ts";
import { type Projector, projectorOf, type ThreatModel } from "./threat.ts";
import type { AttackResult, CommonAttackOptions } from "./types.ts";
import { emptyResult, validateAttackInput } from "./validate.ts";

/**
 * One attack step: the gradient at `xAdv`, a step of `stepSize` in the threat's norm, projected back onto
 * the ball around `x`. FGSM, PGD and R+FGSM are all made of this step, so they cannot drift apart. An attack
 * that takes many steps around the same `x` passes its `projector` (`projectorOf(threat, x)`), prepared once.
 */
export function gradientStep(
  model: Classifier,
  xAdv: tf.Tensor4D,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  threat: ThreatModel,
  stepSize: number,
  targeted: boolean,
  projector?: Projector,
): tf.Tensor4D {
  return tf.tidy(() => {
    const grad = attackGradient(model, xAdv, y, targeted);
    // A one-off projector's box is computed here and released with the rest of the tidy.
    return (projector ?? projectorOf(threat, x)).step(xAdv, grad, stepSize);
  });
}

/** Options of {@linkcode fgsm}. */
export interface FgsmOptions extends CommonAttackOptions {
  /** Start from a uniformly random point of the ball instead of x. Default false. */
  randomStart?: boolean;
  /** Step length, finite and > 0. Default eps (or 1.25 eps with a random start, as in Wong et al. 2020). */
  stepSize?: number;
}

/**
 * The fast gradient (sign) method: x' = proj(x + eps * sign(grad)) for l-inf, x + eps * grad / ||grad|| for l2.
 * Bad input (labels outside [0, classes), pixels outside [clipMin, clipMax], a step size that is not
 * finite and positive, ...) is a RangeError; eps = 0 returns a copy of the input.
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import type { Classifier } from "../models/classifier.ts";
 * import { fgsm } from "./fgsm.ts";
 * declare const classifier: Classifier, images: tf.Tensor4D, labels: tf.Tensor1D;
 * const { adversarial, success } = fgsm(classifier, images, labels, { eps: 0.3 });
 * ```
 */
export function fgsm(model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, options: FgsmOptions): AttackResult {
  const threat = threatFrom(options, "fgsm");
  const targeted = options.targeted ?? false;
  const stepSize = options.stepSize ?? (options.randomStart ? 1.25 * threat.eps : threat.eps);
  const { n } = validateAttackInput("fgsm", model, x, y, { threat, stepSizes: { stepSize }, targeted });
  if (n === 0) return emptyResult(x);
  if (threat.eps === 0) return finish(model, tf.clone(x), y, targeted, 0, options.judge);
  const adversarial = tf.tidy(() => {
    const start = options.randomStart ? threat.randomStart(x, seedFrom(prngFrom(options))) : x;
    return gradientStep(model, start, x, y, threat, stepSize, targeted);
  });
  return finish(model, adversarial, y, targeted, 1, options.judge);
}

/** The descriptor of `{ kind: "fgsm", eps, norm?, randomStart?, stepSize?, clipMin?, clipMax? }`. */
export const fgsmAttack = defineAttack({
  kind: "fgsm",
  options: {
    eps: num({ min: 0 }),
    norm: normField,
    randomStart: optional(bool(), false),
    stepSize: optional(num({ min: 0 }), undefined as unknown as number),
    ...rangeFields,
  },
  describe(spec) {
    const norm = spec.norm === "l2" ? "l2" : "l-inf";
    return `${spec.randomStart ? "FGSM+RS" : norm === "l2" ? "FGM" : "FGSM"} (${norm}, eps ${spec.eps})`;
  },
  gradients: () => 1,
  stepLengths: ["stepSize"],
  run: fgsm,
});
