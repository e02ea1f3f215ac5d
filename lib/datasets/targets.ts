/**
 * The target labels of Ilyas et al.'s non-robust datasets: D_rand draws each target uniformly at random
 * among the wrong classes, D_det shifts every label by one, t = (y + 1) mod C. With two classes both rules
 * swap the labels (the lecture's dogs relabelled cats and cats relabelled dogs).
 * @module
 */
import { createPrng, randomInt } from "../random/prng.ts";

/** How targets are chosen: `"rand"` (D_rand) or `"det"` (D_det). */
export type TargetRule = "rand" | "det";

/**
 * One target per label under `rule`. Every target differs from its label, so a dataset relabelled with
 * them holds no correctly labelled example. `seed` drives the draw of `"rand"`.
 */
export function chooseTargets(
  labels: ArrayLike<number>,
  classes: number,
  rule: TargetRule,
  seed = 0,
): Int32Array {
  if (!Number.isInteger(classes) || classes < 2) {
    throw new RangeError(`chooseTargets: needs at least 2 classes, got ${classes}`);
  }
  if (rule !== "rand" && rule !== "det") {
    throw new RangeError(`chooseTargets: unknown rule ${JSON.stringify(rule)}; use "rand" or "det"`);
  }
  const prng = createPrng(seed);
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < classes)) {
      throw new RangeError(`chooseTargets: label ${y} at ${i} is outside [0, ${classes})`);
    }
    const shift = rule === "det" ? 1 : 1 + randomInt(prng, classes - 1);
    out[i] = (y + shift) % classes;
  }
  return out;
}
