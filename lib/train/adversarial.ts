/**
 * Adversarial training (lecture section 5.2): every minibatch is attacked against the current model and
 * the model takes its step on the result, minimising Goodfellow et al.'s mixed objective
 *
 *     J~(theta, x, y) = alpha * J(theta, x, y) + (1 - alpha) * J(theta, x_adv, y),
 *
 * where x_adv is the attack's output for (x, y) under the current parameters. alpha = 1 is standard
 * training (the attack still runs, but its output gets weight 0), alpha = 0 is pure adversarial training,
 * Madry et al.'s min-max objective with PGD as the inner maximiser.
 *
 * The loop itself is {@linkcode train}'s: this module names the entry point and the training attacks the
 * chapters use (FGSM, FGSM with a random start as in Wong et al., R+FGSM, PGD-k), so that adversarial and
 * standard training share checkpoints, exact resume, schedules and progress.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { attackGradients, type AttackSpec } from "../attacks/make.ts";
import type { Norm } from "../attacks/threat.ts";
import type { Dataset } from "../data/dataset.ts";
import { train, type TrainOptions, type TrainReport } from "./train.ts";

/** Options of {@linkcode trainAdversarial}: those of {@linkcode train}, with the attack and alpha flat. */
export interface AdversarialTrainOptions extends Omit<TrainOptions, "adversarial"> {
  /** The attack run on every minibatch against the current model (any attack spec of the library). */
  attack: AttackSpec;
  /** Weight of the clean loss in the mixed objective: 1 standard training, 0 pure adversarial. Default 0. */
  alpha?: number;
  /** Share of the run over which the attack's eps grows linearly from 0 to its value. Default 0 (none). */
  warmup?: number;
}

/**
 * Trains `model` on `data` against its own adversarial examples: for each minibatch, `attack` runs against
 * the current weights (with no gradient flowing through it), then one optimizer step on
 * alpha * J(x) + (1 - alpha) * J(x_adv). Checkpoints and resume work as in {@linkcode train}; an alpha
 * outside [0, 1] is rejected with a RangeError.
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import type { Dataset } from "../data/dataset.ts";
 * import { trainAdversarial, trainingAttack } from "./adversarial.ts";
 * declare const model: tf.LayersModel, trainSet: Dataset;
 * // Madry et al.'s MNIST training, 40 PGD steps of 0.01 in the l-inf ball of radius 0.3:
 * const report = await trainAdversarial(model, trainSet, {
 *   epochs: 83, batchSize: 50, optimizer: { name: "adam", learningRate: 1e-4 }, seed: 1,
 *   attack: trainingAttack("pgd", 0.3, { steps: 40, stepSize: 0.01 }),
 * });
 * ```
 */
export function trainAdversarial(
  model: tf.LayersModel,
  data: Dataset,
  options: AdversarialTrainOptions,
): Promise<TrainReport> {
  const { attack, alpha = 0, warmup, ...rest } = options;
  return train(model, data, { ...rest, adversarial: { attack, alpha, ...(warmup ? { warmup } : {}) } });
}

/** The training attacks of the adversarial-training literature, by name. */
export type TrainingAttackKind = "fgsm" | "fgsm-rs" | "rfgsm" | "pgd";

/** Options of {@linkcode trainingAttack}. */
export interface TrainingAttackOptions {
  /** Norm of the ball (FGSM, FGSM+RS and PGD). Default "linf". */
  norm?: Norm;
  /** PGD steps. Default 40. */
  steps?: number;
  /**
   * Step length: PGD default 2.5 eps / steps; FGSM with a random start default 1.25 eps (Wong et al.).
   * Ignored by FGSM and R+FGSM.
   */
  stepSize?: number;
  /** R+FGSM's random step. Default eps / 2. */
  rfgsmAlpha?: number;
}

/**
 * The attack spec of a named training attack at radius `eps`:
 * - `"fgsm"`: Goodfellow et al.'s single step x + eps sign(grad);
 * - `"fgsm-rs"`: Wong et al.'s "fast" adversarial training, a uniform random start in the ball and one step
 *   of 1.25 eps;
 * - `"rfgsm"`: Tramer et al.'s random sign step of eps / 2, then a gradient-sign step of eps / 2;
 * - `"pgd"`: Madry et al.'s PGD-k from a random start.
 */
export function trainingAttack(
  kind: TrainingAttackKind,
  eps: number,
  options: TrainingAttackOptions = {},
): AttackSpec {
  const norm = options.norm ?? "linf";
  switch (kind) {
    case "fgsm":
      return { kind: "fgsm", eps, norm };
    case "fgsm-rs":
      return { kind: "fgsm", eps, norm, randomStart: true, stepSize: options.stepSize ?? 1.25 * eps };
    case "rfgsm":
      if (norm !== "linf") throw new RangeError("trainingAttack: R+FGSM is defined for l-inf only");
      return { kind: "rfgsm", eps, alpha: options.rfgsmAlpha ?? eps / 2 };
    case "pgd": {
      const steps = options.steps ?? 40;
      return { kind: "pgd", eps, norm, steps, stepSize: options.stepSize ?? 2.5 * eps / steps };
    }
    default:
      throw new RangeError(`trainingAttack: unknown kind ${JSON.stringify(kind)}`);
  }
}

/**
 * Training cost in gradient evaluations per example and step, relative to standard training: 1 for
 * standard training, plus the input gradients the attack takes (its descriptor's count: PGD-k costs about
 * k + 1 times as much, FGSM and R+FGSM twice).
 */
export function relativeTrainingCost(attack: AttackSpec | undefined): number {
  return attack ? 1 + attackGradients(attack) : 1;
}
