/**
 * R+FGSM (Tramer et al. 2018): a random sign step of size alpha, then one gradient-sign step of eps - alpha
 * from there. Single-step like FGSM, but it escapes the sharp local maximum a masked model puts at x.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { num, optional } from "../util/schema.ts";
import type { Classifier } from "../models/classifier.ts";
import { seedFrom } from "../random/prng.ts";
import { defineAttack, finish, prngFrom, rangeFields, threatFrom } from "./common.ts";
import { gradientStep } from "./fgsm.ts";
import type { AttackResult, CommonAttackOptions } from "./types.ts";
import { emptyResult, validateAttackInput } from "./validate.ts";

/** Options of {@linkcode rfgsm}. */
export interface RfgsmOptions extends CommonAttackOptions {
  /** Size of the random sign step, in [0, eps]. Default eps / 2 (the paper's choice). */
  alpha?: number;
}

/**
 * R+FGSM: x' = clip(x + alpha * sign(N(0, I))), then x_adv = proj(x' + (eps - alpha) * sign(grad J(x'))).
 * l-inf only. Uses exactly one gradient evaluation. Bad input is a RangeError naming the argument (see
 * `validateAttackInput`); eps = 0 returns a copy of the input.
 */
export function rfgsm(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  options: RfgsmOptions,
): AttackResult {
  const threat = threatFrom(options, "rfgsm");
  if (threat.norm !== "linf") {
    throw new RangeError(`rfgsm: only the l-inf threat model is defined, got ${threat.norm}`);
  }
  const alpha = options.alpha ?? threat.eps / 2;
  if (!(alpha >= 0 && alpha <= threat.eps)) {
    throw new RangeError(`rfgsm: alpha must be in [0, eps] = [0, ${threat.eps}], got ${alpha}`);
  }
  const targeted = options.targeted ?? false;
  const { n } = validateAttackInput("rfgsm", model, x, y, { threat, targeted });
  if (n === 0) return emptyResult(x);
  if (threat.eps === 0) return finish(model, tf.clone(x), y, targeted, 0, options.judge);
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
  return finish(model, adversarial, y, targeted, 1, options.judge);
}

/** The descriptor of `{ kind: "rfgsm", eps, alpha?, clipMin?, clipMax? }` (l-inf only). */
export const rfgsmAttack = defineAttack({
  kind: "rfgsm",
  options: {
    eps: num({ min: 0 }),
    alpha: optional(num({ min: 0 }), undefined as unknown as number),
    ...rangeFields,
  },
  describe: (spec) => `R+FGSM (l-inf, eps ${spec.eps})`,
  gradients: () => 1,
  stepLengths: ["alpha"],
  run: rfgsm,
});
