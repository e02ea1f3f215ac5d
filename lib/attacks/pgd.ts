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

  if (restarts === 1) {
    const projector = projectorOf(threat, x);
    let xAdv: tf.Tensor4D | undefined;
    try {
      xAdv = run(model, x, y, randomStart ? threat.randomStart(x, seedFrom(prng)) : tf.clone(x), {
        threat,
        steps,
        stepSize,
        targeted,
        projector,
      });
    } finally {
      projector.dispose();
    }
    return finish(model, xAdv, y, targeted, steps, options.judge);
  }

  // With restarts, each run after the first attacks only the examples that no earlier run has fooled: a
  // fooled example stays fooled whatever a later run finds, so running it again changes no success, only
  // which of its adversarial examples is returned (the first that fooled the model). Each run draws its
  // random start for the whole batch, so every example starts where it would if all were attacked.
  let best: tf.Tensor4D | undefined;
  let bestScore: tf.Tensor1D | undefined;
  const fooled = new Uint8Array(n);
  let runs = 0;
  const held: tf.Tensor[] = [];
  try {
    for (let r = 0; r < restarts; r++) {
      const alive: number[] = [];
      for (let i = 0; i < n; i++) if (!fooled[i]) alive.push(i);
      const start = randomStart ? threat.randomStart(x, seedFrom(prng)) : tf.clone(x);
      if (alive.length === 0) {
        start.dispose();
        break;
      }
      runs += alive.length;
      let xs = x, ys = y, startS = start;
      if (alive.length < n) {
        const index = tf.tensor1d(alive, "int32");
        [xs, ys, startS] = [tf.gather(x, index), tf.gather(y, index), tf.gather(start, index)];
        held.push(index, xs, ys, start);
      }
      const projector = projectorOf(threat, xs);
      let current: tf.Tensor4D;
      try {
        current = run(model, xs, ys, startS, { threat, steps, stepSize, targeted, projector });
      } finally {
        projector.dispose();
      }
      held.push(current);
      // Score per example: success counts above any loss; otherwise the attack's objective.
      const [score, hit] = tf.tidy(() => {
        const logits = model(current);
        const ce = crossEntropy(logits, ys);
        const pred = tf.argMax(logits, 1);
        const hit = targeted ? tf.equal(pred, tf.cast(ys, "int32")) : tf.notEqual(pred, tf.cast(ys, "int32"));
        const objective = targeted ? tf.neg(ce) : ce;
        return [
          tf.add(objective, tf.mul(tf.cast(hit, "float32"), 1e6)) as tf.Tensor1D,
          tf.cast(hit, "int32"),
        ];
      });
      held.push(score, hit);
      const hits = hit.dataSync();
      if (!best || !bestScore) {
        best = current;
        bestScore = score;
      } else {
        const [kept, keptScore] = [best, bestScore];
        [best, bestScore] = tf.tidy(() => {
          // Rows 0..n-1 of the stacked tensors are the kept runs, rows n.. this run's: pick per example.
          const keptAlive = alive.length < n ? tf.gather(keptScore, alive) : keptScore;
          const better = tf.greater(score, keptAlive).dataSync();
          const pick = Int32Array.from({ length: n }, (_, i) => i);
          alive.forEach((i, k) => {
            if (better[k]) pick[i] = n + k;
          });
          const rows = tf.tensor1d(pick, "int32");
          return [
            tf.gather(tf.concat([kept, current]), rows) as tf.Tensor4D,
            tf.gather(tf.concat([keptScore, score]), rows) as tf.Tensor1D,
          ];
        });
        tf.dispose([kept, keptScore]);
      }
      alive.forEach((i, k) => (fooled[i] = hits[k] ? 1 : 0));
      tf.dispose(held.splice(0).filter((t) => t !== best && t !== bestScore));
    }
  } catch (e) {
    tf.dispose([best, bestScore, ...held].filter((t) => t !== undefined));
    throw e;
  }
  tf.dispose(held);
  bestScore?.dispose();
  return finish(model, best!, y, targeted, (steps * runs) / n, options.judge);
}

/**
 * One PGD run of `steps` projected steps from `start` (taken over: disposed, or returned when steps = 0),
 * with `projector` made for `x`.
 */
function run(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  start: tf.Tensor4D,
  o: {
    threat: ReturnType<typeof threatFrom>;
    steps: number;
    stepSize: number;
    targeted: boolean;
    projector: ReturnType<typeof projectorOf>;
  },
): tf.Tensor4D {
  let xAdv = start;
  try {
    for (let s = 0; s < o.steps; s++) {
      const next: tf.Tensor4D = gradientStep(
        model,
        xAdv,
        x,
        y,
        o.threat,
        o.stepSize,
        o.targeted,
        o.projector,
      );
      xAdv.dispose();
      xAdv = next;
    }
  } catch (e) {
    xAdv.dispose();
    throw e;
  }
  return xAdv;
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
