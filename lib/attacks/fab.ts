/**
 * FAB, the fast adaptive boundary attack (Croce and Hein 2020), targeted (FAB-T): it looks for the smallest
 * perturbation that moves an example across the decision boundary between its class and a target class.
 * Each step linearises the logit difference z_t - z_y at the current point, projects both the current point
 * and the original image onto that hyperplane (the minimal-norm point of it inside the pixel box), and moves
 * to a convex combination of the two projections, extrapolated by eta and biased towards the original image
 * by at most alpha_max. Once a point crosses the boundary it is recorded if closer than the best so far, and
 * the search moves back towards the original image by a factor beta. FAB-T tries the classes with the
 * largest clean logits after the top one; an example counts as broken when the closest point found is within
 * eps.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { int, num, optional } from "../util/schema.ts";
import { inputGradientsOnly } from "../util/gradient_scope.ts";
import { argmaxRows, type Classifier, type ForwardLogits } from "../models/classifier.ts";
import type { Prng } from "../random/prng.ts";
import { defineAttack, finish, normField, prngFrom, rangeFields, threatFrom } from "./common.ts";
import type { Norm } from "./threat.ts";
import type { AttackResult, CommonAttackOptions } from "./types.ts";
import { emptyResult, validateAttackInput } from "./validate.ts";

/** Options of {@linkcode fabTargeted}. */
export interface FabOptions extends Omit<CommonAttackOptions, "targeted"> {
  /** Iterations per target class and restart (one input gradient and one forward pass each). Default 100. */
  steps?: number;
  /** Target classes: the 2nd to (targetClasses + 1)-th largest clean logits. Default 9. */
  targetClasses?: number;
  /** Runs per target; all but the first start from a random point. Default 1. */
  restarts?: number;
  /** Largest weight of the original image's projection in a step. Default 0.1. */
  alphaMax?: number;
  /** Extrapolation factor of the projection step. Default 1.05. */
  eta?: number;
  /** Backward step towards the original image after a point crosses the boundary. Default 0.9. */
  beta?: number;
}

/** Scratch buffers of the projection, grown as needed (one projection runs at a time). */
let scratch = {
  room: new Float64Array(0),
  absW: new Float64Array(0),
  mult: new Float64Array(0),
  work: new Int32Array(0),
};

/**
 * The minimal-norm d with w . d = c and lo <= p + d <= hi (l-inf or l2), written into `out`. When the box
 * does not allow w . d = c, the d that gets closest (every pixel as far as the box lets it go) is returned.
 * The solution is d_i = sign(c w_i) min(t m_i, room_i) with m_i = 1 (l-inf) or |w_i| (l2) and room_i the
 * box's room in that direction; t solves g(t) = sum_i |w_i| min(t m_i, room_i) = |c|, an increasing
 * piecewise-linear function with breakpoints room_i / m_i, found by selection over the breakpoints (each
 * round splits the candidates at a pivot and keeps the side holding t), in expected linear time.
 */
export function projectOntoHyperplaneInBox(
  p: Float32Array,
  w: Float32Array,
  c: number,
  lo: number,
  hi: number,
  norm: Norm,
  out: Float32Array,
): void {
  const n = p.length;
  out.fill(0);
  if (!(Math.abs(c) > 0)) return;
  if (scratch.room.length < n) {
    scratch = {
      room: new Float64Array(n),
      absW: new Float64Array(n),
      mult: new Float64Array(n),
      work: new Int32Array(n),
    };
  }
  const { room, absW, mult, work } = scratch;
  const s = c > 0 ? 1 : -1;
  const target = Math.abs(c);
  let count = 0, total = 0;
  for (let i = 0; i < n; i++) {
    const wi = w[i] * s;
    absW[i] = Math.abs(wi);
    const r = wi > 0 ? hi - p[i] : wi < 0 ? p[i] - lo : 0;
    room[i] = r > 0 ? r : 0;
    mult[i] = norm === "linf" ? 1 : absW[i];
    if (absW[i] > 0) {
      work[count++] = i;
      total += absW[i] * room[i];
    }
  }
  let t: number;
  if (count === 0 || total < target) {
    t = Infinity; // not reachable in the box: go as far as it allows
  } else {
    // Invariant: pixels outside work[a, b) are known saturated at t (their sum in `fixed`) or known
    // unsaturated (their slope in `slope`).
    let a = 0, b = count, fixed = 0, slope = 0;
    while (b > a) {
      const pivot = work[(a + b) >> 1];
      const tp = room[pivot] / mult[pivot];
      let satBelow = 0, slopeAbove = 0;
      // Three-way split of work[a, b): breakpoints < tp, == tp, > tp.
      let lt = a, gt = b, k = a;
      while (k < gt) {
        const i = work[k];
        const ti = room[i] / mult[i];
        if (ti < tp) {
          satBelow += absW[i] * room[i];
          work[k] = work[lt];
          work[lt++] = i;
          k++;
        } else if (ti > tp) {
          slopeAbove += absW[i] * mult[i];
          work[k] = work[--gt];
          work[gt] = i;
        } else {
          k++;
        }
      }
      let satEqual = 0, slopeEqual = 0;
      for (let q = lt; q < gt; q++) {
        satEqual += absW[work[q]] * room[work[q]];
        slopeEqual += absW[work[q]] * mult[work[q]];
      }
      const gp = fixed + satBelow + satEqual + tp * (slope + slopeAbove);
      if (gp >= target) {
        // t <= tp: the breakpoints at or above tp are not yet saturated.
        slope += slopeAbove + slopeEqual;
        b = lt;
      } else {
        // t > tp: the breakpoints at or below tp are saturated.
        fixed += satBelow + satEqual;
        a = gt;
      }
    }
    t = slope > 0 ? (target - fixed) / slope : Infinity;
  }
  for (let i = 0; i < n; i++) {
    if (absW[i] === 0) continue;
    const sg = w[i] * s > 0 ? 1 : -1;
    out[i] = sg * Math.min(t * mult[i], room[i]);
  }
}

function vectorNorm(v: Float32Array, norm: Norm): number {
  let r = 0;
  if (norm === "linf") {
    for (const a of v) r = Math.max(r, Math.abs(a));
    return r;
  }
  for (const a of v) r += a * a;
  return Math.sqrt(r);
}

/** z_t - z_y per example and its input gradient, at `x` ([n, ...shape] flat). */
function differenceAndGradient(
  model: Classifier,
  x: Float32Array,
  shape: [number, number, number, number],
  labels: Int32Array,
  targets: Int32Array,
): { f: Float32Array; g: Float32Array } {
  const [fT, gT] = inputGradientsOnly(() =>
    tf.tidy(() => {
      const xs = tf.tensor4d(x, shape);
      const yl = tf.tensor1d(labels, "int32"), tl = tf.tensor1d(targets, "int32");
      const { value, grad } = tf.valueAndGrad((xi: tf.Tensor) => {
        const logits = model(xi as tf.Tensor4D);
        const k = logits.shape[1];
        return tf.sum(tf.mul(logits, tf.sub(tf.oneHot(tl, k), tf.oneHot(yl, k))), 1);
      })(xs);
      return [value, grad];
    })
  );
  const out = { f: Float32Array.from(fT.dataSync()), g: Float32Array.from(gT.dataSync()) };
  tf.dispose([fT, gT]);
  return out;
}

function predict(model: Classifier, x: Float32Array, shape: [number, number, number, number]): Int32Array {
  const t = tf.tidy(() => tf.argMax(model(tf.tensor4d(x, shape)), 1));
  const out = Int32Array.from(t.dataSync());
  t.dispose();
  return out;
}

interface FabSettings {
  norm: Norm;
  lo: number;
  hi: number;
  eps: number;
  steps: number;
  alphaMax: number;
  eta: number;
  beta: number;
}

/** What a FAB search asks of the model: the predicted classes of `x` ([n, ...] flat). */
interface PredictRequest {
  x: Float32Array;
  shape: [number, number, number, number];
}

/**
 * One FAB-T run on examples `x0` (flat, n images of d pixels) towards `targets`, as a generator that yields
 * each batch it needs predictions of (the gradients come from `model`). Updates the closest point found
 * across the boundary per example and its distance (Infinity where none was found).
 */
function* fabRun(
  model: Classifier,
  x0: Float32Array,
  shape: [number, number, number, number],
  labels: Int32Array,
  targets: Int32Array,
  s: FabSettings,
  randomStart: boolean,
  prng: Prng,
  bestDist: Float64Array,
  best: Float32Array,
): Generator<PredictRequest, void, Int32Array> {
  const n = shape[0];
  const d = x0.length / n;
  const x1 = Float32Array.from(x0);
  if (randomStart) {
    for (let i = 0; i < n; i++) {
      const r = Math.min(bestDist[i], s.eps) * 0.5;
      const t = new Float32Array(d);
      for (let k = 0; k < d; k++) {
        t[k] = s.norm === "linf"
          ? 2 * prng.next() - 1
          : Math.sqrt(-2 * Math.log(1 - prng.next())) * Math.cos(2 * Math.PI * prng.next());
      }
      const tn = Math.max(vectorNorm(t, s.norm), 1e-12);
      for (let k = 0; k < d; k++) {
        x1[i * d + k] = Math.min(s.hi, Math.max(s.lo, x0[i * d + k] + r * t[k] / tn));
      }
    }
  }
  const d1 = new Float32Array(d), d2 = new Float32Array(d), diff = new Float32Array(d);
  for (let it = 0; it < s.steps; it++) {
    const { f, g } = differenceAndGradient(model, x1, shape, labels, targets);
    for (let i = 0; i < n; i++) {
      const p1 = x1.subarray(i * d, (i + 1) * d), p0 = x0.subarray(i * d, (i + 1) * d);
      const w = g.subarray(i * d, (i + 1) * d);
      // Linearised boundary at x1: f + w . (z - x1) = 0. For p: w . d = -f - w . (p - x1).
      let shift = 0;
      for (let k = 0; k < d; k++) shift += w[k] * (p0[k] - p1[k]);
      projectOntoHyperplaneInBox(p1, w, -f[i], s.lo, s.hi, s.norm, d1);
      projectOntoHyperplaneInBox(p0, w, -f[i] - shift, s.lo, s.hi, s.norm, d2);
      const a1 = Math.max(vectorNorm(d1, s.norm), 1e-8), a2 = Math.max(vectorNorm(d2, s.norm), 1e-8);
      const alpha = Math.min(Math.max(a1 / (a1 + a2), 0), s.alphaMax);
      for (let k = 0; k < d; k++) {
        const v = (p1[k] + s.eta * d1[k]) * (1 - alpha) + (p0[k] + s.eta * d2[k]) * alpha;
        p1[k] = Math.min(s.hi, Math.max(s.lo, v));
      }
    }
    const pred = yield { x: x1, shape };
    for (let i = 0; i < n; i++) {
      if (pred[i] === labels[i]) continue;
      const p1 = x1.subarray(i * d, (i + 1) * d), p0 = x0.subarray(i * d, (i + 1) * d);
      for (let k = 0; k < d; k++) diff[k] = p1[k] - p0[k];
      const dist = vectorNorm(diff, s.norm);
      if (dist < bestDist[i]) {
        bestDist[i] = dist;
        best.set(p1, i * d);
      }
      for (let k = 0; k < d; k++) p1[k] = p0[k] + diff[k] * s.beta;
    }
  }
}

/**
 * FAB-T: for each of `targetClasses` target classes (the largest clean logits after the top one), `restarts`
 * runs of `steps` FAB iterations on the examples not yet broken. Returns per example the closest
 * misclassified point found when it lies within eps, and the original image otherwise; success is
 * misclassification within the ball. `y` holds the true labels.
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import type { Classifier, ForwardLogits } from "../models/classifier.ts";
 * import { fabTargeted } from "./fab.ts";
 * declare const classifier: Classifier, images: tf.Tensor4D, labels: tf.Tensor1D;
 * const r = fabTargeted(classifier, images, labels, { eps: 0.3 }); // 9 targets x 100 iterations, l-inf
 * ```
 */
export function fabTargeted(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  options: FabOptions,
): AttackResult {
  const plan = fabPlan(model, x, y, options);
  if (plan.done) return plan.done;
  const gen = fabSearch(model, x, y, plan, prngFrom(options));
  let step = gen.next();
  while (!step.done) step = gen.next(predict(model, step.value.x, step.value.shape));
  return fabResult(model, x, y, plan, step.value, options.judge);
}

/**
 * {@linkcode fabTargeted} with the prediction of each iterate sent to `forward`, a forward-only path to the
 * same model's logits (an onnxruntime session, say); the gradients still come from `model`, which also
 * judges the result. With `forward` returning `model`'s own logits, the result is `fabTargeted`'s, bit for
 * bit.
 */
export async function fabTargetedWithForward(
  model: Classifier,
  forward: ForwardLogits,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  options: FabOptions,
): Promise<AttackResult> {
  const plan = fabPlan(model, x, y, options);
  if (plan.done) return plan.done;
  const gen = fabSearch(model, x, y, plan, prngFrom(options));
  let step = gen.next();
  while (!step.done) {
    const { x: xs, shape } = step.value;
    const logits = await forward(xs, shape[0]);
    step = gen.next(argmaxRows(logits, shape[0]));
  }
  return fabResult(model, x, y, plan, step.value, options.judge);
}

/** The settings of a FAB-T run, each checked; `done` is the result where there is nothing to search. */
function fabPlan(model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, options: FabOptions) {
  const threat = threatFrom(options);
  const steps = options.steps ?? 100;
  const restarts = options.restarts ?? 1;
  const targetClasses = options.targetClasses ?? 9;
  const settings: FabSettings = {
    norm: threat.norm,
    lo: threat.clipMin,
    hi: threat.clipMax,
    eps: threat.eps,
    steps,
    alphaMax: options.alphaMax ?? 0.1,
    eta: options.eta ?? 1.05,
    beta: options.beta ?? 0.9,
  };
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`fabTargeted: steps must be an integer >= 0, got ${steps}`);
  }
  if (!Number.isInteger(restarts) || restarts < 1) {
    throw new RangeError(`fabTargeted: restarts must be an integer >= 1, got ${restarts}`);
  }
  for (
    const [name, v, ok] of [
      ["alphaMax", settings.alphaMax, settings.alphaMax >= 0 && settings.alphaMax <= 1],
      ["eta", settings.eta, settings.eta >= 1 && Number.isFinite(settings.eta)],
      ["beta", settings.beta, settings.beta > 0 && settings.beta <= 1],
    ] as const
  ) {
    if (!ok) throw new RangeError(`fabTargeted: ${name} out of range, got ${v}`);
  }
  const { n } = validateAttackInput("fabTargeted", model, x, y, { threat });
  const plan = { n, settings, restarts, targetClasses, done: undefined as AttackResult | undefined };
  if (n === 0) plan.done = emptyResult(x);
  else if (threat.eps === 0 || steps === 0) {
    plan.done = finish(model, tf.clone(x), y, false, 0, options.judge);
  }
  return plan;
}

type FabPlan = ReturnType<typeof fabPlan>;

/**
 * The FAB-T search over target classes and restarts, as a generator that yields each batch it needs
 * predictions of; returns the closest point found per example and its distance.
 */
function* fabSearch(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  plan: FabPlan,
  prng: Prng,
): Generator<PredictRequest, { best: Float32Array; bestDist: Float64Array }, Int32Array> {
  const { n, settings, restarts, targetClasses } = plan;
  const [, h, w, c] = x.shape;
  const ranked = tf.tidy(() => {
    const logits = model(x);
    const classes = logits.shape[1];
    if (!Number.isInteger(targetClasses) || targetClasses < 1 || targetClasses > classes - 1) {
      throw new RangeError(
        `fabTargeted: targetClasses must be an integer in [1, ${classes - 1}], got ${targetClasses}`,
      );
    }
    return tf.topk(logits, targetClasses + 1).indices;
  });
  const order = ranked.arraySync() as number[][];
  ranked.dispose();
  const d = h * w * c;
  const x0 = x.dataSync() as Float32Array;
  const labels = y.dataSync();
  const bestDist = new Float64Array(n).fill(Infinity);
  const best = Float32Array.from(x0);
  for (let rank = 1; rank <= targetClasses; rank++) {
    for (let r = 0; r < restarts; r++) {
      const idx: number[] = [];
      for (let i = 0; i < n; i++) if (!(bestDist[i] <= settings.eps)) idx.push(i);
      if (idx.length === 0) break;
      const sub = new Float32Array(idx.length * d);
      idx.forEach((i, k) => sub.set(x0.subarray(i * d, (i + 1) * d), k * d));
      const subBest = new Float32Array(idx.length * d);
      idx.forEach((i, k) => subBest.set(best.subarray(i * d, (i + 1) * d), k * d));
      const subDist = Float64Array.from(idx, (i) => bestDist[i]);
      yield* fabRun(
        model,
        sub,
        [idx.length, h, w, c],
        Int32Array.from(idx, (i) => labels[i]),
        Int32Array.from(idx, (i) => order[i][rank]),
        settings,
        r > 0,
        prng,
        subDist,
        subBest,
      );
      idx.forEach((i, k) => {
        if (subDist[k] < bestDist[i]) {
          bestDist[i] = subDist[k];
          best.set(subBest.subarray(k * d, (k + 1) * d), i * d);
        }
      });
    }
  }
  return { best, bestDist };
}

/** The attack's result: the closest point found where it lies within eps, the original image elsewhere. */
function fabResult(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  plan: FabPlan,
  found: { best: Float32Array; bestDist: Float64Array },
  judge?: boolean,
): AttackResult {
  const { best, bestDist } = found;
  const [n, h, w, c] = x.shape;
  const d = h * w * c;
  const x0 = x.dataSync() as Float32Array;
  // Only points inside the ball are adversarial examples of this threat model.
  for (let i = 0; i < n; i++) {
    if (!(bestDist[i] <= plan.settings.eps * (1 + 1e-6))) best.set(x0.subarray(i * d, (i + 1) * d), i * d);
  }
  const gradientSteps = plan.settings.steps * plan.targetClasses * plan.restarts;
  return finish(model, tf.tensor4d(best, [n, h, w, c]), y, false, gradientSteps, judge);
}

/** The descriptor of `{ kind: "fab-t", eps, norm?, steps?, targetClasses?, restarts?, alphaMax?, eta?, beta?, ... }`. */
export const fabTargetedAttack = defineAttack({
  kind: "fab-t",
  options: {
    eps: num({ min: 0 }),
    norm: normField,
    steps: optional(int({ min: 0 }), 100),
    targetClasses: optional(int({ min: 1 }), 9),
    restarts: optional(int({ min: 1 }), 1),
    alphaMax: optional(num({ min: 0, max: 1 }), 0.1),
    eta: optional(num({ min: 1 }), 1.05),
    beta: optional(num({ min: 0, max: 1 }), 0.9),
    ...rangeFields,
  },
  describe(spec) {
    const norm = spec.norm === "l2" ? "l2" : "l-inf";
    return `FAB-T-${spec.steps ?? 100} x${spec.targetClasses ?? 9} targets (${norm}, eps ${spec.eps})`;
  },
  gradients: (spec) => (spec.steps ?? 100) * (spec.targetClasses ?? 9) * (spec.restarts ?? 1),
  stepLengths: [],
  run: fabTargeted,
});
