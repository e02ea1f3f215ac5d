/**
 * Chapter 6, "Adversarial training as regularization" (lecture section 5.2): Goodfellow et al.'s mixed
 * objective alpha * J(x) + (1 - alpha) * J(x_adv) at several alphas, and binary logistic regression, where
 * FGSM adversarial training is exactly the minimisation of softplus(-y (w'x + b) + eps ||w||_1). This module
 * holds the notebook's settings schema, its training jobs, and a trainer of that closed form which walks the
 * same minibatches with the same optimizer as {@linkcode train}, so the two trainings can be compared step
 * for step.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fgsm } from "../attacks/fgsm.ts";
import { crossEntropy } from "../attacks/loss.ts";
import type { AttackSpec } from "../attacks/make.ts";
import { exactSign } from "../attacks/threat.ts";
import { int, list, num, obj, optional, str } from "../config/schema.ts";
import type { Infer } from "../config/schema.ts";
import { modelSpecSchema, optimizerSchema, trainDataSchema, trainSchema } from "../config/specs.ts";
import { type Dataset, imagesTensor, labelsTensor, size } from "../data/dataset.ts";
import { loadDataset } from "../data/load.ts";
import { stratifiedSubset, twoClassSubset } from "../data/subsets.ts";
import { asClassifier } from "../models/classifier.ts";
import { binaryWeights, closedFormAdversarialLoss, signedLabels } from "../models/logistic_binary.ts";
import { type SubsetDataSpec, testData, trainDataOf, type TrainJob } from "../train/cached.ts";
import type { OptimizerSpec } from "../train/optimizers.ts";
import { train } from "../train/train.ts";
import type { ProgressMode } from "../util/progress.ts";

/** Settings of notebook 06 (configs/06-regularization.yaml). */
export const notebook06Schema = obj({
  data: trainDataSchema,
  /** The mixed objective on a CNN. */
  mixed: obj({
    model: modelSpecSchema,
    initSeed: int({ min: 0 }),
    /** The minibatch schedule (its `adversarial` is set per alpha). */
    train: trainSchema,
    /** Radius of the training attack and of the FGSM evaluation (Goodfellow et al.: 0.25). */
    eps: num({ min: 0 }),
    alphas: list(num({ min: 0, max: 1 }), { minLength: 1 }),
    /** Test examples attacked (0: the whole evaluation set). */
    testSize: optional(int({ min: 0 }), 0),
    /** Steps of the PGD evaluation that checks what FGSM training bought. */
    pgdSteps: int({ min: 1 }),
  }),
  /** Binary logistic regression on two digits. */
  logistic: obj({
    /** The two digits, the first labelled y = -1 and the second y = +1. */
    digits: list(int({ min: 0, max: 9 }), { minLength: 2 }),
    /** Radius of FGSM adversarial training and of the closed form. */
    eps: num({ min: 0 }),
    /** Radii at which the closed form is also trained, to show the l1 effect growing with eps. */
    epsSweep: optional(list(num({ min: 0 })), []),
    /** Training examples of the two digits (0: all of them). */
    trainSize: optional(int({ min: 0 }), 0),
    epochs: int({ min: 1 }),
    batchSize: int({ min: 1 }),
    optimizer: optimizerSchema,
    seed: int({ min: 0 }),
    schedule: optional(str(["constant", "cosine"]), "constant" as "constant" | "cosine"),
  }),
});

/** The typed settings of notebook 06. */
export type Notebook06Config = Infer<typeof notebook06Schema>;

/**
 * The training job of the mixed objective at `alpha` with FGSM at `mixed.eps`. alpha = 1 is standard
 * training (the adversarial term has weight 0), so its job has no attack at all and shares nothing it
 * does not need.
 */
export function mixedObjectiveJob(cfg: Notebook06Config, alpha: number): TrainJob<SubsetDataSpec> {
  const { adversarial: _ignored, ...schedule } = cfg.mixed.train;
  return {
    data: trainDataOf(cfg.data),
    model: cfg.mixed.model,
    initSeed: cfg.mixed.initSeed,
    train: alpha >= 1 ? schedule : {
      ...schedule,
      adversarial: { attack: { kind: "fgsm", eps: cfg.mixed.eps }, alpha },
    },
  };
}

/** The FGSM and PGD attacks that evaluate the mixed-objective models, at `mixed.eps`. */
export function mixedAttacks(cfg: Notebook06Config): AttackSpec[] {
  const { eps, pgdSteps } = cfg.mixed;
  return [{ kind: "fgsm", eps }, { kind: "pgd", eps, steps: pgdSteps, stepSize: 2.5 * eps / pgdSteps }];
}

/**
 * The two-digit training and test sets of the logistic part, labelled 0 (first digit, y = -1) and 1 (second
 * digit, y = +1). The test set is the two digits' share of the chapter's test set.
 */
export async function logisticSplits(cfg: Notebook06Config): Promise<{ train: Dataset; test: Dataset }> {
  const digits = cfg.logistic.digits.slice(0, 2) as [number, number];
  const all = twoClassSubset(await loadDataset(cfg.data.dataset, "train"), digits);
  const train = cfg.logistic.trainSize
    ? stratifiedSubset(all, cfg.logistic.trainSize, { seed: cfg.data.seed })
    : all;
  const test = twoClassSubset(await testData(cfg.data), digits);
  return { train, test };
}

/** The FGSM loss of a binary logistic model next to its closed form, on a dataset. */
export interface ClosedFormCheck {
  n: number;
  /** Mean cross-entropy at the library's FGSM points (float32). */
  attacked: number;
  /** Mean closed form softplus(-y (w'x + b) + eps ||w||_1) (float64). */
  closedForm: number;
  /** Mean clean loss. */
  clean: number;
  /** Largest per-example |attacked - closed form|. */
  maxAbsDiff: number;
  /** Share of examples whose attacked loss is below the closed form by more than 1e-3. */
  below: number;
}

/**
 * Runs the library's FGSM on a `binaryLogistic` model over `data` and compares each example's loss with the
 * closed form. With `clip` false the perturbed pixels may leave [0, 1] (the setting of the identity); with
 * `clip` true the attack stays in the image range and the closed form is only an upper bound.
 */
export function closedFormCheck(
  model: tf.LayersModel,
  data: Dataset,
  eps: number,
  options: { clip?: boolean; batchSize?: number } = {},
): ClosedFormCheck {
  const { w, b } = binaryWeights(model);
  const classifier = asClassifier(model);
  const y = signedLabels(data.labels);
  const closed = closedFormAdversarialLoss(w, b, data.images, y, eps);
  const n = size(data);
  const batch = options.batchSize ?? 512;
  const range = options.clip ? {} : { clipMin: -Infinity, clipMax: Infinity };
  let attacked = 0, clean = 0, closedSum = 0, maxAbsDiff = 0, below = 0;
  for (let start = 0; start < n; start += batch) {
    const end = Math.min(n, start + batch);
    const x = imagesTensor(data, start, end);
    const labels = labelsTensor(data, start, end);
    const r = fgsm(classifier, x, labels, { eps, ...range });
    const [adv, nat] = tf.tidy(() => [
      crossEntropy(classifier(r.adversarial), labels).dataSync(),
      crossEntropy(classifier(x), labels).dataSync(),
    ]);
    for (let i = start; i < end; i++) {
      const a = adv[i - start];
      attacked += a;
      clean += nat[i - start];
      closedSum += closed[i];
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a - closed[i]));
      if (a < closed[i] - 1e-3) below++;
    }
    tf.dispose([x, labels, r.adversarial]);
  }
  return {
    n,
    attacked: attacked / n,
    closedForm: closedSum / n,
    clean: clean / n,
    maxAbsDiff,
    below: below / n,
  };
}

/** Options of {@linkcode trainLogisticClosedForm}. */
export interface ClosedFormTrainOptions {
  /** Radius of the l-inf ball: the weight of ||w||_1 inside the softplus. */
  eps: number;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerSpec;
  /** Seed of the shuffling; the same seed as a {@linkcode train} run gives the same minibatches. */
  seed: number;
  schedule?: "constant" | "cosine";
  label?: string;
  progress?: ProgressMode;
}

/** ||w||_1 whose gradient is sign(w) with sign(0) = 0, the subgradient FGSM's sign step implies. */
const l1Norm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [w, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([w]);
  return {
    value: tf.sum(tf.abs(w)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, exactSign(saved[0])),
  };
});

/**
 * The closed-form adversarial loss of a `binaryLogistic` model on a batch: the mean of
 * softplus(-y z + eps ||w||_1), with z the model's score and y = 2 * label - 1.
 */
export function closedFormLoss(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  eps: number,
): tf.Scalar {
  return tf.tidy(() => {
    const logits = model.apply(x, { training: true }) as tf.Tensor2D;
    const [neg, pos] = tf.split(logits, 2, 1);
    const z = tf.sub(pos, neg).reshape([-1]);
    const y = tf.sub(tf.mul(tf.cast(labels, "float32"), 2), 1);
    const kernel = model.getLayer("score").trainableWeights[0].read();
    return tf.mean(
      tf.softplus(tf.add(tf.neg(tf.mul(y, z)), tf.mul(l1Norm(kernel) as tf.Scalar, eps))),
    ) as tf.Scalar;
  });
}

/**
 * Trains a `binaryLogistic` model on the closed form of FGSM adversarial training,
 * softplus(-y (w'x + b) + eps ||w||_1), with the minibatch order, optimizer and learning-rate schedule of
 * {@linkcode train}: with the same settings, the two runs take the same steps up to float32 rounding.
 * Returns the mean loss of each epoch.
 */
export async function trainLogisticClosedForm(
  model: tf.LayersModel,
  data: Dataset,
  options: ClosedFormTrainOptions,
): Promise<{ epochLoss: number[]; seconds: number }> {
  const { eps, label, ...rest } = options;
  const report = await train(model, data, {
    ...rest,
    label: label ?? "closed-form training",
    objective: ({ model, x, y }) => closedFormLoss(model, x, y, eps),
  });
  return { epochLoss: report.epochLoss, seconds: report.seconds };
}

/** Summary of a weight vector: its l1 and l2 norms and the share of weights that are (almost) zero. */
export function weightStats(
  w: ArrayLike<number>,
  options: { zeroBelow?: number } = {},
): { l1: number; l2: number; maxAbs: number; nearZero: number } {
  const zeroBelow = options.zeroBelow ?? 1e-3;
  let l1 = 0, l2 = 0, maxAbs = 0, small = 0;
  for (let i = 0; i < w.length; i++) {
    const a = Math.abs(w[i]);
    l1 += a;
    l2 += a * a;
    maxAbs = Math.max(maxAbs, a);
    if (a < zeroBelow) small++;
  }
  return { l1, l2: Math.sqrt(l2), maxAbs, nearZero: w.length ? small / w.length : 0 };
}

/** How far two weight vectors are apart: ||a - b||_2 / ||b||_2, and their cosine similarity. */
export function compareWeights(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): { relative: number; cosine: number } {
  if (a.length !== b.length) {
    throw new RangeError(`compareWeights: lengths ${a.length} and ${b.length} differ`);
  }
  let d = 0, nb = 0, na = 0, dot = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    na += a[i] * a[i];
    nb += b[i] * b[i];
    dot += a[i] * b[i];
  }
  return { relative: Math.sqrt(d / (nb || 1)), cosine: dot / (Math.sqrt(na * nb) || 1) };
}

/**
 * Whether the adversarial term of the mixed objective did what it is trained for: the FGSM accuracy `to` of
 * the last model of the alpha sweep (the smallest alpha, the most adversarial weight) is more than `by`
 * (default 0.1, ten points) above the FGSM accuracy `from` of the first (alpha = 1 in the shipped config).
 */
export function fgsmAccuracyRises(from: number, to: number, by = 0.1): boolean {
  if (!(by >= 0 && by <= 1)) throw new RangeError(`fgsmAccuracyRises: by must be in [0, 1], got ${by}`);
  for (const [name, v] of [["from", from], ["to", to]] as const) {
    if (!Number.isFinite(v)) throw new RangeError(`fgsmAccuracyRises: ${name} must be finite, got ${v}`);
  }
  return from < to - by;
}

/**
 * Whether two weight vectors that should agree (FGSM adversarial training and the closed form (3)) differ by
 * more than rounding: their relative distance ({@linkcode compareWeights}) is above `tolerance` (default 1e-3).
 */
export function weightsDiffer(relativeDistance: number, tolerance = 1e-3): boolean {
  if (!(tolerance >= 0)) throw new RangeError(`weightsDiffer: tolerance must be >= 0, got ${tolerance}`);
  if (!(relativeDistance >= 0)) {
    throw new RangeError(`weightsDiffer: relativeDistance must be >= 0, got ${relativeDistance}`);
  }
  return relativeDistance > tolerance;
}
