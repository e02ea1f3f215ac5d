/**
 * Pieces shared by the attacks: resolving the threat model and random source from options, and judging
 * success on the final images.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Classifier } from "../models/classifier.ts";
import { createPrng, type Prng } from "../random/prng.ts";
import { predictLabels } from "./loss.ts";
import { ball, type ThreatModel } from "./threat.ts";
import type { AttackResult, CommonAttackOptions } from "./types.ts";

/** The threat model the options describe. */
export function threatFrom(options: CommonAttackOptions): ThreatModel {
  return options.threat ?? ball(options.norm ?? "linf", options.eps, options);
}

/** The random source the options describe. */
export function prngFrom(options: CommonAttackOptions): Prng {
  return options.prng ?? createPrng(options.seed ?? 0);
}

/** Checks the batch shapes an attack receives. */
export function checkBatch(x: tf.Tensor4D, y: tf.Tensor1D, name: string): void {
  if (x.rank !== 4) throw new RangeError(`${name}: images must be [N, H, W, C], got shape [${x.shape}]`);
  if (y.rank !== 1 || y.shape[0] !== x.shape[0]) {
    throw new RangeError(`${name}: labels must be [${x.shape[0]}], got shape [${y.shape}]`);
  }
}

/** Runs the model on `adversarial` and packages the result. Takes ownership of `adversarial`. */
export function finish(
  model: Classifier,
  adversarial: tf.Tensor4D,
  y: tf.Tensor1D,
  targeted: boolean,
  gradientSteps: number,
): AttackResult {
  const predictions = predictLabels(model, adversarial);
  const labels = y.dataSync();
  const success = new Uint8Array(predictions.length);
  for (let i = 0; i < predictions.length; i++) {
    success[i] = (targeted ? predictions[i] === labels[i] : predictions[i] !== labels[i]) ? 1 : 0;
  }
  return { adversarial, success, predictions, gradientSteps };
}
