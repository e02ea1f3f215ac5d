/**
 * What every attack returns and the options they share.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Classifier } from "../models/classifier.ts";
import type { Prng } from "../random/prng.ts";
import type { BallOptions, Norm, ThreatModel } from "./threat.ts";

/** The outcome of an attack on a batch. The caller owns (and disposes) `adversarial`. */
export interface AttackResult {
  /** The adversarial images, same shape as the input. */
  adversarial: tf.Tensor4D;
  /** 1 where the attack succeeded: the prediction differs from the label (untargeted) or equals the target. */
  success: Uint8Array;
  /** The model's predictions on `adversarial`. */
  predictions: Int32Array;
  /** How many input-gradient evaluations the attack used (per example). */
  gradientSteps: number;
}

/** An attack bound to its settings: what evaluation loops and adversarial training call per batch. */
export type Attack = (model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D) => AttackResult;

/** Options every attack takes. */
export interface CommonAttackOptions extends BallOptions {
  /** Radius of the threat model. */
  eps: number;
  /** Norm of the threat model. Default "linf". */
  norm?: Norm;
  /** A ready threat model (overrides eps/norm/clip options). */
  threat?: ThreatModel;
  /** Targeted attack: `y` then holds the target classes. Default false. */
  targeted?: boolean;
  /** Random source for random starts. Default: a generator seeded with `seed`. */
  prng?: Prng;
  /** Seed used when no `prng` is given. Default 0. */
  seed?: number;
}
