/**
 * Projected gradient descent (Madry et al.): repeated gradient steps, each projected back onto the threat
 * model's ball, from x or from a random start; with restarts, the worst case per example is kept.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Classifier } from "../models/classifier.ts";
import { seedFrom } from "../random/prng.ts";
import { checkBatch, finish, prngFrom, threatFrom } from "./common.ts";
import { gradientStep } from "./fgsm.ts";
import { crossEntropy } from "./loss.ts";
import type { AttackResult, CommonAttackOptions } from "./types.ts";

/** Options of {@linkcode pgd}. */
export interface PgdOptions extends CommonAttackOptions {
  /** Number of gradient steps. Default 40. */
  steps?: number;
  /** Step length. Default 2.5 * eps / steps (Madry et al.'s rule of thumb). */
  stepSize?: number;
  /** Start from a uniformly random point of the ball. Default true. */
  randomStart?: boolean;
  /** Number of runs; the worst case per example is kept. Default 1. */
  restarts?: number;
}

/**
 * PGD: `steps` projected gradient steps of `stepSize`, `restarts` times, keeping per example the run that
 * fools the model (or, if none does, the one with the highest loss; lowest target loss when targeted).
 *
 * @example
 * ```ts ignore
 * const r = pgd(classifier, images, labels, { eps: 0.3, steps: 40, stepSize: 0.01, restarts: 1 });
 * ```
 */
export function pgd(model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, options: PgdOptions): AttackResult {
  checkBatch(x, y, "pgd");
  const threat = threatFrom(options);
  const targeted = options.targeted ?? false;
  const steps = options.steps ?? 40;
  const restarts = options.restarts ?? 1;
  const randomStart = options.randomStart ?? true;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`pgd: steps must be an integer >= 0, got ${steps}`);
  }
  if (!Number.isInteger(restarts) || restarts < 1) {
    throw new RangeError(`pgd: restarts must be >= 1, got ${restarts}`);
  }
  const stepSize = options.stepSize ?? (steps > 0 ? 2.5 * threat.eps / steps : 0);
  const prng = prngFrom(options);
  const n = x.shape[0];

  let best: tf.Tensor4D | undefined;
  let bestScore: tf.Tensor1D | undefined;
  for (let r = 0; r < restarts; r++) {
    let xAdv = randomStart && threat.eps > 0 ? threat.randomStart(x, seedFrom(prng)) : tf.clone(x);
    for (let s = 0; s < steps; s++) {
      const next = gradientStep(model, xAdv, x, y, threat, stepSize, targeted);
      xAdv.dispose();
      xAdv = next;
    }
    if (restarts === 1) {
      best = xAdv;
      break;
    }
    // Score per example: success counts above any loss; otherwise the attack's objective.
    const score = tf.tidy(() => {
      const logits = model(xAdv);
      const ce = crossEntropy(logits, y);
      const pred = tf.argMax(logits, 1);
      const hit = targeted ? tf.equal(pred, tf.cast(y, "int32")) : tf.notEqual(pred, tf.cast(y, "int32"));
      const objective = targeted ? tf.neg(ce) : ce;
      return tf.add(objective, tf.mul(tf.cast(hit, "float32"), 1e6)) as tf.Tensor1D;
    });
    if (!best || !bestScore) {
      best = xAdv;
      bestScore = score;
    } else {
      const [nb, ns] = tf.tidy(() => {
        const better = tf.greater(score, bestScore!);
        const mask = better.reshape([n, 1, 1, 1]).tile([1, ...x.shape.slice(1)]);
        return [tf.where(mask, xAdv, best!), tf.where(better, score, bestScore!)];
      });
      tf.dispose([best, bestScore, xAdv, score]);
      best = nb as tf.Tensor4D;
      bestScore = ns as tf.Tensor1D;
    }
  }
  bestScore?.dispose();
  return finish(model, best!, y, targeted, steps * restarts);
}
