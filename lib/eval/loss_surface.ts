/**
 * The loss around one input on a 2-D grid (lecture section 5.1, Figures 7 and 8; Tramer et al. 2018): the
 * cross-entropy at x + e1 * g + e2 * r, where g = sign(grad_x J) is the direction FGSM steps along and r a
 * random direction orthogonal to it with the same length. For a model that masks its gradient the surface
 * has a sharp bump right at x: the loss along g stays low within the ball, while it rises in other
 * directions, so a single gradient step from x finds little and a random step first finds more.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { attackGradient, crossEntropy } from "../attacks/loss.ts";
import type { Classifier } from "../models/classifier.ts";

/** Options of {@linkcode lossSurface}. */
export interface LossSurfaceOptions {
  /** The grid spans [-radius, radius] along both directions (an l-inf distance along g). Default 0.3. */
  radius?: number;
  /** Grid points per axis; odd, so that x itself is the centre of the grid. Default 21. */
  points?: number;
  /**
   * The classifier whose input gradient gives the first direction. Default: `model`. A model whose own
   * gradient is zero (a quantiser in front) can be looked at along its BPDA gradient instead.
   */
  directionModel?: Classifier;
  /** Clip every grid point to the pixel range [0, 1]. Default true. */
  clip?: boolean;
  /** Seed of the random direction. Default 0. */
  seed?: number;
  /** Grid points evaluated per batch. Default 256. */
  batchSize?: number;
}

/** The loss sampled on the grid. */
export interface LossSurface {
  /** Coefficients e1 along the gradient-sign direction, increasing, with 0 in the middle. */
  xs: number[];
  /** Coefficients e2 along the orthogonal random direction, increasing, with 0 in the middle. */
  ys: number[];
  /** `values[i][j]`: the loss at x + xs[j] * g + ys[i] * r. */
  values: Float32Array[];
  /** The loss at x itself. */
  centre: number;
  /** The largest loss on the grid and where it is. */
  max: { value: number; e1: number; e2: number };
  /** l2 norm of the input gradient of `model` (not of `directionModel`) at x. */
  gradientNorm: number;
  /**
   * Whether g is a gradient-sign direction. False when the direction model's gradient is exactly zero:
   * then g is a random sign direction as well.
   */
  gradientDirection: boolean;
}

/**
 * Samples the cross-entropy of `model` for `label` on a `points` x `points` grid around `image` (shape
 * `[1, H, W, C]` or `[H, W, C]`), spanned by the gradient-sign direction and an orthogonal random one.
 *
 * @example
 * ```ts
 * import type { Classifier } from "../models/classifier.ts";
 * import type { Dataset } from "../data/dataset.ts";
 * import { imagesTensor } from "../data/dataset.ts";
 * import { heatmap } from "../plot/heatmap.ts";
 * import { show } from "../plot/show.ts";
 * import { lossSurface } from "./loss_surface.ts";
 * declare const classifier: Classifier, test: Dataset;
 * const s = lossSurface(classifier, imagesTensor(test, 0, 1), test.labels[0], { radius: 0.3, points: 31 });
 * await show(await heatmap({ values: s.values, xs: s.xs, ys: s.ys, marker: { x: 0, y: 0, label: "x" } }));
 * ```
 */
export function lossSurface(
  model: Classifier,
  image: tf.Tensor,
  label: number,
  options: LossSurfaceOptions = {},
): LossSurface {
  const radius = options.radius ?? 0.3;
  const points = options.points ?? 21;
  const clip = options.clip ?? true;
  const batchSize = options.batchSize ?? 256;
  checkSettings(radius, points, batchSize);
  const shape = image.shape;
  if (!(shape.length === 4 && shape[0] === 1) && shape.length !== 3) {
    throw new RangeError(`lossSurface: expected one image [1, H, W, C] or [H, W, C], got [${shape}]`);
  }
  const [h, w, c] = shape.length === 4 ? shape.slice(1) : shape;
  const coords = gridCoords(radius, points);

  const x = tf.tidy(() => image.reshape([1, h, w, c]) as tf.Tensor4D);
  const y = tf.tensor1d([label], "int32");
  const [u, v, gradNorm, directionOk] = tf.tidy(() => directions(model, x, y, [h, w, c], options));
  try {
    const centreT = tf.tidy(() => crossEntropy(model(x), y));
    const centre = centreT.dataSync()[0];
    centreT.dispose();
    const flat = gridLosses(model, x, u, v, label, coords, clip, batchSize);
    const total = points * points;
    const values = Array.from({ length: points }, (_, i) => flat.slice(i * points, (i + 1) * points));
    let best = 0;
    for (let k = 1; k < total; k++) if (flat[k] > flat[best]) best = k;
    return {
      xs: coords,
      ys: [...coords],
      values,
      centre,
      max: { value: flat[best], e1: coords[best % points], e2: coords[Math.floor(best / points)] },
      gradientNorm: gradNorm.dataSync()[0],
      gradientDirection: directionOk.dataSync()[0] === 1,
    };
  } finally {
    tf.dispose([x, y, u, v, gradNorm, directionOk]);
  }
}

/** Throws a RangeError for a radius, grid size or batch size {@linkcode lossSurface} cannot use. */
function checkSettings(radius: number, points: number, batchSize: number): void {
  if (!(radius > 0) || !Number.isFinite(radius)) {
    throw new RangeError(`lossSurface: radius must be a finite number > 0, got ${radius}`);
  }
  if (!Number.isInteger(points) || points < 3 || points % 2 === 0) {
    throw new RangeError(`lossSurface: points must be an odd integer >= 3, got ${points}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`lossSurface: batchSize must be an integer >= 1, got ${batchSize}`);
  }
}

/** The `points` coefficients from -radius to radius, evenly spaced, with an exact 0 in the middle. */
function gridCoords(radius: number, points: number): number[] {
  const half = (points - 1) / 2;
  const coords = Array.from({ length: points }, (_, k) => (radius * (k - half)) / half);
  coords[half] = 0;
  return coords;
}

/**
 * The grid's two directions (gradient sign, or a random sign when that gradient is zero, and an orthogonal
 * random one of the same length), the l2 norm of `model`'s own gradient and whether the first is a gradient
 * sign; call inside `tf.tidy`.
 */
function directions(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  [h, w, c]: number[],
  options: LossSurfaceOptions,
): [tf.Tensor4D, tf.Tensor4D, tf.Tensor, tf.Tensor] {
  const own = attackGradient(model, x, y);
  const gradNorm = tf.norm(own);
  const dirGrad = options.directionModel ? attackGradient(options.directionModel, x, y) : own;
  const sign = tf.sign(dirGrad);
  const seed = options.seed ?? 0;
  const rademacher = (s: number) => tf.sign(tf.sub(tf.randomUniform([1, h, w, c], 0, 1, "float32", s), 0.5));
  const ok = tf.greater(tf.sum(tf.abs(sign)), 0);
  const first = tf.where(ok, sign, rademacher(seed + 1)) as tf.Tensor4D;
  const r = rademacher(seed);
  const uu = tf.sum(tf.mul(first, first));
  const ortho = tf.sub(r, tf.mul(first, tf.div(tf.sum(tf.mul(r, first)), uu)));
  const second = tf.mul(ortho, tf.div(tf.norm(first), tf.norm(ortho))) as tf.Tensor4D;
  return [first, second, gradNorm, ok];
}

/** The loss at every grid point x + e1 * u + e2 * v, row by row (e2 outer), `batchSize` points at a time. */
function gridLosses(
  model: Classifier,
  x: tf.Tensor4D,
  u: tf.Tensor4D,
  v: tf.Tensor4D,
  label: number,
  coords: number[],
  clip: boolean,
  batchSize: number,
): Float32Array {
  const points = coords.length;
  const total = points * points;
  const flat = new Float32Array(total);
  for (let start = 0; start < total; start += batchSize) {
    const end = Math.min(total, start + batchSize);
    const lossT = tf.tidy(() => {
      const a = new Float32Array(end - start);
      const b = new Float32Array(end - start);
      for (let k = start; k < end; k++) {
        a[k - start] = coords[k % points];
        b[k - start] = coords[Math.floor(k / points)];
      }
      const n = end - start;
      let grid = tf.add(
        x,
        tf.add(tf.mul(tf.tensor4d(a, [n, 1, 1, 1]), u), tf.mul(tf.tensor4d(b, [n, 1, 1, 1]), v)),
      ) as tf.Tensor4D;
      if (clip) grid = tf.clipByValue(grid, 0, 1);
      return crossEntropy(model(grid), tf.fill([n], label, "int32") as tf.Tensor1D);
    });
    flat.set(lossT.dataSync(), start);
    lossT.dispose();
  }
  return flat;
}
