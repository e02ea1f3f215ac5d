/**
 * Chapter 3, "Transferability can arise from non-robust features" (lecture section 4, Figure 6; Ilyas et
 * al. 2019): the settings schema of its notebook and the steps behind the figure.
 *
 * A pretrained ResNet-50 (trained by advex, exported to ONNX and imported back the way a model-zoo network
 * would be) is the source. From its gradients the chapter builds D_det (the lecture's set: training images
 * pushed by targeted l2 PGD towards class (y + 1) mod C and relabelled so) or, with `nonRobust.rule: rand`,
 * D_rand (towards a random wrong class). Each target architecture is trained twice on the same images, once
 * on the constructed set and once on their true labels (D). Per architecture, the figure puts
 *
 * - x: the test accuracy, on the original test set, of the model trained on the constructed set: how well
 *   the architecture learns from ResNet-50's non-robust features alone;
 * - y: the transfer rate of ResNet-50's adversarial test examples to the model trained on D, the ordinary
 *   black-box setting: the share of the source's successful examples that also fool it.
 *
 * Every forward pass that needs no gradient (accuracies, transfer predictions) runs in onnxruntime.
 * @module
 */
import { dirname, join } from "node:path";
import { attackSpecSchema, backendSchema, modelSpecSchema, trainSchema } from "../config/specs.ts";
import { type Infer, int, list, num, obj, optional, str } from "../config/schema.ts";
import { loadExperiment, type Scale } from "../config/load.ts";
import type { Dataset } from "../data/dataset.ts";
import type { DatasetName } from "../data/sources.ts";
import {
  type ConstructedDataSpec,
  constructedRef,
  constructedSpec,
  constructionImages,
  type SubsetDataSpec,
} from "../data/spec.ts";
import { buildNonRobustDataset, type NonRobustDataset } from "../datasets/non_robust.ts";
import type { Classifier } from "../models/classifier.ts";
import { type PretrainedConfig, pretrainedSchema } from "./pretrained.ts";
import type { ProgressMode } from "../util/progress.ts";
import { assertUniqueNames } from "../util/names.ts";
import { createPrng } from "../random/prng.ts";
import type { TrainJob } from "../train/cached.ts";
import type { TransferReport } from "../eval/transfer.ts";

const targetSchema = obj({
  /** A short name shown in the table and next to the point, e.g. "VGG". */
  name: str(),
  model: modelSpecSchema,
  /** Training, the same on D_det and on D. */
  train: trainSchema,
});

/** Settings of notebook 03 (configs/03-transferability.yaml). */
export const notebook03Schema = obj({
  backend: backendSchema,
  /** The pretrained ResNet-50's settings file, relative to this file's folder; read at the same scale. */
  pretrained: optional(str(), "pretrain-resnet50.yaml"),
  /** Seed of the training subset, the test subsets and the attacks. */
  seed: int({ min: 0 }),
  /** Seed of the targets' initial weights. */
  initSeed: int({ min: 0 }),
  /** onnxruntime execution provider for every forward pass without gradient. */
  ortProvider: optional(
    str(["auto", "cuda", "webgpu", "cpu"]),
    "auto" as "auto" | "cuda" | "webgpu" | "cpu",
  ),
  /** The constructed set: targeted l2 PGD on the source, from a seeded stratified subset of the training split. */
  nonRobust: obj({
    /**
     * The targets: "det", (y + 1) mod C (D_det, the lecture's Figure 6), or "rand", a random wrong class
     * (D_rand: the visible digit then says nothing about the new label).
     */
    rule: optional(str(["det", "rand"]), "det" as "det" | "rand"),
    /** Training images attacked (and the size of D and of the constructed set). */
    size: int({ min: 1 }),
    eps: num({ min: 0 }),
    steps: int({ min: 1 }),
    /** PGD step length. Default 2.5 eps / steps. */
    stepSize: optional(num({ min: 0 }), undefined as unknown as number),
    batchSize: optional(int({ min: 1 }), 250),
    chunkSize: optional(int({ min: 1 }), 1000),
  }),
  /** The target architectures; at least two, for a correlation. */
  targets: list(targetSchema, { minLength: 2 }),
  /** Test accuracies: a seeded stratified subset of the test split (0: all of it). */
  evaluation: obj({ testSize: int({ min: 0 }) }),
  /** The source's untargeted attack on test images whose transfer is measured. */
  transfer: obj({
    testSize: int({ min: 1 }),
    attack: attackSpecSchema,
    batchSize: optional(int({ min: 1 }), 250),
  }),
  /** Images shown per gallery row. */
  gallery: int({ min: 1 }),
});

/** The typed settings of notebook 03. */
export type Notebook03Config = Infer<typeof notebook03Schema>;

/** One target architecture's two training jobs. */
export interface TargetJobs {
  name: string;
  /** Trained on the original images with their true labels. */
  standard: TrainJob;
  /** Trained on the constructed set (D_det or D_rand). */
  constructed: TrainJob;
}

/** Reads the pretrained source's settings named by `cfg.pretrained` (next to `configPath`) at `scale`. */
export function loadPretrainedConfig(
  cfg: Notebook03Config,
  configPath: string,
  scale: Scale,
): Promise<PretrainedConfig> {
  return loadExperiment(join(dirname(configPath), cfg.pretrained), pretrainedSchema, scale);
}

/**
 * The two training jobs of each target: on the `nonRobust.size` original images (D) and on the constructed
 * set, named by its data spec `constructed` (as {@linkcode buildSourceSet} returns it).
 */
export function transferTargetJobs(
  cfg: Notebook03Config,
  dataset: DatasetName,
  constructed: ConstructedDataSpec,
): TargetJobs[] {
  assertUniqueNames(cfg.targets.map((t) => t.name), "transferTargetJobs", "target");
  const standard: SubsetDataSpec = { dataset, trainSize: cfg.nonRobust.size, seed: cfg.seed };
  return cfg.targets.map((t) => ({
    name: t.name,
    standard: { data: standard, model: t.model, initSeed: cfg.initSeed, train: t.train },
    constructed: { data: constructed, model: t.model, initSeed: cfg.initSeed, train: t.train },
  }));
}

/** Options of {@linkcode buildSourceSet}. */
export interface SourceSetOptions {
  /** The source model's job key (`TrainedModel.key`); part of the construction's key. */
  sourceKey: string;
  progress?: ProgressMode;
}

/**
 * Builds (or loads, or resumes) the constructed set (D_det, or D_rand with `nonRobust.rule: rand`) from
 * `images` against the source classifier, committed to the store under the key of its data spec (the
 * settings, the source job's key and the images), which it returns for the jobs trained on it.
 */
export async function buildSourceSet(
  cfg: Notebook03Config,
  source: Classifier,
  images: Dataset,
  options: SourceSetOptions,
): Promise<{ built: NonRobustDataset; data: ConstructedDataSpec; key: string }> {
  const c = cfg.nonRobust;
  const settings = {
    rule: c.rule,
    eps: c.eps,
    steps: c.steps,
    stepSize: c.stepSize,
    seed: cfg.seed,
    batchSize: c.batchSize,
    chunkSize: c.chunkSize,
  };
  const data = constructedSpec("non-robust", options.sourceKey, constructionImages(images), {
    ...settings,
    norm: "l2",
  });
  const artifact = await constructedRef(data);
  const built = await buildNonRobustDataset(source, images, {
    ...settings,
    artifact,
    source: data.constructed,
    label: `build D_${c.rule} on the ResNet-50`,
    progress: options.progress,
  });
  return { built, data, key: artifact.key };
}

/** Pearson's correlation coefficient of two equally long series (NaN when either is constant). */
export function pearson(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError(`pearson: lengths differ (${x.length} and ${y.length})`);
  const n = x.length;
  if (n < 2) throw new RangeError(`pearson: needs at least two points, got ${n}`);
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/** A bootstrap interval of a correlation: the resampled statistic's percentiles. */
export interface BootstrapInterval {
  /** The statistic on the points themselves. */
  estimate: number;
  lo: number;
  hi: number;
  /** The coverage, e.g. 0.95. */
  level: number;
  /** Resamples drawn, and those left out because the statistic was undefined (a constant series). */
  resamples: number;
  undefinedResamples: number;
}

/**
 * The percentile bootstrap interval of Pearson's r (or of `statistic`): `resamples` draws of the n points
 * with replacement (seeded), the (1 - level) / 2 and (1 + level) / 2 quantiles of the statistic over the
 * draws where it is defined.
 */
export function bootstrapCorrelation(
  x: readonly number[],
  y: readonly number[],
  options: { resamples?: number; level?: number; seed?: number; statistic?: typeof pearson } = {},
): BootstrapInterval {
  const statistic = options.statistic ?? pearson;
  const resamples = options.resamples ?? 10_000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`bootstrapCorrelation: resamples must be an integer >= 1, got ${resamples}`);
  }
  if (!(level > 0 && level < 1)) {
    throw new RangeError(`bootstrapCorrelation: level must be in (0, 1), got ${level}`);
  }
  const estimate = statistic(x, y);
  const n = x.length;
  const prng = createPrng(options.seed ?? 0);
  const values: number[] = [];
  const xs = new Array<number>(n), ys = new Array<number>(n);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) {
      const j = Math.floor(prng.next() * n);
      xs[i] = x[j];
      ys[i] = y[j];
    }
    const v = statistic(xs, ys);
    if (Number.isFinite(v)) values.push(v);
  }
  values.sort((a, b) => a - b);
  const quantile = (q: number) => {
    if (values.length === 0) return NaN;
    const at = q * (values.length - 1);
    const i = Math.floor(at);
    return values[i] + (values[Math.min(i + 1, values.length - 1)] - values[i]) * (at - i);
  };
  return {
    estimate,
    lo: quantile((1 - level) / 2),
    hi: quantile((1 + level) / 2),
    level,
    resamples,
    undefinedResamples: resamples - values.length,
  };
}

/** Spearman's rank correlation (average ranks for ties). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  return pearson(ranks(x), ranks(y));
}

function ranks(v: readonly number[]): number[] {
  const order = v.map((value, i) => ({ value, i })).sort((a, b) => a.value - b.value);
  const r = new Array<number>(v.length);
  for (let s = 0; s < order.length;) {
    let e = s;
    while (e + 1 < order.length && order[e + 1].value === order[s].value) e++;
    for (let k = s; k <= e; k++) r[order[k].i] = (s + e) / 2 + 1;
    s = e + 1;
  }
  return r;
}

/** One architecture's numbers: Figure 6's point, and what goes with it. */
export interface TransferPoint {
  name: string;
  model: string;
  parameters: number;
  /** Test accuracy of the model trained on the constructed set (x of Figure 6). */
  setAccuracy: number;
  /**
   * Share of test images the constructed set's model assigns to (y + 1) mod C: with D_det, the relabelling
   * learnt from the visible digits.
   */
  setShifted: number;
  /** Test accuracy of the model trained on D. */
  standardAccuracy: number;
  /** Transfer rate of the source's adversarial examples to the model trained on D (y of Figure 6). */
  transferRate: number;
}

/** What a chapter measured of one target before the transfer attack. */
export type TargetAccuracies = Omit<TransferPoint, "name" | "transferRate">;

/** Joins each target's accuracies with its transfer rate in `report` (targets named as the jobs are). */
export function transferPoints(
  jobs: readonly TargetJobs[],
  info: Record<string, TargetAccuracies>,
  report: TransferReport,
): TransferPoint[] {
  return jobs.map(({ name }) => {
    if (!info[name]) throw new Error(`transferPoints: no accuracies for ${name}`);
    const t = report.targets.find((t) => t.name === name);
    if (!t) throw new Error(`transferPoints: no transfer result for ${name}`);
    return { name, ...info[name], transferRate: t.transferRate };
  });
}

/** Share of `predictions` equal to `labels` shifted by `offset` classes (mod `classes`). */
export function shiftedShare(
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  offset = 0,
): number {
  if (predictions.length !== labels.length) {
    throw new RangeError(`shiftedShare: ${predictions.length} predictions for ${labels.length} labels`);
  }
  let n = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === (labels[i] + offset) % classes) n++;
  return labels.length ? n / labels.length : 0;
}

/** The pieces of other chapters this one shows: D_det's gallery rows and the pretrained source's workflow. */
export { constructedDifferenceRow, constructedRow, meanImageL2Norm } from "./features.ts";
export { ensureOnnx, pretrainedModel } from "./pretrained.ts";

/** The accuracy of guessing among `classes` classes, 1 / classes. */
function chance(classes: number): number {
  if (!Number.isInteger(classes) || classes < 2) {
    throw new RangeError(`classes must be an integer of at least 2, got ${classes}`);
  }
  return 1 / classes;
}

/**
 * The targets whose model trained on D_det classifies the original test set above chance (1 / `classes`),
 * from the most accurate down.
 */
export function aboveChanceTargets(
  info: Record<string, Pick<TargetAccuracies, "setAccuracy">>,
  classes: number,
): string[] {
  const c = chance(classes);
  return Object.entries(info)
    .filter(([, v]) => v.setAccuracy > c)
    .sort((a, b) => b[1].setAccuracy - a[1].setAccuracy)
    .map(([name]) => name);
}

/** Whether every point's D_det model is below chance (1 / `classes`) on the original test set. */
export function allBelowChance(
  points: readonly Pick<TransferPoint, "setAccuracy">[],
  classes: number,
): boolean {
  const c = chance(classes);
  return points.every((p) => p.setAccuracy < c);
}

/**
 * How the chapter reads a correlation of Figure 6: "strong" above 0.5 (the lecture's relation), "weak"
 * above 0 (its direction, no more), else "none" (NaN included).
 */
export function correlationStrength(r: number): "strong" | "weak" | "none" {
  return r > 0.5 ? "strong" : r > 0 ? "weak" : "none";
}
