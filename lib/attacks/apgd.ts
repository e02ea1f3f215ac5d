/**
 * Auto-PGD (Croce and Hein 2020): PGD with momentum whose step size needs no tuning. It starts at 2 eps and is
 * halved at checkpoints when the search stalls, and the search then restarts from the best point found.
 * Cross-entropy or DLR loss (APGD-CE, APGD-DLR), and the targeted DLR loss over the top target classes
 * (APGD-T); l-inf and l2; expectation over transformation (EOT) for randomised models.
 *
 * Checkpoints at fractions p_0 = 0, p_1 = 0.22, p_(j+1) = p_j + max(p_j - p_(j-1) - 0.03, 0.06) of the
 * iterations. At checkpoint w_j the step of an example is halved if its loss rose in fewer than rho of the
 * steps since w_(j-1), or if its step was not halved at w_(j-1) and its best loss has not improved since.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { int, num, optional, str } from "../util/schema.ts";
import { inputGradientsOnly } from "../util/gradient_scope.ts";
import type { Classifier } from "../models/classifier.ts";
import { seedFrom } from "../random/prng.ts";
import { defineAttack, finish, normField, prngFrom, rangeFields, resultOf, threatFrom } from "./common.ts";
import { dlrLoss, targetedDlrLoss } from "./dlr.ts";
import { crossEntropy } from "./loss.ts";
import { projectorOf, type ThreatModel } from "./threat.ts";
import type { AttackResult, CommonAttackOptions } from "./types.ts";
import { emptyResult, validateAttackInput } from "./validate.ts";

/** The losses APGD ascends. */
export type ApgdLoss = "ce" | "dlr";

/** Options of {@linkcode apgd}. */
export interface ApgdOptions extends CommonAttackOptions {
  /** Loss: "ce" (cross-entropy, APGD-CE) or "dlr" (APGD-DLR). Default "ce". */
  loss?: ApgdLoss;
  /** Iterations (one input gradient each, plus one at the start). Default 100. */
  steps?: number;
  /** Runs from independent random starts, each on the examples still correctly classified. Default 1. */
  restarts?: number;
  /** Share of rising steps below which the step is halved at a checkpoint. Default 0.75. */
  rho?: number;
  /** Weight of the new step against the previous one (1 - momentum of the update). Default 0.75. */
  momentum?: number;
  /** Gradients averaged per iteration (EOT, for randomised models). Default 1. */
  eot?: number;
}

/** Options of {@linkcode apgdTargeted}. */
export interface ApgdTargetedOptions extends Omit<ApgdOptions, "loss" | "targeted"> {
  /** Target classes tried per example: the 2nd to (targetClasses + 1)-th largest clean logits. Default 9. */
  targetClasses?: number;
}

/** The iterations (1-based counts of steps taken) at which APGD checks its step size, for `steps` iterations. */
export function apgdCheckpoints(steps: number): number[] {
  const out: number[] = [];
  let prev = 0, p = 0.22;
  while (p <= 1) {
    const w = Math.ceil(p * steps - 1e-9);
    if (w >= 1 && w <= steps && (out.length === 0 || w > out[out.length - 1])) out.push(w);
    const next = p + Math.max(p - prev - 0.03, 0.06);
    prev = p;
    p = next;
  }
  return out;
}

type LossFn = (logits: tf.Tensor2D) => tf.Tensor1D;

/**
 * Per-example loss, logits and the input gradient of the summed loss, from one forward and one backward pass
 * (averaged over `eot` draws). The caller disposes the three tensors.
 */
function lossAndGradient(
  model: Classifier,
  x: tf.Tensor4D,
  loss: LossFn,
  eot: number,
): { loss: tf.Tensor1D; logits: tf.Tensor2D; grad: tf.Tensor4D } {
  let lossSum: tf.Tensor1D | undefined, logitSum: tf.Tensor2D | undefined, gradSum: tf.Tensor4D | undefined;
  for (let e = 0; e < eot; e++) {
    let logits: tf.Tensor2D | undefined;
    const { value, grad } = inputGradientsOnly(() =>
      tf.valueAndGrad((xi: tf.Tensor) => {
        // Kept past the gradient's own scope so that the same forward pass gives the predictions.
        logits = tf.keep(model(xi as tf.Tensor4D));
        return loss(logits);
      })(x)
    );
    if (!lossSum) {
      [lossSum, logitSum, gradSum] = [value as tf.Tensor1D, logits!, grad as tf.Tensor4D];
    } else {
      const sums = tf.tidy(
        () => [tf.add(lossSum!, value), tf.add(logitSum!, logits!), tf.add(gradSum!, grad)],
      );
      tf.dispose([lossSum, logitSum!, gradSum!, value, logits!, grad]);
      [lossSum, logitSum, gradSum] = sums as [tf.Tensor1D, tf.Tensor2D, tf.Tensor4D];
    }
  }
  if (eot === 1) return { loss: lossSum!, logits: logitSum!, grad: gradSum! };
  const mean = tf.tidy(() => [tf.div(lossSum!, eot), tf.div(logitSum!, eot), tf.div(gradSum!, eot)]);
  tf.dispose([lossSum!, logitSum!, gradSum!]);
  return { loss: mean[0] as tf.Tensor1D, logits: mean[1] as tf.Tensor2D, grad: mean[2] as tf.Tensor4D };
}

/** A point drawn as APGD's authors do: a random corner-scaled offset on the sphere of radius eps, clipped. */
function apgdStart(x: tf.Tensor4D, threat: ThreatModel, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const n = x.shape[0];
    const flat = (t: tf.Tensor) => t.reshape([n, -1]);
    let delta: tf.Tensor;
    if (threat.norm === "linf") {
      const t = tf.randomUniform(x.shape, -1, 1, "float32", seed);
      delta = tf.div(t, tf.maximum(tf.max(tf.abs(flat(t)), 1), 1e-12).reshape([n, 1, 1, 1]));
    } else {
      const t = tf.randomNormal(x.shape, 0, 1, "float32", seed);
      delta = tf.div(t, tf.maximum(tf.norm(flat(t), 2, 1), 1e-12).reshape([n, 1, 1, 1]));
    }
    return threat.project(tf.add(x, tf.mul(delta, threat.eps)) as tf.Tensor4D, x);
  });
}

/**
 * Per example, `a` where `mask` ([N] bool) holds and `b` elsewhere, for [N, ...] tensors: a * m + b * (1 - m)
 * with a float mask, exact for finite values (tfjs's broadcasting `where` is ten times slower on wasm).
 */
function pick<T extends tf.Tensor>(mask: tf.Tensor, a: T, b: T): T {
  return tf.tidy(() => {
    const m = tf.reshape(tf.cast(mask, "float32"), [mask.shape[0], ...a.shape.slice(1).map(() => 1)]);
    return tf.add(tf.mul(a, m), tf.mul(b, tf.sub(1, m))) as T;
  });
}

interface RunSettings {
  threat: ThreatModel;
  steps: number;
  rho: number;
  momentum: number;
  eot: number;
  seed: number;
}

/** What one APGD run found, per example of its batch. */
interface RunResult {
  /** The last point that `hit` counted as broken where `fooled` is set, else the point of highest loss. */
  adversarial: tf.Tensor4D;
  fooled: Uint8Array;
  /** The model's predictions at those points, from the search's own forward passes. */
  predictions: Int32Array;
}

/** The tensors of an APGD search, per example of its batch. */
interface Search {
  xAdv: tf.Tensor4D;
  xOld: tf.Tensor4D;
  grad: tf.Tensor4D;
  loss: tf.Tensor1D;
  /** Whether any point so far was a hit (bool), the last hit, and the predictions there. */
  fooled: tf.Tensor;
  xBestAdv: tf.Tensor4D;
  predHit: tf.Tensor1D;
  /** The point of highest loss, its gradient, its loss and the predictions there. */
  xBest: tf.Tensor4D;
  gradBest: tf.Tensor4D;
  lossBest: tf.Tensor1D;
  predBest: tf.Tensor1D;
  /** Steps since the last checkpoint that raised the loss, and the step size (both per example). */
  rises: tf.Tensor1D;
  stepSize: tf.Tensor4D;
}

/** The search at its random start, with the loss and gradient there. */
function startSearch(
  model: Classifier,
  x: tf.Tensor4D,
  loss: LossFn,
  hit: (logits: tf.Tensor2D) => tf.Tensor1D,
  s: RunSettings,
): Search {
  const xAdv = apgdStart(x, s.threat, s.seed);
  const r = lossAndGradient(model, xAdv, loss, s.eot);
  const fooled = tf.tidy(() => tf.cast(hit(r.logits), "bool"));
  // Predictions at the last hit and at the point of highest loss, so that no forward pass judges the result.
  const predHit = tf.tidy(() => tf.argMax(r.logits, 1)) as tf.Tensor1D;
  r.logits.dispose();
  return {
    xAdv,
    xOld: tf.clone(xAdv),
    grad: r.grad,
    loss: r.loss,
    fooled,
    xBestAdv: tf.clone(xAdv),
    predHit,
    xBest: tf.clone(xAdv),
    gradBest: tf.clone(r.grad),
    lossBest: tf.clone(r.loss),
    predBest: tf.clone(predHit),
    rises: tf.zeros([x.shape[0]]) as tf.Tensor1D,
    stepSize: tf.fill([x.shape[0], 1, 1, 1], 2 * s.threat.eps) as tf.Tensor4D,
  };
}

/** Replaces fields of the search, disposing the tensors they held. */
function update(search: Search, next: Partial<Search>): void {
  for (const [key, value] of Object.entries(next) as [keyof Search, tf.Tensor][]) {
    if (search[key] !== value) search[key].dispose();
    (search as unknown as Record<string, tf.Tensor>)[key] = value;
  }
}

/**
 * Iteration `i`: the step from xAdv (with momentum after the first), projected; the loss and gradient there;
 * the last hit, the best point and the count of rising steps updated.
 */
function searchStep(
  search: Search,
  i: number,
  project: (v: tf.Tensor4D) => tf.Tensor4D,
  model: Classifier,
  loss: LossFn,
  hit: (logits: tf.Tensor2D) => tf.Tensor1D,
  s: RunSettings,
): void {
  const a = i === 0 ? 1 : s.momentum;
  const { xAdv, xOld, grad, stepSize } = search;
  const next = tf.tidy(() => {
    const z = project(tf.add(xAdv, tf.mul(s.threat.step(grad, 1), stepSize)) as tf.Tensor4D);
    if (a === 1) return z;
    const mixed = tf.add(xAdv, tf.add(tf.mul(tf.sub(z, xAdv), a), tf.mul(tf.sub(xAdv, xOld), 1 - a)));
    return project(mixed as tf.Tensor4D);
  });
  const r = lossAndGradient(model, next, loss, s.eot);
  const bests = tf.tidy(() => {
    const h = tf.cast(hit(r.logits), "bool");
    const better = tf.greater(r.loss, search.lossBest);
    const pred = tf.argMax(r.logits, 1) as tf.Tensor1D;
    return {
      fooled: tf.logicalOr(search.fooled, h),
      xBestAdv: pick(h, next, search.xBestAdv),
      predHit: tf.where(h, pred, search.predHit) as tf.Tensor1D,
      xBest: pick(better, next, search.xBest),
      gradBest: pick(better, r.grad, search.gradBest),
      lossBest: tf.where(better, r.loss, search.lossBest) as tf.Tensor1D,
      predBest: tf.where(better, pred, search.predBest) as tf.Tensor1D,
      rises: tf.add(search.rises, tf.cast(tf.greater(r.loss, search.loss), "float32")) as tf.Tensor1D,
    };
  });
  r.logits.dispose();
  xOld.dispose();
  // xAdv moves to xOld rather than being disposed.
  search.xOld = xAdv;
  search.xAdv = next;
  update(search, { ...bests, loss: r.loss, grad: r.grad });
}

/** What the step-size rule remembers from one checkpoint to the next. */
interface Checkpointing {
  at: number[];
  last: number;
  bestAtLast: Float32Array;
  halvedAtLast: Uint8Array;
}

/**
 * The checkpoint after iteration `w`: halves the step of each example whose loss rose in fewer than rho of the
 * steps since the last checkpoint, or whose step was not halved then and whose best loss has not improved,
 * and restarts those examples from their best point.
 */
function checkStepSize(search: Search, w: number, c: Checkpointing, rho: number): void {
  const n = search.rises.shape[0];
  const rose = search.rises.dataSync();
  const best = search.lossBest.dataSync();
  const halve = new Uint8Array(n);
  for (let j = 0; j < n; j++) {
    const oscillates = rose[j] < rho * (w - c.last);
    const stalled = !c.halvedAtLast[j] && c.bestAtLast[j] >= best[j];
    halve[j] = oscillates || stalled ? 1 : 0;
  }
  c.halvedAtLast = halve;
  c.bestAtLast = Float32Array.from(best);
  c.last = w;
  update(search, { rises: tf.zeros([n]) as tf.Tensor1D });
  if (!halve.some((v) => v === 1)) return;
  update(
    search,
    tf.tidy(() => {
      const m = tf.tensor1d(halve, "bool");
      return {
        stepSize: pick(m, tf.div(search.stepSize, 2), search.stepSize),
        xAdv: pick(m, search.xBest, search.xAdv),
        grad: pick(m, search.gradBest, search.grad),
      };
    }),
  );
}

/**
 * One APGD run on the batch. Returns per example the last point found that `hit(logits)` counts as broken
 * (`fooled` set), or else the point of highest loss, with the predictions there.
 */
function apgdRun(
  model: Classifier,
  x: tf.Tensor4D,
  loss: LossFn,
  hit: (logits: tf.Tensor2D) => tf.Tensor1D,
  s: RunSettings,
): RunResult {
  const projector = projectorOf(s.threat, x);
  const project = projector.project;
  try {
    const search = startSearch(model, x, loss, hit, s);
    const checkpoints: Checkpointing = {
      at: apgdCheckpoints(s.steps),
      last: 0,
      bestAtLast: Float32Array.from(search.lossBest.dataSync()),
      halvedAtLast: new Uint8Array(x.shape[0]).fill(1),
    };
    for (let i = 0; i < s.steps; i++) {
      searchStep(search, i, project, model, loss, hit, s);
      if (checkpoints.at.includes(i + 1)) checkStepSize(search, i + 1, checkpoints, s.rho);
    }
    const adversarial = pick(search.fooled, search.xBestAdv, search.xBest);
    const fooled = Uint8Array.from(search.fooled.dataSync());
    const predictions = tf.tidy(() => tf.where(search.fooled, search.predHit, search.predBest));
    const predicted = Int32Array.from(predictions.dataSync());
    tf.dispose([...Object.values(search), predictions]);
    return { adversarial, fooled, predictions: predicted };
  } finally {
    projector.dispose();
  }
}

/**
 * The attack's result. The search's own predictions judge it, with no further forward pass, unless its
 * gradients were averaged over draws of a randomised model (EOT), whose averaged logits are not what one
 * query returns: then the model classifies the final points once more, as AutoAttack does.
 */
function searchResult(
  model: Classifier,
  adversarial: tf.Tensor4D,
  predictions: Int32Array,
  y: tf.Tensor1D,
  targeted: boolean,
  gradients: number,
  eot: number,
  judge?: boolean,
): AttackResult {
  if (eot > 1 || judge === false) return finish(model, adversarial, y, targeted, gradients, judge);
  return resultOf(adversarial, predictions, y, targeted, gradients);
}

function checkCommon(options: ApgdOptions, name: string): RunSettings & { restarts: number } {
  const steps = options.steps ?? 100;
  const restarts = options.restarts ?? 1;
  const rho = options.rho ?? 0.75;
  const momentum = options.momentum ?? 0.75;
  const eot = options.eot ?? 1;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`${name}: steps must be an integer >= 0, got ${steps}`);
  }
  if (!Number.isInteger(restarts) || restarts < 1) {
    throw new RangeError(`${name}: restarts must be an integer >= 1, got ${restarts}`);
  }
  if (!(rho >= 0 && rho <= 1)) throw new RangeError(`${name}: rho must be in [0, 1], got ${rho}`);
  if (!(momentum > 0 && momentum <= 1)) {
    throw new RangeError(`${name}: momentum must be in (0, 1], got ${momentum}`);
  }
  if (!Number.isInteger(eot) || eot < 1) {
    throw new RangeError(`${name}: eot must be an integer >= 1, got ${eot}`);
  }
  return { threat: threatFrom(options), steps, restarts, rho, momentum, eot, seed: 0 };
}

/**
 * Runs `run` on the examples not yet broken, `rounds` times, merging each round's adversarial points and
 * predictions into the batch result (a broken example keeps the first point that broke it).
 */
function onRemaining(
  x: tf.Tensor4D,
  rounds: number,
  run: (xs: tf.Tensor4D, idx: Int32Array, round: number) => RunResult,
): { adversarial: tf.Tensor4D; predictions: Int32Array } {
  const n = x.shape[0];
  const broken = new Uint8Array(n);
  const predictions = new Int32Array(n);
  let result: tf.Tensor4D | undefined;
  for (let r = 0; r < rounds; r++) {
    const idx = Int32Array.from([...broken.keys()].filter((j) => !broken[j]));
    if (idx.length === 0) break;
    const all = idx.length === n;
    const xs = all ? x : tf.tidy(() => tf.gather(x, tf.tensor1d(idx, "int32")) as tf.Tensor4D);
    const out = run(xs, idx, r);
    if (!all) xs.dispose();
    // Replace an example's point when this round broke it, or when no earlier round produced one.
    const take = new Uint8Array(n);
    idx.forEach((j, k) => {
      take[j] = out.fooled[k] || !result ? 1 : 0;
      if (take[j]) predictions[j] = out.predictions[k];
      if (out.fooled[k]) broken[j] = 1;
    });
    const merged = tf.tidy(() => {
      const full = all
        ? out.adversarial
        : tf.scatterND(tf.tensor2d(idx, [idx.length, 1], "int32"), out.adversarial, x.shape) as tf.Tensor4D;
      return pick(tf.tensor1d(take, "bool"), full, result ?? x);
    });
    out.adversarial.dispose();
    result?.dispose();
    result = merged;
  }
  return { adversarial: result ?? tf.clone(x), predictions };
}

/**
 * APGD-CE / APGD-DLR: untargeted Auto-PGD ascending the cross-entropy or the DLR loss. With `targeted`, `y`
 * holds target classes and the cross-entropy towards them is descended (the DLR loss is untargeted only; use
 * {@linkcode apgdTargeted} for APGD-T). Uses `(steps + 1) * eot` gradients per run.
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import type { Classifier } from "../models/classifier.ts";
 * import { apgd } from "./apgd.ts";
 * declare const classifier: Classifier, images: tf.Tensor4D, labels: tf.Tensor1D;
 * const r = apgd(classifier, images, labels, { eps: 0.3, loss: "ce" }); // 100 iterations, l-inf
 * ```
 */
export function apgd(model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, options: ApgdOptions): AttackResult {
  const settings = checkCommon(options, "apgd");
  const targeted = options.targeted ?? false;
  const lossKind = options.loss ?? "ce";
  if (lossKind !== "ce" && lossKind !== "dlr") {
    throw new RangeError(`apgd: loss must be "ce" or "dlr", got ${JSON.stringify(lossKind)}`);
  }
  if (targeted && lossKind === "dlr") {
    throw new RangeError(
      "apgd: the DLR loss is untargeted here; use apgdTargeted() for APGD-T (targeted DLR)",
    );
  }
  const { n, classes } = validateAttackInput("apgd", model, x, y, { threat: settings.threat, targeted });
  if (n === 0) return emptyResult(x);
  if (lossKind === "dlr" && classes < 3) {
    throw new RangeError(`apgd: the DLR loss needs >= 3 classes, got ${classes}`);
  }
  if (settings.threat.eps === 0 || settings.steps === 0) {
    return finish(model, tf.clone(x), y, targeted, 0, options.judge);
  }
  const prng = prngFrom(options);
  const labels = y.dataSync();
  // One scope around the whole search: if the model throws midway, every tensor of the search is disposed.
  let predictions: Int32Array = new Int32Array(0);
  const adversarial = tf.tidy(() => {
    const found = onRemaining(x, settings.restarts, (xs, idx) => {
      const ys = tf.tensor1d(Int32Array.from(idx, (j) => labels[j]), "int32");
      try {
        const loss: LossFn = (logits) =>
          tf.tidy(() => {
            if (lossKind === "dlr") return dlrLoss(logits, ys);
            const ce = crossEntropy(logits, ys);
            return targeted ? tf.neg(ce) : ce;
          });
        const hit = (logits: tf.Tensor2D) =>
          tf.tidy(() =>
            targeted
              ? tf.equal(tf.argMax(logits, 1), tf.cast(ys, "int32"))
              : tf.notEqual(tf.argMax(logits, 1), tf.cast(ys, "int32"))
          ) as tf.Tensor1D;
        return apgdRun(model, xs, loss, hit, { ...settings, seed: seedFrom(prng) });
      } finally {
        ys.dispose();
      }
    });
    predictions = found.predictions;
    return found.adversarial;
  });
  const gradients = (settings.steps + 1) * settings.eot * settings.restarts;
  return searchResult(model, adversarial, predictions, y, targeted, gradients, settings.eot, options.judge);
}

/**
 * APGD-T: for each of the `targetClasses` classes with the largest clean logits after the top one, an APGD run
 * ascending the targeted DLR loss towards it, on the examples no earlier target has misclassified. Success is
 * misclassification (any wrong class), as in AutoAttack; `y` holds the true labels. Needs K >= 4 classes.
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import type { Classifier } from "../models/classifier.ts";
 * import { apgdTargeted } from "./apgd.ts";
 * declare const classifier: Classifier, images: tf.Tensor4D, labels: tf.Tensor1D;
 * const r = apgdTargeted(classifier, images, labels, { eps: 0.3 }); // 9 targets x 100 iterations
 * ```
 */
export function apgdTargeted(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  options: ApgdTargetedOptions,
): AttackResult {
  const settings = checkCommon(options, "apgdTargeted");
  const targetClasses = options.targetClasses ?? 9;
  const { n } = validateAttackInput("apgdTargeted", model, x, y, { threat: settings.threat });
  if (n === 0) return emptyResult(x);
  if (settings.threat.eps === 0 || settings.steps === 0) {
    return finish(model, tf.clone(x), y, false, 0, options.judge);
  }
  const ranked = tf.tidy(() => {
    const logits = model(x);
    const classes = logits.shape[1];
    if (classes < 4) {
      throw new RangeError(`apgdTargeted: the targeted DLR loss needs >= 4 classes, got ${classes}`);
    }
    if (!Number.isInteger(targetClasses) || targetClasses < 1 || targetClasses > classes - 1) {
      throw new RangeError(
        `apgdTargeted: targetClasses must be an integer in [1, ${classes - 1}], got ${targetClasses}`,
      );
    }
    return tf.topk(logits, targetClasses + 1).indices;
  });
  const order = ranked.arraySync() as number[][];
  ranked.dispose();
  const labels = y.dataSync();
  const prng = prngFrom(options);
  const rounds = targetClasses * settings.restarts;
  let predictions: Int32Array = new Int32Array(0);
  const adversarial = tf.tidy(() => {
    const found = onRemaining(x, rounds, (xs, idx, r) => {
      const rank = 1 + Math.floor(r / settings.restarts);
      const ys = tf.tensor1d(Int32Array.from(idx, (j) => labels[j]), "int32");
      const ts = tf.tensor1d(Int32Array.from(idx, (j) => order[j][rank]), "int32");
      try {
        const loss: LossFn = (logits) => targetedDlrLoss(logits, ys, ts);
        const hit = (logits: tf.Tensor2D) =>
          tf.tidy(() => tf.notEqual(tf.argMax(logits, 1), ys)) as tf.Tensor1D;
        return apgdRun(model, xs, loss, hit, { ...settings, seed: seedFrom(prng) });
      } finally {
        tf.dispose([ys, ts]);
      }
    });
    predictions = found.predictions;
    return found.adversarial;
  });
  const gradients = (settings.steps + 1) * settings.eot * rounds;
  return searchResult(model, adversarial, predictions, y, false, gradients, settings.eot, options.judge);
}

const apgdFields = {
  eps: num({ min: 0 }),
  norm: normField,
  steps: optional(int({ min: 0 }), 100),
  restarts: optional(int({ min: 1 }), 1),
  eot: optional(int({ min: 1 }), 1),
  rho: optional(num({ min: 0, max: 1 }), 0.75),
  momentum: optional(num({ min: 0, max: 1 }), 0.75),
  ...rangeFields,
};

/** The descriptor of `{ kind: "apgd", eps, loss?, norm?, steps?, restarts?, eot?, rho?, momentum?, clipMin?, clipMax? }`. */
export const apgdAttack = defineAttack({
  kind: "apgd",
  options: { ...apgdFields, loss: optional(str(["ce", "dlr"]), "ce") },
  describe(spec) {
    const norm = spec.norm === "l2" ? "l2" : "l-inf";
    const restarts = (spec.restarts ?? 1) > 1 ? `x${spec.restarts}` : "";
    return `APGD-${(spec.loss ?? "ce").toUpperCase()}-${
      spec.steps ?? 100
    }${restarts} (${norm}, eps ${spec.eps})`;
  },
  gradients: (spec) => ((spec.steps ?? 100) + 1) * (spec.eot ?? 1) * (spec.restarts ?? 1),
  stepLengths: [],
  run: apgd,
});

/** The descriptor of `{ kind: "apgd-t", eps, targetClasses?, norm?, steps?, restarts?, eot?, ... }`. */
export const apgdTargetedAttack = defineAttack({
  kind: "apgd-t",
  options: { ...apgdFields, targetClasses: optional(int({ min: 1 }), 9) },
  describe(spec) {
    const norm = spec.norm === "l2" ? "l2" : "l-inf";
    return `APGD-T-${spec.steps ?? 100} x${spec.targetClasses ?? 9} targets (${norm}, eps ${spec.eps})`;
  },
  gradients: (spec) =>
    ((spec.steps ?? 100) + 1) * (spec.eot ?? 1) * (spec.restarts ?? 1) * (spec.targetClasses ?? 9),
  stepLengths: [],
  run: apgdTargeted,
});
