/**
 * Chapter 5, "Adversarial training" (lecture section 5.2 and the end of 5.3; Madry et al.): the capacity
 * study (standard, FGSM and PGD training of the Madry CNN at capacity scales 1 to 16, each evaluated clean,
 * under FGSM and under PGD), AutoAttack beside PGD for the PGD-trained networks, and the accuracy of the
 * PGD-trained network against eps in l-inf and l2. This module holds the notebook's settings schema, its
 * training jobs and attacks, and the rows of its figures.
 * @module
 */
import type { AttackSpec } from "../attacks/make.ts";
import { bool, int, list, num, obj, optional, str } from "../config/schema.ts";
import type { Infer } from "../config/schema.ts";
import { attackSpecSchema, trainDataSchema, trainSchema } from "../config/specs.ts";
import { type Dataset, size, take } from "../data/dataset.ts";
import { autoAttack, type AutoAttackResult } from "../eval/autoattack.ts";
import { cachedAutoAttack } from "../eval/cached.ts";
import type { EpsPoint } from "../eval/evaluate.ts";
import type { RobustEvaluation } from "../eval/robust.ts";
import type { Classifier, ForwardLogits } from "../models/classifier.ts";
import type { ProgressMode } from "../util/progress.ts";
import type { SubsetDataSpec, TrainJob } from "../train/cached.ts";
import type { Scale } from "../config/load.ts";
import { code, type Markdown, md } from "../report/markdown.ts";

const none = undefined as unknown as number;

/** Settings of notebook 05 (configs/05-adversarial-training.yaml). */
export const notebook05Schema = obj({
  /** Training data (`trainSize` is the default of every scale) and the evaluation set (`testSize`). */
  data: trainDataSchema,
  initSeed: int({ min: 0 }),
  /** The radius of training and evaluation (MNIST's standard 0.3). */
  eps: num({ min: 0 }),
  /** The minibatch schedule shared by every model (`adversarial` is set per training mode). */
  train: trainSchema,
  /** Capacity scales of the Madry CNN, each optionally with its own training-set size and epochs. */
  scales: list(
    obj({
      scale: int({ min: 1, max: 64 }),
      trainSize: optional(int({ min: 0 }), none),
      epochs: optional(int({ min: 1 }), none),
    }),
    { minLength: 1 },
  ),
  /** Training modes: a name and the training attack (none: standard training). */
  modes: list(
    obj({
      name: str(),
      attack: optional(attackSpecSchema, undefined as unknown as AttackSpec),
      alpha: optional(num({ min: 0, max: 1 }), 0),
      warmup: optional(num({ min: 0, max: 1 }), none),
      /** Epochs of this mode's trainings, in place of the schedule's (a scale's own `epochs` still wins). */
      epochs: optional(int({ min: 1 }), none),
    }),
    { minLength: 1 },
  ),
  /** The evaluation of every model: clean, FGSM and PGD at eps on `testSize` test images. */
  eval: obj({
    testSize: optional(int({ min: 0 }), 0),
    pgdSteps: int({ min: 1 }),
    pgdStepSize: optional(num({ min: 0 }), none),
    restarts: optional(int({ min: 1 }), 1),
  }),
  /**
   * AutoAttack `standard` (Croce and Hein 2020) beside PGD for the PGD-trained networks, on the first
   * `testSize` images of the evaluation set: APGD and FAB iterations, target classes of APGD-T and FAB-T,
   * Square's queries (the authors' budget: 100, 9 and 5000).
   */
  autoAttack: obj({
    testSize: int({ min: 1 }),
    /** The capacity scales whose PGD-trained network AutoAttack evaluates. Default: every scale. */
    scales: optional(list(int({ min: 1, max: 64 }), { minLength: 1 }), undefined as number[] | undefined),
    steps: optional(int({ min: 1 }), 100),
    targetClasses: optional(int({ min: 1 }), 9),
    squareQueries: optional(int({ min: 1 }), 5000),
  }),
  /** Accuracy against eps of the PGD-trained model (Figure 13). */
  sweep: obj({
    /** The capacity scale whose PGD-trained model is swept. Default: the largest. */
    scale: optional(int({ min: 1 }), none),
    testSize: int({ min: 1 }),
    pgdSteps: int({ min: 1 }),
    linf: list(num({ min: 0 }), { minLength: 2 }),
    l2: list(num({ min: 0 }), { minLength: 2 }),
  }),
  /** Gradient-masking checks of the three models at the swept scale. */
  sanity: obj({
    run: optional(bool(), true),
    testSize: int({ min: 1 }),
    pgdSteps: int({ min: 1 }),
    epsList: list(num({ min: 0 }), { minLength: 1 }),
  }),
});

/** The typed settings of notebook 05. */
export type Notebook05Config = Infer<typeof notebook05Schema>;

/** One training mode of the capacity study. */
export type TrainingMode = Notebook05Config["modes"][number];

/** One capacity scale of the study. */
export type CapacityScale = Notebook05Config["scales"][number];

/** The training job (the cache key) of `mode` at capacity `entry`. */
export function capacityJob(
  cfg: Notebook05Config,
  mode: TrainingMode,
  entry: CapacityScale,
): TrainJob<SubsetDataSpec> {
  const { adversarial: _ignored, ...schedule } = cfg.train;
  const trainSize = entry.trainSize ?? cfg.data.trainSize;
  const epochs = entry.epochs ?? mode.epochs ?? schedule.epochs;
  const adversarial = mode.attack
    ? {
      attack: mode.attack,
      alpha: mode.alpha,
      ...(mode.warmup ? { warmup: mode.warmup } : {}),
    }
    : undefined;
  return {
    data: { dataset: cfg.data.dataset, trainSize, seed: cfg.data.seed },
    model: { kind: "madry-cnn", scale: entry.scale },
    initSeed: cfg.initSeed,
    train: { ...schedule, epochs, ...(adversarial ? { adversarial } : {}) },
  };
}

/**
 * The robust network's training job (and cache key), shared by `deno task robust`, `deno task bench --tasks
 * autoattack` and chapter 5's `full` scale: the scale-16 Madry CNN on all 60,000 MNIST training images with
 * PGD-k adversarial training at eps 0.3 (random start, steps of min(0.1, 0.5 / k), the radius ramped up over
 * the first tenth of the steps), `epochs` epochs at batch 100, Adam at 1e-3 with a cosine decay. Madry et al.
 * train with PGD-40 for about 83 epochs (batch 50, Adam at 1e-4), a GPU's work; PGD-10 for 7 epochs is the
 * cheapest schedule tried that reaches their numbers on 2 CPU cores (configs/05-adversarial-training.yaml).
 */
export function robustCnnJob(epochs = 7, pgdTrainSteps = 10): TrainJob<SubsetDataSpec> {
  // Through the config schema, defaults filled in, so that a config describing the same training (chapter 5
  // at `full`) makes the same job and finds the same cached model.
  const train = trainSchema.validate({
    epochs,
    batchSize: 100,
    optimizer: { name: "adam", learningRate: 0.001 },
    schedule: "cosine",
    seed: 1,
    adversarial: {
      attack: { kind: "pgd", eps: 0.3, steps: pgdTrainSteps, stepSize: Math.min(0.1, 0.5 / pgdTrainSteps) },
      alpha: 0,
      warmup: 0.1,
    },
  }, "robustCnnJob.train");
  return {
    data: { dataset: "mnist", trainSize: 0, seed: 0 },
    model: { kind: "madry-cnn", scale: 16 },
    initSeed: 1,
    train,
  };
}

/** Every (mode, scale) pair of the study, modes outermost, with its job. */
export function capacityGrid(
  cfg: Notebook05Config,
): { mode: TrainingMode; entry: CapacityScale; job: TrainJob<SubsetDataSpec> }[] {
  return cfg.modes.flatMap((mode) =>
    cfg.scales.map((entry) => ({ mode, entry, job: capacityJob(cfg, mode, entry) }))
  );
}

/** The evaluation attacks at `eps` (default the chapter's): FGSM, then PGD-k with restarts. */
export function evaluationAttacks(cfg: Notebook05Config, eps = cfg.eps): AttackSpec[] {
  const { pgdSteps, restarts } = cfg.eval;
  return [
    { kind: "fgsm", eps },
    {
      kind: "pgd",
      eps,
      steps: pgdSteps,
      stepSize: cfg.eval.pgdStepSize ?? 2.5 * eps / pgdSteps,
      restarts,
    },
  ];
}

/** The PGD of the accuracy-against-eps sweep at `eps` in `norm`: `sweep.pgdSteps` steps of 2.5 eps / steps. */
export function sweepAttack(cfg: Notebook05Config, norm: "linf" | "l2", eps: number): AttackSpec {
  const steps = cfg.sweep.pgdSteps;
  return { kind: "pgd", eps, norm, steps, stepSize: 2.5 * eps / steps };
}

/** The capacity scale whose PGD-trained model the sweep and the sanity checks use. */
export function sweptScale(cfg: Notebook05Config): number {
  return cfg.sweep.scale ?? Math.max(...cfg.scales.map((s) => s.scale));
}

/** One model's row of the capacity study. */
export interface CapacityResult {
  mode: string;
  scale: number;
  evaluation: RobustEvaluation;
  trainSeconds: number;
}

/**
 * The rows of the three-panel capacity figure: one per (mode, scale, evaluation), with the accuracy clean,
 * under FGSM and under PGD (and the worst case over both attacks, under `worst`).
 */
export function capacityRows(
  results: CapacityResult[],
  names: { fgsm?: string; pgd?: string; worst?: string } = {},
): { mode: string; scale: number; evaluation: string; accuracy: number }[] {
  return results.flatMap((r) => {
    const [fgsm, pgd] = r.evaluation.attacks;
    const rows = [
      { mode: r.mode, scale: r.scale, evaluation: "clean", accuracy: r.evaluation.clean },
      { mode: r.mode, scale: r.scale, evaluation: names.fgsm ?? "FGSM", accuracy: fgsm.accuracy ?? NaN },
      { mode: r.mode, scale: r.scale, evaluation: names.pgd ?? "PGD", accuracy: pgd.accuracy ?? NaN },
    ];
    if (names.worst) {
      rows.push({
        mode: r.mode,
        scale: r.scale,
        evaluation: names.worst,
        accuracy: r.evaluation.robustAccuracy,
      });
    }
    return rows;
  });
}

/** AutoAttack beside PGD for one network, on the same test images. */
export interface AutoAttackBesidePgd {
  /** Test images (the first of the evaluation set). */
  n: number;
  clean: number;
  /** Accuracy under the evaluation's PGD (its second attack) on these images. */
  pgd: number;
  /** Accuracy under AutoAttack standard. */
  autoAttack: number;
  /** Correct under PGD (and FGSM) and AutoAttack together: the worst case of everything run. */
  worstCase: number;
  /** pgd - autoAttack: how much AutoAttack lowers PGD's number (negative: PGD found more). */
  gap: number;
  result: AutoAttackResult;
  /** Whether the AutoAttack run was loaded from the cache (see `modelKey`). */
  fromCache: boolean;
}

/** Options of {@linkcode autoAttackBesidePgd}: the l-inf radius and AutoAttack's budget. */
export interface AutoAttackBesidePgdOptions {
  eps: number;
  /** AutoAttack runs on the first `testSize` images of the test set. */
  testSize: number;
  /** APGD and FAB iterations. Default 100. */
  steps?: number;
  /** Target classes of APGD-T and FAB-T. Default 9. */
  targetClasses?: number;
  /** Square's queries. Default 5000. */
  squareQueries?: number;
  /** Examples per batch. Default 256. */
  batchSize?: number;
  /** Seed of AutoAttack's random choices. Default 0. */
  seed?: number;
  /** A forward-only path to the model's logits for Square's queries (see `autoAttack`; `ortForward`). */
  forward?: ForwardLogits;
  /**
   * The model's key in the store (`TrainedModel.key`): the AutoAttack run is then cached under it, with the
   * images and the budget (lib/eval/cached.ts), and loaded when it is there. Absent: always run.
   */
  modelKey?: string;
  label?: string;
  progress?: ProgressMode;
}

/** The options of {@linkcode autoAttackBesidePgd} for notebook 05: its eps and `cfg.autoAttack`. */
export function autoAttackSettings(cfg: Notebook05Config): AutoAttackBesidePgdOptions {
  const { scales: _scales, ...budget } = cfg.autoAttack;
  return { eps: cfg.eps, ...budget };
}

/**
 * Whether AutoAttack evaluates the PGD-trained network at capacity `scale` (`autoAttack.scales`, default
 * every scale of the grid). A listed scale that is not in the grid is an error naming it.
 */
export function autoAttackedScale(cfg: Notebook05Config, scale: number): boolean {
  const listed = cfg.autoAttack.scales;
  if (!listed) return true;
  const grid = cfg.scales.map((s) => s.scale);
  const missing = listed.filter((s) => !grid.includes(s));
  if (missing.length) {
    throw new RangeError(
      `autoAttack.scales: ${missing.join(", ")} not among the capacity scales (${grid.join(", ")})`,
    );
  }
  return listed.includes(scale);
}

/**
 * Runs AutoAttack `standard` (l-inf, radius `options.eps`) on the first `options.testSize` images of
 * `testSet`, and sets it beside `evaluation` (the network's `robustEvaluate` on all of `testSet`; its last
 * PGD attack is the one compared) restricted to the same images.
 */
export async function autoAttackBesidePgd(
  model: Classifier,
  testSet: Dataset,
  evaluation: RobustEvaluation,
  options: AutoAttackBesidePgdOptions,
): Promise<AutoAttackBesidePgd> {
  if (evaluation.n !== size(testSet)) {
    throw new RangeError(
      `autoAttackBesidePgd: the evaluation covers ${evaluation.n} images, the test set has ${size(testSet)}`,
    );
  }
  const pgd = evaluation.attacks.findLast((a) => a.spec.kind === "pgd");
  if (!pgd || pgd.accuracy === undefined) {
    throw new RangeError("autoAttackBesidePgd: the evaluation has no PGD attack run on every example");
  }
  if (!Number.isInteger(options.testSize) || options.testSize < 1) {
    throw new RangeError(`autoAttackBesidePgd: testSize must be an integer >= 1, got ${options.testSize}`);
  }
  const n = Math.min(options.testSize, size(testSet));
  const first = Array.from({ length: n }, (_, i) => i);
  const images = take(testSet, first);
  const settings = {
    norm: "linf" as const,
    eps: options.eps,
    version: "standard" as const,
    steps: options.steps,
    targetClasses: options.targetClasses,
    squareQueries: options.squareQueries,
    batchSize: options.batchSize,
    seed: options.seed ?? 0,
    forward: options.forward,
    label: options.label,
    progress: options.progress,
  };
  const result = options.modelKey === undefined
    ? { ...await autoAttack(model, images, settings), fromCache: false }
    : await cachedAutoAttack({ key: options.modelKey, classifier: model }, images, settings);
  const share = (f: (i: number) => boolean) => (n ? first.filter(f).length / n : 0);
  const pgdAccuracy = share((i) => pgd.correct[i] === 1);
  return {
    n,
    clean: result.cleanAccuracy,
    pgd: pgdAccuracy,
    autoAttack: result.robustAccuracy,
    worstCase: share((i) => evaluation.robust[i] === 1 && result.robust[i] === 1),
    gap: pgdAccuracy - result.robustAccuracy,
    result,
    fromCache: result.fromCache,
  };
}

/**
 * What the notebook says of AutoAttack against PGD: "agrees" when the two robust accuracies are within
 * `tolerance` (default 0.02, two points), "lower" when AutoAttack finds more adversarial examples than
 * that, "higher" when PGD found more.
 */
export function autoAttackVerdict(c: { gap: number }, tolerance = 0.02): "agrees" | "lower" | "higher" {
  if (!(tolerance >= 0)) throw new RangeError(`autoAttackVerdict: tolerance must be >= 0, got ${tolerance}`);
  if (!Number.isFinite(c.gap)) throw new RangeError(`autoAttackVerdict: gap must be finite, got ${c.gap}`);
  return c.gap > tolerance ? "lower" : c.gap < -tolerance ? "higher" : "agrees";
}

/** The gap in points with its sign, e.g. "+1.5" (AutoAttack lower than PGD) or "-0.5". */
export function gapPoints(gap: number): string {
  const p = 100 * gap;
  return `${p > 0 ? "+" : p < 0 ? "−" : ""}${Math.abs(p).toFixed(1)}`;
}

/**
 * Rows of the AutoAttack-beside-PGD table: network, images, clean, PGD (under `pgdName`), AutoAttack, the
 * gap in points, the points each attack of the sequence broke, and AutoAttack's checks that failed (fired).
 */
export function autoAttackBesidePgdRows(
  entries: { model: string; comparison: AutoAttackBesidePgd }[],
  pgdName = "PGD",
): Record<string, string | number>[] {
  return entries.map(({ model, comparison: c }) => ({
    model,
    images: c.n,
    clean: c.clean,
    [pgdName]: c.pgd,
    AutoAttack: c.autoAttack,
    "gap (points)": gapPoints(c.gap),
    ...Object.fromEntries(c.result.perAttack.map((s) => [`broken by ${s.name}`, s.broken])),
    "failed checks": c.result.flags.length ? c.result.flags.map((f) => f.name).join("; ") : "none",
  }));
}

/** The largest capacity scale of Madry et al.'s study. */
export const PAPER_LARGEST_SCALE = 16;

/** Whether the grid of `cfg` reaches the paper's largest capacity scale ({@linkcode PAPER_LARGEST_SCALE}). */
export function reachesPaperScale(cfg: Notebook05Config): boolean {
  return Math.max(...cfg.scales.map((s) => s.scale)) >= PAPER_LARGEST_SCALE;
}

/**
 * The paragraph that sets this run beside Madry et al.'s: their settings and numbers, then what the run at
 * `scale` does instead (at `full`, each departure from their schedule, with its reason).
 */
export function paperComparison(cfg: Notebook05Config, scale: Scale): Markdown {
  const paper =
    md`Madry et al. train with PGD-40 (steps of 0.01) at batch 50 for about 100k steps and evaluate
with PGD-100 and 20 restarts; they report 98.8% clean and 89.3% under that attack for the scale-16 network, the
FGSM-trained networks robust to FGSM and not to PGD, and PGD training failing to fit at the smallest capacities.`;
  if (scale === "paper") return md`${paper} This run uses their training settings.`;
  if (scale !== "full") {
    return md`${paper} Those runs need a GPU. The ${code(scale)} scale trains each network for a small
fraction of those steps: the ordering of the three modes shows, the absolute robust accuracies stay below the
paper's.`;
  }
  const attack = cfg.modes.find((m) => m.attack?.kind === "pgd")?.attack as
    | { steps?: number; stepSize?: number }
    | undefined;
  const images = cfg.data.trainSize ? cfg.data.trainSize.toLocaleString("en-US") : "all 60,000";
  const evaluation = `PGD-${cfg.eval.pgdSteps}×${cfg.eval.restarts}`;
  const testImages = cfg.data.testSize ? cfg.data.testSize.toLocaleString("en-US") : "all 10,000";
  // The PGD mode's epochs, and each mode that trains for another number of them.
  const epochsOf = (m: TrainingMode) => m.epochs ?? cfg.train.epochs;
  const pgdMode = cfg.modes.find((m) => m.attack?.kind === "pgd");
  const epochs = pgdMode ? epochsOf(pgdMode) : cfg.train.epochs;
  const others = cfg.modes.filter((m) => epochsOf(m) !== epochs);
  const epochsText = others.length === 0
    ? `${epochs} epochs`
    : `${epochs} epochs (${others.map((m) => `${m.name} training ${epochsOf(m)}`).join(", ")}, for time)`;
  return md`${paper} At ${code("full")} every network trains on ${images} training images for
${epochsText} at batch ${cfg.train.batchSize}, and PGD training takes ${attack?.steps ?? 40} steps of ${
    attack?.stepSize ?? 0.01
  }: fewer and larger steps and far fewer epochs than theirs, the schedule that
fits 2 CPU cores (the scale-16 PGD-trained network is ${
    code("deno task robust")
  }'s). The evaluation is theirs,
${evaluation}, on ${testImages} test images.`;
}

function checkMargin(name: string, value: number, caller: string): void {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${caller}: ${name} must be in [0, 1], got ${value}`);
}

function attackAccuracy(r: CapacityResult, i: number, caller: string): number {
  const a = r.evaluation.attacks[i]?.accuracy;
  if (a === undefined) throw new RangeError(`${caller}: the evaluation has no accuracy for attack ${i + 1}`);
  return a;
}

/**
 * What the notebook says of an FGSM-trained network, from its FGSM accuracy minus its PGD accuracy:
 * "fgsm-only" above `wide` (default 0.3: it resists its training attack and only that one), "fgsm-above-pgd"
 * above `narrow` (default 0.1), "close" otherwise (the gap has not opened at this training length).
 */
export function fgsmTrainingVerdict(
  r: CapacityResult,
  wide = 0.3,
  narrow = 0.1,
): "fgsm-only" | "fgsm-above-pgd" | "close" {
  checkMargin("wide", wide, "fgsmTrainingVerdict");
  checkMargin("narrow", narrow, "fgsmTrainingVerdict");
  const gap = attackAccuracy(r, 0, "fgsmTrainingVerdict") - attackAccuracy(r, 1, "fgsmTrainingVerdict");
  return gap > wide ? "fgsm-only" : gap > narrow ? "fgsm-above-pgd" : "close";
}

/**
 * Whether FGSM leaves the network more than `margin` (default 0.02, two points) above its clean accuracy:
 * the network makes FGSM's single step useless rather than resisting it (the degenerate minimum of
 * single-step adversarial training).
 */
export function fgsmAboveClean(r: CapacityResult, margin = 0.02): boolean {
  checkMargin("margin", margin, "fgsmAboveClean");
  return attackAccuracy(r, 0, "fgsmAboveClean") > r.evaluation.clean + margin;
}

/**
 * What the notebook says of the PGD-trained networks (`rs`, sorted by scale): "too-short" when the largest
 * keeps less than `minRobust` (default 0.2) under attack, "needs-capacity" when the smallest fits the clean
 * data more than `capacityGap` (default 0.1) worse than the largest, "fits" otherwise.
 */
export function pgdTrainingVerdict(
  rs: CapacityResult[],
  minRobust = 0.2,
  capacityGap = 0.1,
): "too-short" | "needs-capacity" | "fits" {
  checkMargin("minRobust", minRobust, "pgdTrainingVerdict");
  checkMargin("capacityGap", capacityGap, "pgdTrainingVerdict");
  if (rs.length === 0) throw new RangeError("pgdTrainingVerdict: no results");
  const small = rs[0], big = rs[rs.length - 1];
  if (big.evaluation.robustAccuracy < minRobust) return "too-short";
  return small.evaluation.clean < big.evaluation.clean - capacityGap ? "needs-capacity" : "fits";
}

/** The point of an accuracy-against-eps curve whose eps is nearest to `eps` (the first of a tie). */
export function nearestPoint(curve: EpsPoint[], eps: number): EpsPoint {
  if (curve.length === 0) throw new RangeError("nearestPoint: the curve is empty");
  return curve.reduce((a, b) => (Math.abs(b.eps - eps) < Math.abs(a.eps - eps) ? b : a));
}

/** The first point of the curve whose accuracy is below half of the first point's; undefined if none. */
export function halvingPoint(curve: EpsPoint[]): EpsPoint | undefined {
  if (curve.length === 0) throw new RangeError("halvingPoint: the curve is empty");
  return curve.find((r) => r.accuracy < curve[0].accuracy / 2);
}

/** What the sweep of the PGD-trained network says, for the notebook's prose. */
export interface SweepShape {
  /** The accuracy at the largest l-inf eps is more than `fall` (default 0.2) below the one at the training eps. */
  fallsPastRadius: boolean;
  /** The accuracy at the training eps is above `robust` (default 0.3): the network is robust in l-inf at all. */
  robustAtRadius: boolean;
}

/** {@linkcode SweepShape} from the l-inf curve's point at the training radius and its last point. */
export function sweepShape(atRadius: EpsPoint, beyond: EpsPoint, fall = 0.2, robust = 0.3): SweepShape {
  checkMargin("fall", fall, "sweepShape");
  checkMargin("robust", robust, "sweepShape");
  return {
    fallsPastRadius: beyond.accuracy < atRadius.accuracy - fall,
    robustAtRadius: atRadius.accuracy > robust,
  };
}
