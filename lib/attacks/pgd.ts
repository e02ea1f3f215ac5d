/**
 * Projected gradient descent (Madry et al.): repeated gradient steps, each projected back onto the threat
 * model's ball, from x or from a random start; with restarts, the worst case per example is kept.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { bool, int, num, optional } from "../util/schema.ts";
import type { Classifier } from "../models/classifier.ts";
import { seedFrom } from "../random/prng.ts";
import { defineAttack, finish, normField, prngFrom, rangeFields, threatFrom } from "./common.ts";
import { gradientStep } from "./fgsm.ts";
import { crossEntropy } from "./loss.ts";
import { projectorOf } from "./threat.ts";
import type { AttackResult, CommonAttackOptions } from "./types.ts";
import { emptyResult, validateAttackInput } from "./validate.ts";

/** Options of {@linkcode pgd}. */
export interface PgdOptions extends CommonAttackOptions {
  /** Number of gradient steps, an integer >= 0. Default 40. */
  steps?: number;
  /** Step length, finite and > 0. Default 2.5 * eps / steps (Madry et al.'s rule of thumb). */
  stepSize?: number;
  /** Start from a uniformly random point of the ball. Default true. */
  randomStart?: boolean;
  /** Number of runs, an integer >= 1; the worst case per example is kept. Default 1. */
  restarts?: number;
}

/**
 * PGD: `steps` projected gradient steps of `stepSize`, `restarts` times, keeping per example the run that
 * fools the model (or, if none does, the one with the highest loss; lowest target loss when targeted).
 * Bad input is a RangeError naming the argument (see `validateAttackInput`); eps = 0 returns a copy of the
 * input; no tensor outlives a call that throws.
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import type { Classifier } from "../models/classifier.ts";
 * import { pgd } from "./pgd.ts";
 * declare const classifier: Classifier, images: tf.Tensor4D, labels: tf.Tensor1D;
 * const r = pgd(classifier, images, labels, { eps: 0.3, steps: 40, stepSize: 0.01, restarts: 1 });
 * ```
 */
export function pgd(model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, options: PgdOptions): AttackResult {
  const threat = threatFrom(options, "pgd");
  const targeted = options.targeted ?? false;
  const steps = options.steps ?? 40;
  const restarts = options.restarts ?? 1;
  const randomStart = options.randomStart ?? true;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`pgd: steps must be an integer >= 0, got ${steps}`);
  }
  if (!Number.isInteger(restarts) || restarts < 1) {
    throw new RangeError(`pgd: restarts must be an integer >= 1, got ${restarts}`);
  }
  const stepSize = options.stepSize ?? (steps > 0 ? 2.5 * threat.eps / steps : 0);
  const { n } = validateAttackInput("pgd", model, x, y, {
    threat,
    stepSizes: steps > 0 ? { stepSize } : {},
    targeted,
  });
  if (n === 0) return emptyResult(x);
  if (threat.eps === 0) return finish(model, tf.clone(x), y, targeted, 0, options.judge);
  const prng = prngFrom(options);

  const projector = projectorOf(threat, x);
  let best: tf.Tensor4D | undefined;
  let bestScore: tf.Tensor1D | undefined;
  let xAdv: tf.Tensor4D | undefined;
  let score: tf.Tensor1D | undefined;
  try {
    for (let r = 0; r < restarts; r++) {
      xAdv = randomStart ? threat.randomStart(x, seedFrom(prng)) : tf.clone(x);
      for (let s = 0; s < steps; s++) {
        const next: tf.Tensor4D = gradientStep(model, xAdv, x, y, threat, stepSize, targeted, projector);
        xAdv.dispose();
        xAdv = next;
      }
      if (restarts === 1) {
        best = xAdv;
        xAdv = undefined;
        break;
      }
      // Score per example: success counts above any loss; otherwise the attack's objective.
      const current: tf.Tensor4D = xAdv;
      score = tf.tidy(() => {
        const logits = model(current);
        const ce = crossEntropy(logits, y);
        const pred = tf.argMax(logits, 1);
        const hit = targeted ? tf.equal(pred, tf.cast(y, "int32")) : tf.notEqual(pred, tf.cast(y, "int32"));
        const objective = targeted ? tf.neg(ce) : ce;
        return tf.add(objective, tf.mul(tf.cast(hit, "float32"), 1e6)) as tf.Tensor1D;
      });
      if (!best || !bestScore) {
        [best, bestScore, xAdv, score] = [current, score, undefined, undefined];
      } else {
        const [kept, keptScore, newScore] = [best, bestScore, score];
        const [nb, ns] = tf.tidy(() => {
          const better = tf.greater(newScore, keptScore);
          const mask = better.reshape([n, 1, 1, 1]).tile([1, ...x.shape.slice(1)]);
          return [tf.where(mask, current, kept), tf.where(better, newScore, keptScore)];
        });
        tf.dispose([kept, keptScore, current, newScore]);
        [best, bestScore, xAdv, score] = [nb as tf.Tensor4D, ns as tf.Tensor1D, undefined, undefined];
      }
    }
  } catch (e) {
    tf.dispose([best, bestScore, xAdv, score].filter((t) => t !== undefined));
    throw e;
  } finally {
    projector.dispose();
  }
  bestScore?.dispose();
  return finish(model, best!, y, targeted, steps * restarts, options.judge);
}

/**
 * The descriptor of `{ kind: "pgd", eps, steps, norm?, stepSize?, restarts?, randomStart?, clipMin?,
 * clipMax? }`.
 */
export const pgdAttack = defineAttack({
  kind: "pgd",
  options: {
    eps: num({ min: 0 }),
    norm: normField,
    steps: int({ min: 0 }),
    stepSize: optional(num({ min: 0 }), undefined as unknown as number),
    restarts: optional(int({ min: 1 }), 1),
    randomStart: optional(bool(), true),
    ...rangeFields,
  },
  describe(spec) {
    const norm = spec.norm === "l2" ? "l2" : "l-inf";
    const restarts = (spec.restarts ?? 1) > 1 ? `x${spec.restarts}` : "";
    return `PGD-${spec.steps}${restarts} (${norm}, eps ${spec.eps})`;
  },
  gradients: (spec) => spec.steps * (spec.restarts ?? 1),
  stepLengths: ["stepSize"],
  run: pgd,
});
