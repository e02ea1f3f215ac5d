/**
 * The minibatch training loop: seeded shuffling, Adam or SGD, progress in the terminal and in a notebook
 * cell, atomic checkpoints, and exact resume after an interruption. Optionally adversarial: each minibatch
 * is attacked against the current model (or against a static model the options name for that step) and the
 * model trained on alpha * J(x) + (1 - alpha) * J(x_adv).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { crossEntropy } from "../attacks/loss.ts";
import { type AttackSpec, makeAttack, scaleAttack } from "../attacks/make.ts";
import { type Dataset, size } from "../data/dataset.ts";
import { asClassifier, type Classifier } from "../models/classifier.ts";
import { loadWeightsInto, packTensors, serializeWeights, unpackTensors } from "../models/weights.ts";
import { createPrng, permutation, type Prng } from "../random/prng.ts";
import { type UnitSlots, unitSlots } from "../store/store.ts";
import { CorruptUnitError, unitFile, unitJson } from "../store/unit.ts";
import { createProgress, type ProgressMode } from "../util/progress.ts";
import { createOptimizer, type Optimizer, type OptimizerSpec } from "./optimizers.ts";

/** Adversarial training settings. */
export interface AdversarialSpec {
  /** The attack run on each minibatch against the current model. */
  attack: AttackSpec;
  /** Weight of the clean loss: 1 is standard training, 0 pure adversarial training. Default 0. */
  alpha?: number;
  /**
   * Share of the run (0 to 1) over which the attack's eps, and its step size, grow linearly from 0 to their
   * values: a warm-up that gets adversarial training off its initial plateau on short budgets. Default 0.
   */
  warmup?: number;
  /**
   * The model the attack is run against at step `step` (counted over the whole run): a static model, as in
   * ensemble adversarial training, or undefined for the model being trained. Absent: always the model being
   * trained. It must depend on the step alone, so that a resumed run crafts on the same models.
   */
  craftOn?: (step: number) => Classifier | undefined;
}

/** One minibatch, as an objective sees it. */
export interface ObjectiveBatch {
  /** The model being trained (apply it with `training: true`). */
  model: tf.LayersModel;
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  /** The minibatch's adversarial examples, under adversarial training. */
  xAdv?: tf.Tensor4D;
  /** The step, counted over the whole run. */
  step: number;
}

/**
 * What training minimises on a minibatch: a scalar loss whose gradient with respect to the model's
 * trainable weights the optimizer follows. Called inside `tf.variableGrads`; it must not dispose its inputs.
 */
export type TrainObjective = (batch: ObjectiveBatch) => tf.Scalar;

/** Standard training (ERM): the mean cross-entropy of the minibatch. */
export const standardObjective: TrainObjective = ({ model, x, y }) =>
  tf.mean(crossEntropy(model.apply(x, { training: true }) as tf.Tensor2D, y)) as tf.Scalar;

/**
 * Goodfellow's mixed objective alpha * J(x) + (1 - alpha) * J(x_adv) (alpha = 0: the adversarial examples
 * only); without adversarial examples in the batch, standard training.
 */
export function mixedObjective(alpha: number): TrainObjective {
  return (batch) => {
    if (!batch.xAdv) return standardObjective(batch);
    const adv = standardObjective({ ...batch, x: batch.xAdv });
    if (!(alpha > 0)) return adv;
    return tf.add(tf.mul(standardObjective(batch), alpha), tf.mul(adv, 1 - alpha)) as tf.Scalar;
  };
}

/** Options of {@linkcode train}. */
export interface TrainOptions {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerSpec;
  /** Seed of the shuffling (and of attack random starts). */
  seed: number;
  /** Learning-rate schedule: constant, or cosine decay from the optimizer's rate to 0 over all steps. Default constant. */
  schedule?: "constant" | "cosine";
  /** Adversarial training; absent means standard training. */
  adversarial?: AdversarialSpec;
  /**
   * What to minimise per minibatch. Default: {@linkcode standardObjective}, or under adversarial training
   * {@linkcode mixedObjective} with the spec's alpha. Not part of a cached job (a function has no key).
   */
  objective?: TrainObjective;
  /**
   * Data augmentation of every minibatch: each image moved by a random whole number of pixels, up to
   * `shift` in each direction (zeros fill in), drawn from (seed, step) so that a resumed run sees the same
   * images. Absent: none.
   */
  augment?: { shift: number };
  /**
   * Where checkpoints go, as numbered committed units (weights, optimizer state, step and random state in
   * one unit); when one is there, training resumes from the newest valid one. Absent: no checkpoints.
   */
  checkpoints?: UnitSlots;
  /** A folder for checkpoints (`unitSlots(checkpointDir, "checkpoint")`), when `checkpoints` is absent. */
  checkpointDir?: string;
  /** Steps between checkpoints. Default: about every 30 seconds of work, at least once per epoch. */
  checkpointEvery?: number;
  /** Stop (as if interrupted) after this many steps in total; used to test resume. */
  stopAfterStep?: number;
  /** Label shown with the progress. */
  label?: string;
  /** Where progress goes. Default "auto". */
  progress?: ProgressMode;
}

/** What a training run reports. */
export interface TrainReport {
  /** Steps done in total (including those before a resume). */
  steps: number;
  /** Steps the whole schedule has. */
  totalSteps: number;
  /** Step this call resumed from (0 when it started fresh). */
  resumedFrom: number;
  /** Seconds of training in this call. */
  seconds: number;
  /** Seconds of training over all calls that built this run. */
  totalSeconds: number;
  /** Mean training loss of each epoch finished. */
  epochLoss: number[];
  /** Whether the schedule finished. */
  finished: boolean;
}

/** The state a checkpoint records beside the weights and the optimizer's state. */
interface CheckpointMeta {
  step: number;
  totalSteps: number;
  seconds: number;
  epochLoss: number[];
  epochLossSum: number;
  epochLossCount: number;
  /**
   * The random state: every random choice of a step (the epoch's order, the shifts, the attack's random
   * start) is drawn from generators seeded by (seed, step), so the seed and the step are the whole state.
   */
  random: { seed: number; derivedFrom: "step" };
}

const CKPT_WEIGHTS = "weights.bin";
const CKPT_OPTIMIZER = "optimizer.bin";
const CKPT_STATE = "state.json";

/** Checks a checkpoint's recorded state against the run resuming from it; errors name the file. */
function checkedMeta(saved: CheckpointMeta, path: string, totalSteps: number, seed: number): CheckpointMeta {
  const bad = (what: string) => new CorruptUnitError(path, what);
  if (typeof saved !== "object" || saved === null) throw bad("not a checkpoint state");
  if (saved.totalSteps !== totalSteps) {
    throw new Error(
      `checkpoint ${path} is for ${saved.totalSteps} steps, this run has ${totalSteps}: remove it or change the folder`,
    );
  }
  if (!Number.isInteger(saved.step) || saved.step < 1 || saved.step > totalSteps) {
    throw bad(`step ${saved.step} is not in [1, ${totalSteps}]`);
  }
  if (saved.random?.seed !== seed) throw bad(`recorded seed ${saved.random?.seed}, this run has ${seed}`);
  if (!Array.isArray(saved.epochLoss) || !Number.isFinite(saved.seconds)) throw bad("incomplete state");
  return saved;
}

/** The learning rate at `step` of `totalSteps` under `schedule`, starting from `base`. */
export function learningRateAt(
  base: number,
  step: number,
  totalSteps: number,
  schedule: "constant" | "cosine" = "constant",
): number {
  if (schedule === "constant") return base;
  if (schedule === "cosine") return 0.5 * base * (1 + Math.cos(Math.PI * Math.min(1, step / totalSteps)));
  throw new RangeError(
    `unknown learning-rate schedule ${JSON.stringify(schedule)}; use "constant" or "cosine"`,
  );
}

/**
 * `spec` with its eps and step lengths multiplied by `factor`, for the warm-up of adversarial training; which
 * fields are lengths is the attack kind's descriptor's business (`lib/attacks/registry.ts`).
 */
export function warmedUp(spec: AttackSpec, factor: number): AttackSpec {
  return scaleAttack(spec, factor);
}

/** The example order of `epoch`: a permutation seeded by (seed, epoch), so a resumed run sees the same order. */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  return permutation(n, createPrng(seed * 1_000_003 + epoch));
}

/** The generator of the random shifts of one step's minibatch (seeded by the run's seed and the step). */
function shiftsAt(seed: number, step: number): Prng {
  return createPrng(seed * 1_000_033 + 17 * step + 5);
}

/**
 * Copies image `src` (`[h, w, c]` floats) into `dst` moved by (dy, dx) pixels, zeros where nothing moves in.
 * Exported for tests.
 */
export function shiftImage(
  src: Float32Array,
  dst: Float32Array,
  shape: readonly [number, number, number],
  dy: number,
  dx: number,
): void {
  const [h, w, c] = shape;
  dst.fill(0);
  for (let r = Math.max(0, dy); r < Math.min(h, h + dy); r++) {
    const c0 = Math.max(0, dx), c1 = Math.min(w, w + dx);
    if (c1 <= c0) continue;
    dst.set(src.subarray(((r - dy) * w + (c0 - dx)) * c, ((r - dy) * w + (c1 - dx)) * c), (r * w + c0) * c);
  }
}

function gatherBatch(
  ds: Dataset,
  order: Int32Array,
  start: number,
  end: number,
  maxShift = 0,
  shifts?: Prng,
): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const n = end - start;
  const images = new Float32Array(n * per);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = order[start + i];
    const src = ds.images.subarray(j * per, (j + 1) * per);
    if (shifts && maxShift > 0) {
      const dy = Math.floor(shifts.next() * (2 * maxShift + 1)) - maxShift;
      const dx = Math.floor(shifts.next() * (2 * maxShift + 1)) - maxShift;
      shiftImage(src, images.subarray(i * per, (i + 1) * per), ds.shape, dy, dx);
    } else {
      images.set(src, i * per);
    }
    labels[i] = ds.labels[j];
  }
  return { x: tf.tensor4d(images, [n, ...ds.shape]), y: tf.tensor1d(labels, "int32") };
}

/**
 * Trains `model` on `data`. With `checkpointDir`, writes checkpoints atomically and resumes from the latest
 * one; a resumed run ends with the same weights as an uninterrupted one.
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import type { Dataset } from "../data/dataset.ts";
 * import { train } from "./train.ts";
 * declare const model: tf.LayersModel, trainSet: Dataset;
 * const report = await train(model, trainSet, {
 *   epochs: 2, batchSize: 128, optimizer: { name: "adam", learningRate: 1e-3 }, seed: 1,
 * });
 * ```
 */
export async function train(
  model: tf.LayersModel,
  data: Dataset,
  options: TrainOptions,
): Promise<TrainReport> {
  const plan = planOf(data, options);
  const { totalSteps, stepsPerEpoch } = plan;
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = createOptimizer(options.optimizer, vars);
  const step = stepFunction(model, vars, optimizer, data, options, plan);
  const slots = options.checkpoints ??
    (options.checkpointDir
      ? unitSlots(options.checkpointDir, "checkpoint", undefined, "an earlier checkpoint is used")
      : undefined);
  const label = options.label ?? `train ${model.name}`;
  const start = performance.now();
  let meta: CheckpointMeta = freshMeta(totalSteps, options.seed);
  try {
    meta = (slots && await restoreCheckpoint(slots, model, optimizer, totalSteps, options.seed)) ?? meta;
    const resumedFrom = meta.step;
    const progress = createProgress({ label, total: totalSteps, unit: "steps", mode: options.progress });
    const secondsBefore = meta.seconds;
    let lastCheckpoint = performance.now();
    let sinceCheckpoint = 0;
    const stopAt = Math.min(totalSteps, options.stopAfterStep ?? totalSteps);
    while (meta.step < stopAt) {
      const epoch = Math.floor(meta.step / stepsPerEpoch);
      const loss = await step(meta.step);
      if (!Number.isFinite(loss)) {
        throw new Error(`${label}: loss became ${loss} at step ${meta.step}; lower the learning rate`);
      }
      recordLoss(meta, loss, stepsPerEpoch);
      meta.seconds = secondsBefore + (performance.now() - start) / 1000;
      const running = meta.epochLossSum / Math.max(1, meta.epochLossCount) || loss;
      progress.update(meta.step, `epoch ${epoch + 1}/${options.epochs}, loss ${running.toFixed(4)}`);
      sinceCheckpoint++;
      const due = options.checkpointEvery !== undefined
        ? sinceCheckpoint >= options.checkpointEvery
        : performance.now() - lastCheckpoint > 30_000 || meta.step % stepsPerEpoch === 0;
      if (slots && (due || meta.step === stopAt)) {
        await saveCheckpoint(slots, model, optimizer, meta);
        lastCheckpoint = performance.now();
        sinceCheckpoint = 0;
      }
    }
    await progress.finish(
      meta.step >= totalSteps ? `loss ${meta.epochLoss.at(-1)?.toFixed(4) ?? "?"}` : "stopped",
    );
    return {
      steps: meta.step,
      totalSteps,
      resumedFrom,
      seconds: (performance.now() - start) / 1000,
      totalSeconds: meta.seconds,
      epochLoss: meta.epochLoss,
      finished: meta.step >= totalSteps,
    };
  } finally {
    optimizer.dispose();
  }
}

/** The shape of a run, from its options checked once up front. */
interface TrainPlan {
  n: number;
  stepsPerEpoch: number;
  totalSteps: number;
  maxShift: number;
  alpha: number;
}

function planOf(data: Dataset, options: TrainOptions): TrainPlan {
  const n = size(data);
  const { epochs, batchSize } = options;
  if (!Number.isInteger(epochs) || epochs < 1) {
    throw new RangeError(`train: epochs must be an integer >= 1, got ${epochs}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`train: batchSize must be >= 1, got ${batchSize}`);
  }
  if (n === 0) throw new RangeError(`train: dataset ${data.name} is empty`);
  const maxShift = options.augment?.shift ?? 0;
  if (!Number.isInteger(maxShift) || maxShift < 0) {
    throw new RangeError(`train: augment.shift must be an integer >= 0, got ${maxShift}`);
  }
  const alpha = options.adversarial?.alpha ?? 0;
  if (options.adversarial && !(alpha >= 0 && alpha <= 1)) {
    throw new RangeError(`train: alpha must be in [0, 1], got ${alpha}`);
  }
  const stepsPerEpoch = Math.ceil(n / batchSize);
  return { n, stepsPerEpoch, totalSteps: epochs * stepsPerEpoch, maxShift, alpha };
}

function freshMeta(totalSteps: number, seed: number): CheckpointMeta {
  return {
    step: 0,
    totalSteps,
    seconds: 0,
    epochLoss: [],
    epochLossSum: 0,
    epochLossCount: 0,
    random: { seed, derivedFrom: "step" },
  };
}

/** Adds a step's loss to the running sums, closing the epoch's mean at its last step. */
function recordLoss(meta: CheckpointMeta, loss: number, stepsPerEpoch: number): void {
  meta.step++;
  meta.epochLossSum += loss;
  meta.epochLossCount++;
  if (meta.step % stepsPerEpoch === 0) {
    meta.epochLoss.push(meta.epochLossSum / meta.epochLossCount);
    meta.epochLossSum = 0;
    meta.epochLossCount = 0;
  }
}

/** Loads the newest valid checkpoint into the model and optimizer; its state, or undefined when none. */
async function restoreCheckpoint(
  slots: UnitSlots,
  model: tf.LayersModel,
  optimizer: Optimizer,
  totalSteps: number,
  seed: number,
): Promise<CheckpointMeta | undefined> {
  const saved = await slots.latest();
  if (!saved) return undefined;
  const path = saved.unit.dir;
  const meta = checkedMeta(unitJson<CheckpointMeta>(saved.unit, CKPT_STATE), path, totalSteps, seed);
  loadWeightsInto(model, unitFile(saved.unit, CKPT_WEIGHTS), `${path}/${CKPT_WEIGHTS}`);
  const opt = unpackTensors(unitFile(saved.unit, CKPT_OPTIMIZER), `${path}/${CKPT_OPTIMIZER}`);
  const tensors = opt.values.map((v, i) => tf.tensor(v, opt.shapes[i]));
  try {
    optimizer.load(tensors);
  } finally {
    tf.dispose(tensors);
  }
  return meta;
}

/** Commits weights, optimizer state and the run's state as the checkpoint of `meta.step`, dropping older ones. */
async function saveCheckpoint(
  slots: UnitSlots,
  model: tf.LayersModel,
  optimizer: Optimizer,
  meta: CheckpointMeta,
): Promise<void> {
  const state = optimizer.state();
  let optimizerBytes: Uint8Array;
  try {
    optimizerBytes = packTensors(state);
  } finally {
    tf.dispose(state[0]);
  }
  await slots.commit(meta.step, {
    [CKPT_WEIGHTS]: serializeWeights(model),
    [CKPT_OPTIMIZER]: optimizerBytes,
    [CKPT_STATE]: JSON.stringify(meta),
  }, true);
}

/**
 * One optimisation step as a function of the step number alone (the minibatch, its shifts and its attack
 * are all drawn from the run's seed and the step): returns the minibatch's loss. Every tensor it makes is
 * disposed, also when the attack or the objective throws.
 */
function stepFunction(
  model: tf.LayersModel,
  vars: tf.Variable[],
  optimizer: Optimizer,
  data: Dataset,
  options: TrainOptions,
  plan: TrainPlan,
): (step: number) => Promise<number> {
  const { n, stepsPerEpoch, totalSteps, maxShift, alpha } = plan;
  const classifier = asClassifier(model);
  const objective = options.objective ?? (options.adversarial ? mixedObjective(alpha) : standardObjective);
  let order: Int32Array | undefined;
  let orderEpoch = -1;
  return async (step) => {
    const epoch = Math.floor(step / stepsPerEpoch);
    if (epoch !== orderEpoch) {
      order = epochOrder(n, options.seed, epoch);
      orderEpoch = epoch;
    }
    const b0 = (step % stepsPerEpoch) * options.batchSize;
    const b1 = Math.min(n, b0 + options.batchSize);
    const shifts = maxShift > 0 ? shiftsAt(options.seed, step) : undefined;
    const { x, y } = gatherBatch(data, order!, b0, b1, maxShift, shifts);
    let xAdv: tf.Tensor4D | undefined;
    let lossValue: tf.Scalar | undefined;
    try {
      if (options.adversarial) {
        const warmup = (options.adversarial.warmup ?? 0) * totalSteps;
        const spec = options.adversarial.attack;
        const attack = makeAttack(
          step + 1 < warmup ? warmedUp(spec, (step + 1) / warmup) : spec,
          options.seed * 7919 + step,
          // Only the images are used: no forward pass classifies them.
          { judge: false },
        );
        xAdv = attack(options.adversarial.craftOn?.(step) ?? classifier, x, y).adversarial;
      }
      optimizer.setLearningRate(
        learningRateAt(options.optimizer.learningRate, step, totalSteps, options.schedule),
      );
      lossValue = tf.tidy(() => {
        const batch = { model, x, y, xAdv, step };
        const { value, grads } = tf.variableGrads(() => objective(batch), vars);
        optimizer.apply(vars.map((v) => grads[v.name]));
        return value;
      });
      return (await lossValue.data())[0];
    } finally {
      tf.dispose([x, y]);
      xAdv?.dispose();
      lossValue?.dispose();
    }
  };
}
