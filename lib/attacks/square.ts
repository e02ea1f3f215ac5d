/**
 * The Square attack (Andriushchenko et al. 2020): a random search that uses the model's outputs only — no
 * gradients at all — and so is not misled by masked gradients. Each query changes one square window of the
 * current best image (l-inf: the window moves to a random corner of the ball; l2: mass moves from a second
 * window into it, with a pseudo-Gaussian profile), and is kept if it lowers the margin
 * z_y - max_{j != y} z_j. The window's area, a share p of the image, shrinks on a fixed schedule.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { int, num, optional } from "../util/schema.ts";
import type { Classifier, ForwardLogits } from "../models/classifier.ts";
import { type Prng, randomInt } from "../random/prng.ts";
import { defineAttack, finish, normField, prngFrom, rangeFields, threatFrom } from "./common.ts";
import type { AttackResult, CommonAttackOptions } from "./types.ts";
import { emptyResult, validateAttackInput } from "./validate.ts";

/** Options of {@linkcode square}. */
export interface SquareOptions extends CommonAttackOptions {
  /** Model evaluations per example, the first included. Default 5000. */
  queries?: number;
  /** Share of the image the first windows cover. Default 0.8. */
  pInit?: number;
}

/**
 * The window's share of the image after `query` of `queries` queries: p_init, halved at 10, 50, 200, 500,
 * 1000, 2000, 4000, 6000 and 8000 queries out of a budget rescaled to 10,000.
 */
export function squareSchedule(pInit: number, query: number, queries: number): number {
  const q = Math.floor(query / queries * 10000);
  const bounds = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  let halvings = 0;
  for (const b of bounds) if (q > b) halvings++;
  if (q > 10000) halvings = 0;
  return pInit / 2 ** halvings;
}

/**
 * Margins z_y - max_{j != y} z_j of `n` examples from their logits (`[n * classes]`, row-major), in float32
 * as the tensor expression would give them.
 */
export function marginsOf(logits: Float32Array, labels: Int32Array, n: number): Float32Array {
  const classes = logits.length / n;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const row = i * classes;
    let other = -3.4e38;
    for (let j = 0; j < classes; j++) if (j !== labels[i] && logits[row + j] > other) other = logits[row + j];
    out[i] = logits[row + labels[i]] - other;
  }
  return out;
}

/** The logits of `images` ([n, H, W, C] flat) from one forward pass of the tfjs model. */
function tfjsLogits(model: Classifier, images: Float32Array, shape: number[]): Float32Array {
  const logits = tf.tidy(() => model(tf.tensor4d(images, shape as [number, number, number, number])));
  try {
    return Float32Array.from(logits.dataSync() as Float32Array);
  } finally {
    logits.dispose();
  }
}

const sign = (prng: Prng) => (prng.next() < 0.5 ? -1 : 1);

/** The l2 window profile: concentric squares of weight 1/(k+1)^2 around the centre, unit l2 norm, rows x cols. */
function rings(rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  const cr = Math.floor(rows / 2), cc = Math.floor(cols / 2);
  const levels = Math.max(cr, cc) + 1;
  let norm = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const d = Math.max(Math.abs(i - cr), Math.abs(j - cc));
      let v = 0;
      for (let k = d; k < levels; k++) v += 1 / ((k + 1) * (k + 1));
      out[i * cols + j] = v;
      norm += v * v;
    }
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}

/** A window of side s whose two halves have opposite signs (unit l2 norm), transposed at random. */
function splitRings(s: number, prng: Prng): Float64Array {
  const top = Math.floor(s / 2);
  const out = new Float64Array(s * s);
  if (top > 0) out.set(rings(top, s), 0);
  const bottom = rings(s - top, s);
  for (let i = 0; i < bottom.length; i++) out[top * s + i] = -bottom[i];
  let norm = 0;
  for (const v of out) norm += v * v;
  norm = Math.sqrt(norm);
  for (let i = 0; i < out.length; i++) out[i] /= norm;
  if (prng.next() < 0.5) return out;
  const t = new Float64Array(s * s);
  for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) t[j * s + i] = out[i * s + j];
  return t;
}

/** A batch the search asks the model about: its margins are sent back into the search. */
interface Query {
  images: Float32Array;
  labels: Int32Array;
  n: number;
}

/** The search's settings, checked. */
interface SquareSearch {
  threat: ReturnType<typeof threatFrom>;
  targeted: boolean;
  queries: number;
  pInit: number;
}

/** The settings of a Square run from its options, each checked; the input is validated too. */
function searchOf(model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, options: SquareOptions) {
  const threat = threatFrom(options);
  const targeted = options.targeted ?? false;
  const queries = options.queries ?? 5000;
  const pInit = options.pInit ?? 0.8;
  if (!Number.isInteger(queries) || queries < 1) {
    throw new RangeError(`square: queries must be an integer >= 1, got ${queries}`);
  }
  if (!(pInit > 0 && pInit <= 1)) throw new RangeError(`square: pInit must be in (0, 1], got ${pInit}`);
  const { n } = validateAttackInput("square", model, x, y, { threat, targeted });
  return { n, search: { threat, targeted, queries, pInit } as SquareSearch };
}

/**
 * A Square run's start: the result at once where there is nothing to search (an empty batch, eps = 0), else
 * the search and what turns its best images into the result (judged by `model`).
 */
function begin(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  options: SquareOptions,
):
  | { done: AttackResult }
  | { gen: Generator<Query, Float32Array, Float32Array>; end: (best: Float32Array) => AttackResult } {
  const { n, search } = searchOf(model, x, y, options);
  if (n === 0) return { done: emptyResult(x) };
  if (search.threat.eps === 0) {
    return { done: finish(model, tf.clone(x), y, search.targeted, 0, options.judge) };
  }
  const x0 = x.dataSync() as Float32Array;
  const gen = squareSearch(x0, Int32Array.from(y.dataSync()), x.shape, search, prngFrom(options));
  const end = (best: Float32Array) =>
    finish(model, tf.tensor4d(best, x.shape), y, search.targeted, 0, options.judge);
  return { gen, end };
}

/**
 * The random search itself, as a generator: it yields each batch of candidates it needs margins of
 * (z_y - max_{j != y} z_j of the labels it gives) and returns the best images found. Kept apart from the
 * forward passes so that they can run on the tfjs model or, asynchronously, on a forward-only path.
 */
function* squareSearch(
  x0: Float32Array,
  labels: Int32Array,
  shape: [number, number, number, number],
  s: SquareSearch,
  prng: Prng,
): Generator<Query, Float32Array, Float32Array> {
  const [n, h, w, c] = shape;
  const { eps, clipMin, clipMax } = s.threat;
  const d = h * w * c;
  // For a targeted attack, minimise the margin of "not the target": -(z_t - max_{j != t} z_j).
  const sgn = s.targeted ? -1 : 1;
  const clip = (v: number) => Math.min(clipMax, Math.max(clipMin, v));
  const start: Start = { x0, n, h, w, c, eps, clip, prng };
  const best = s.threat.norm === "linf" ? linfStart(start) : l2Start(start);
  const bestMargin = (yield { images: best, labels, n }).map((m) => sgn * m);

  for (let q = 1; q < s.queries; q++) {
    const active: number[] = [];
    for (let i = 0; i < n; i++) if (bestMargin[i] > 0) active.push(i);
    if (active.length === 0) break;
    const p = squareSchedule(s.pInit, q, s.queries);
    const candidates = new Float32Array(active.length * d);
    for (let a = 0; a < active.length; a++) {
      const i = active[a];
      const cand = candidates.subarray(a * d, (a + 1) * d);
      cand.set(best.subarray(i * d, (i + 1) * d));
      const orig = x0.subarray(i * d, (i + 1) * d);
      if (s.threat.norm === "linf") linfProposal(cand, orig, p, h, w, c, eps, clip, prng);
      else l2Proposal(cand, orig, p, h, w, c, eps, clip, prng);
    }
    const m = yield {
      images: candidates,
      labels: Int32Array.from(active, (i) => labels[i]),
      n: active.length,
    };
    for (let a = 0; a < active.length; a++) {
      const i = active[a];
      if (sgn * m[a] < bestMargin[i]) {
        bestMargin[i] = sgn * m[a];
        best.set(candidates.subarray(a * d, (a + 1) * d), i * d);
      }
    }
  }
  return best;
}

/** What a start needs: the clean images (n of h x w x c, flat), the radius, the pixel clamp, the random source. */
interface Start {
  x0: Float32Array;
  n: number;
  h: number;
  w: number;
  c: number;
  eps: number;
  clip: (v: number) => number;
  prng: Prng;
}

/** The l-inf start: vertical stripes, each column (per channel) at +eps or -eps. */
function linfStart(start: Start): Float32Array {
  const { x0, n, h, w, c, eps, clip, prng } = start;
  const d = h * w * c;
  const best = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let col = 0; col < w; col++) {
      for (let ch = 0; ch < c; ch++) {
        const sgn = sign(prng) * eps;
        for (let row = 0; row < h; row++) {
          const k = i * d + (row * w + col) * c + ch;
          best[k] = clip(x0[k] + sgn);
        }
      }
    }
  }
  return best;
}

/** The l2 start: a grid of windows of side h / 5, each with a split pseudo-Gaussian profile of random sign. */
function l2Start(start: Start): Float32Array {
  const { x0, n, h, w, c, eps, clip, prng } = start;
  const d = h * w * c;
  const best = new Float32Array(n * d);
  const s = Math.max(1, Math.floor(h / 5));
  const off = Math.floor((h - 5 * s) / 2);
  const delta = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    delta.fill(0);
    for (let vh = off; vh + s <= h; vh += s) {
      for (let vw = off; vw + s <= w; vw += s) {
        const prof = splitRings(s, prng);
        for (let ch = 0; ch < c; ch++) {
          const sgn = sign(prng);
          for (let a = 0; a < s; a++) {
            for (let b = 0; b < s; b++) delta[((vh + a) * w + vw + b) * c + ch] += prof[a * s + b] * sgn;
          }
        }
      }
    }
    let norm = 0;
    for (const v of delta) norm += v * v;
    const scale = eps / Math.max(Math.sqrt(norm), 1e-12);
    for (let k = 0; k < d; k++) best[i * d + k] = clip(x0[i * d + k] + delta[k] * scale);
  }
  return best;
}

/**
 * The Square attack, untargeted (or, with `targeted`, towards the classes in `y`: then the margin is
 * max_{j != t} z_j - z_t). Uses forward passes only: at most `queries` per example, stopping for an example
 * as soon as it is misclassified. `gradientSteps` is 0.
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import type { Classifier, ForwardLogits } from "../models/classifier.ts";
 * import { square } from "./square.ts";
 * declare const classifier: Classifier, images: tf.Tensor4D, labels: tf.Tensor1D;
 * const r = square(classifier, images, labels, { eps: 0.3, queries: 5000, seed: 0 });
 * ```
 */
export function square(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  options: SquareOptions,
): AttackResult {
  const run = begin(model, x, y, options);
  if ("done" in run) return run.done;
  const { gen, end } = run;
  const [, h, w, c] = x.shape;
  let step = gen.next();
  while (!step.done) {
    const { images, labels, n: k } = step.value;
    step = gen.next(marginsOf(tfjsLogits(model, images, [k, h, w, c]), labels, k));
  }
  return end(step.value);
}

/**
 * {@linkcode square} with its queries sent to `forward`, a forward-only path to the same model's logits (an
 * onnxruntime session, say, faster than a tfjs forward pass): the search is the same, and the result is
 * judged by `model`. With `forward` returning `model`'s own logits, the result is `square`'s, bit for bit.
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import type { Classifier, ForwardLogits } from "../models/classifier.ts";
 * import { squareWithForward } from "./square.ts";
 * declare const classifier: Classifier, ort: ForwardLogits, images: tf.Tensor4D, labels: tf.Tensor1D;
 * const r = await squareWithForward(classifier, ort, images, labels, { eps: 0.3, seed: 0 });
 * ```
 */
export async function squareWithForward(
  model: Classifier,
  forward: ForwardLogits,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  options: SquareOptions,
): Promise<AttackResult> {
  const run = begin(model, x, y, options);
  if ("done" in run) return run.done;
  const { gen, end } = run;
  let step = gen.next();
  while (!step.done) {
    const { images, labels, n: k } = step.value;
    step = gen.next(marginsOf(await forward(images, k), labels, k));
  }
  return end(step.value);
}

/** One l-inf proposal, in place: a window of side round(sqrt(p h w)) moved to x +- eps (one sign per channel). */
function linfProposal(
  cand: Float32Array,
  orig: Float32Array,
  p: number,
  h: number,
  w: number,
  c: number,
  eps: number,
  clip: (v: number) => number,
  prng: Prng,
): void {
  const s = Math.min(h, w, Math.max(1, Math.round(Math.sqrt(p * h * w))));
  const vh = randomInt(prng, h - s + 1), vw = randomInt(prng, w - s + 1);
  const signs = new Float64Array(c);
  // Draw again (up to 10 times) when the window would not change: a wasted query otherwise.
  for (let attempt = 0; attempt < 10; attempt++) {
    for (let ch = 0; ch < c; ch++) signs[ch] = sign(prng);
    let changes = false;
    for (let a = 0; a < s && !changes; a++) {
      for (let b = 0; b < s && !changes; b++) {
        for (let ch = 0; ch < c; ch++) {
          const k = ((vh + a) * w + vw + b) * c + ch;
          if (Math.abs(clip(orig[k] + signs[ch] * eps) - cand[k]) > 1e-7) {
            changes = true;
            break;
          }
        }
      }
    }
    if (changes) break;
  }
  for (let a = 0; a < s; a++) {
    for (let b = 0; b < s; b++) {
      for (let ch = 0; ch < c; ch++) {
        const k = ((vh + a) * w + vw + b) * c + ch;
        cand[k] = clip(orig[k] + signs[ch] * eps);
      }
    }
  }
}

/**
 * One l2 proposal, in place: the perturbation in a second window is removed and its mass, with what the
 * budget has left, goes into the first window (its old profile plus a new pseudo-Gaussian one of random sign,
 * per channel); the whole perturbation is then rescaled to norm eps and clipped to the pixel range.
 */
function l2Proposal(
  cand: Float32Array,
  orig: Float32Array,
  p: number,
  h: number,
  w: number,
  c: number,
  eps: number,
  clip: (v: number) => number,
  prng: Prng,
): void {
  let s = Math.max(3, Math.round(Math.sqrt(p * h * w)));
  if (s % 2 === 0) s++;
  s = Math.min(s, h, w);
  const d = h * w * c;
  const delta = new Float64Array(d);
  for (let k = 0; k < d; k++) delta[k] = cand[k] - orig[k];
  const vh = randomInt(prng, h - s + 1), vw = randomInt(prng, w - s + 1);
  const vh2 = randomInt(prng, h - s + 1), vw2 = randomInt(prng, w - s + 1);
  const inWin = (row: number, col: number, r0: number, c0: number) =>
    row >= r0 && row < r0 + s && col >= c0 && col < c0 + s;
  let imageNorm = 0, windowsNorm = 0;
  for (let row = 0; row < h; row++) {
    for (let col = 0; col < w; col++) {
      const both = inWin(row, col, vh, vw) || inWin(row, col, vh2, vw2);
      for (let ch = 0; ch < c; ch++) {
        const v = delta[(row * w + col) * c + ch];
        imageNorm += v * v;
        if (both) windowsNorm += v * v;
      }
    }
  }
  const budget = Math.max(eps * eps - imageNorm, 0) / c + windowsNorm;
  const prof = rings(s, s);
  const fresh: Float64Array[] = [];
  for (let ch = 0; ch < c; ch++) {
    const sgn = sign(prng);
    let oldNorm = 0;
    for (let a = 0; a < s; a++) {
      for (let b = 0; b < s; b++) oldNorm += delta[((vh + a) * w + vw + b) * c + ch] ** 2;
    }
    oldNorm = Math.sqrt(oldNorm);
    const win = new Float64Array(s * s);
    let norm = 0;
    for (let a = 0; a < s; a++) {
      for (let b = 0; b < s; b++) {
        const v = prof[a * s + b] * sgn + delta[((vh + a) * w + vw + b) * c + ch] / (1e-12 + oldNorm);
        win[a * s + b] = v;
        norm += v * v;
      }
    }
    const scale = Math.sqrt(budget) / (1e-12 + Math.sqrt(norm));
    for (let k = 0; k < win.length; k++) win[k] *= scale;
    fresh.push(win);
  }
  for (let a = 0; a < s; a++) {
    for (let b = 0; b < s; b++) {
      for (let ch = 0; ch < c; ch++) delta[((vh2 + a) * w + vw2 + b) * c + ch] = 0;
    }
  }
  for (let ch = 0; ch < c; ch++) {
    for (let a = 0; a < s; a++) {
      for (let b = 0; b < s; b++) delta[((vh + a) * w + vw + b) * c + ch] = fresh[ch][a * s + b];
    }
  }
  let norm = 0;
  for (const v of delta) norm += v * v;
  const scale = eps / Math.max(Math.sqrt(norm), 1e-12);
  for (let k = 0; k < d; k++) cand[k] = clip(orig[k] + delta[k] * scale);
}

/** The descriptor of `{ kind: "square", eps, norm?, queries?, pInit?, clipMin?, clipMax? }`. */
export const squareAttack = defineAttack({
  kind: "square",
  options: {
    eps: num({ min: 0 }),
    norm: normField,
    queries: optional(int({ min: 1 }), 5000),
    pInit: optional(num({ min: 0, max: 1 }), 0.8),
    ...rangeFields,
  },
  describe(spec) {
    const norm = spec.norm === "l2" ? "l2" : "l-inf";
    return `Square-${spec.queries ?? 5000} (${norm}, eps ${spec.eps})`;
  },
  gradients: () => 0,
  stepLengths: [],
  run: square,
});
