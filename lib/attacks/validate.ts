/**
 * The checks every attack makes at the door, before it allocates a tensor: the batch's shapes, integer
 * labels (or targets) in [0, classes), a finite radius, finite positive step sizes, and finite pixels inside
 * the threat model's range. A bad argument is a `RangeError` that names the attack, the argument and the
 * offending value, instead of an attack that "succeeds" on a label the model cannot output or returns NaN.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Classifier } from "../models/classifier.ts";
import type { ThreatModel } from "./threat.ts";
import type { AttackResult } from "./types.ts";

/** What {@linkcode validateAttackInput} checks besides the images and labels. */
export interface AttackInputChecks {
  /**
   * The threat model the attack will use: its `eps` must be finite and >= 0, its range a real interval, and
   * every pixel of the input inside [clipMin, clipMax]. Absent: `eps`, `clipMin` and `clipMax` below.
   */
  threat?: ThreatModel;
  /** Radius, when no `threat` is given (finite, >= 0). Absent: not checked. */
  eps?: number;
  /** Lower pixel bound, when no `threat` is given. Default 0. */
  clipMin?: number;
  /** Upper pixel bound, when no `threat` is given. Default 1. */
  clipMax?: number;
  /**
   * The step lengths of the steps the attack will take, by option name (the name appears in the error):
   * each must be finite and > 0, or 0 when eps is 0. Pass only steps that are taken (e.g. not PGD's step
   * size when `steps` is 0); `undefined` values are skipped.
   */
  stepSizes?: Record<string, number | undefined>;
  /** `y` holds target classes (only changes the wording of errors). Default false. */
  targeted?: boolean;
}

/** What {@linkcode validateAttackInput} found out about a valid input. */
export interface AttackInput {
  /** Batch size. When 0, the attack should return {@linkcode emptyResult} without running the model. */
  n: number;
  /** Number of classes (the width of the model's logits); 0 for an empty batch given a model. */
  classes: number;
}

function fail(name: string, message: string): never {
  throw new RangeError(`${name}: ${message}`);
}

/** A tensor, judged by its fields: a tensor of a second copy of tfjs (in a page or a notebook) is one too. */
function isTensor(t: unknown): t is tf.Tensor {
  return typeof t === "object" && t !== null && Array.isArray((t as tf.Tensor).shape) &&
    typeof (t as tf.Tensor).rank === "number";
}

/** Finite-and-in-range check of the pixels: one pass of tensor reductions, one small download. */
function checkPixels(name: string, x: tf.Tensor4D, clipMin: number, clipMax: number): void {
  const [lo, hi, probe] = tf.tidy(() => {
    // x * 0 is NaN exactly where x is NaN or infinite, and the sum propagates it.
    return tf.stack([tf.min(x), tf.max(x), tf.sum(tf.mul(x, 0))]).dataSync();
  });
  if (!Number.isFinite(probe)) {
    const values = x.dataSync();
    const perExample = x.size / x.shape[0];
    const i = values.findIndex((v) => !Number.isFinite(v));
    fail(
      name,
      `images must be finite, got ${values[i]} (example ${Math.floor(i / perExample)}, pixel ${
        i % perExample
      })`,
    );
  }
  if (lo < clipMin || hi > clipMax) {
    fail(
      name,
      `images must lie in the pixel range [clipMin, clipMax] = [${clipMin}, ${clipMax}], got a pixel of ${
        lo < clipMin ? lo : hi
      } (rescale the images, or set clipMin/clipMax)`,
    );
  }
}

/** The logits' width of each model already probed (a model's number of classes does not change). */
const probed = new WeakMap<Classifier, number>();

/**
 * The width of the model's logits, from one forward pass of the first example (disposed), once per model:
 * later calls with the same model function read it from a cache.
 */
function classesOf(name: string, model: Classifier, x: tf.Tensor4D): number {
  const known = probed.get(model);
  if (known !== undefined) return known;
  let classes = 0;
  tf.tidy(() => {
    const logits = model(tf.slice(x, [0, 0, 0, 0], [1, -1, -1, -1]));
    if (logits.rank !== 2 || logits.shape[0] !== 1) {
      fail(name, `the model must return logits [N, K], got shape [${logits.shape}] for one image`);
    }
    classes = logits.shape[1];
  });
  probed.set(model, classes);
  return classes;
}

/**
 * Checks an attack's input before any tensor is allocated, and throws a `RangeError` naming the attack
 * (`name`), the argument and the offending value:
 * - `x` must be [N, H, W, C] and `y` [N];
 * - `eps` (of `checks.threat`, else `checks.eps`) finite and >= 0; the pixel range a real interval;
 * - every step size of `checks.stepSizes` finite and > 0 (0 allowed when eps = 0);
 * - labels (targets when `targeted`) integers in [0, classes): a float label such as 3.7 is refused;
 * - pixels finite and inside [clipMin, clipMax] (an image in [0, 255] against the default [0, 1] is refused).
 *
 * `classes` is either a number or the model itself; given the model, one forward pass of the first image
 * reads the width of its logits, the first time a model function is seen (a model that counts its queries
 * sees one more on that call; later calls with the same function reuse the width). An empty batch is
 * valid: the result's `n` is 0 and the attack should return {@linkcode emptyResult}, without running the
 * model. Every tensor the checks create is disposed, on the error paths too.
 *
 * @example
 * ```ts ignore
 * const threat = threatFrom(options, "myAttack");
 * const { n } = validateAttackInput("myAttack", model, x, y, { threat, stepSizes: { stepSize }, targeted });
 * if (n === 0) return emptyResult(x);
 * ```
 */
export function validateAttackInput(
  name: string,
  classes: Classifier | number,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  checks: AttackInputChecks = {},
): AttackInput {
  if (!isTensor(x) || x.rank !== 4) {
    fail(
      name,
      `images must be a tensor [N, H, W, C], got ${isTensor(x) ? `shape [${x.shape}]` : x}`,
    );
  }
  const n = x.shape[0];
  const what = checks.targeted ? "targets" : "labels";
  if (!isTensor(y) || y.rank !== 1 || y.shape[0] !== n) {
    fail(
      name,
      `${what} must be a tensor [${n}] matching the batch, got ${isTensor(y) ? `shape [${y.shape}]` : y}`,
    );
  }
  if (y.dtype !== "int32" && y.dtype !== "float32") {
    fail(name, `${what} must be an int32 or float32 tensor, got dtype ${y.dtype}`);
  }
  const eps = checks.threat?.eps ?? checks.eps;
  if (eps !== undefined && !(Number.isFinite(eps) && eps >= 0)) {
    fail(name, `eps must be a finite number >= 0, got ${eps}`);
  }
  const clipMin = checks.threat?.clipMin ?? checks.clipMin ?? 0;
  const clipMax = checks.threat?.clipMax ?? checks.clipMax ?? 1;
  if (Number.isNaN(clipMin) || Number.isNaN(clipMax) || !(clipMin < clipMax)) {
    fail(
      name,
      `the pixel range [clipMin, clipMax] must be an interval with clipMin < clipMax, got [${clipMin}, ${clipMax}]`,
    );
  }
  for (const [key, size] of Object.entries(checks.stepSizes ?? {})) {
    if (size === undefined) continue;
    if (!Number.isFinite(size) || size < 0 || (size === 0 && eps !== 0)) {
      fail(name, `${key} must be a finite number > 0, got ${size}`);
    }
  }
  if (typeof classes === "number" && !(Number.isInteger(classes) && classes >= 1)) {
    fail(name, `classes must be an integer >= 1, got ${classes}`);
  }
  if (n === 0) return { n, classes: typeof classes === "number" ? classes : 0 };

  const labels = y.dataSync();
  // A float32 label shows as float32 would print it (9.7, not 9.699999809265137).
  const shown = (l: number) => (y.dtype === "float32" ? Number(l.toPrecision(7)) : l);
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(labels[i])) {
      fail(name, `${what}[${i}] must be an integer class index, got ${shown(labels[i])}`);
    }
  }
  checkPixels(name, x, clipMin, clipMax);
  const k = typeof classes === "number" ? classes : classesOf(name, classes, x);
  for (let i = 0; i < n; i++) {
    if (labels[i] < 0 || labels[i] >= k) {
      fail(name, `${what}[${i}] must be a class in [0, ${k}), got ${labels[i]}`);
    }
  }
  return { n, classes: k };
}

/**
 * The result of an attack on an empty batch: an empty copy of `x` (the caller owns it), no successes, no
 * predictions. The model is not run.
 */
export function emptyResult(x: tf.Tensor4D, gradientSteps = 0): AttackResult {
  return {
    adversarial: tf.clone(x),
    success: new Uint8Array(0),
    predictions: new Int32Array(0),
    gradientSteps,
  };
}
