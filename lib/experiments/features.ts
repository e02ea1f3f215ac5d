/**
 * Chapter 2, "Robust and non-robust features" (Ilyas et al. 2019): the settings schema of its notebook and
 * the pipelines behind its two experiments. Experiment 1 trains a standard model, relabels every training
 * image with a target class it is attacked towards (D_rand, D_det, or the two-class swap of the lecture),
 * trains a fresh model on that set and tests it on the original test set. Experiment 2 builds D_R from an
 * adversarially trained model's representation and D_NR from a standard model's, and trains standard
 * models on each.
 * @module
 */
import { predictLabels } from "../attacks/loss.ts";
import { type AttackSpec, makeAttack } from "../attacks/make.ts";
import { type Infer, int, list, num, obj, optional, str } from "../config/schema.ts";
import { modelSpecSchema, trainSchema } from "../config/specs.ts";
import { type Dataset, imagesTensor, size, take } from "../data/dataset.ts";
import { loadDataset } from "../data/load.ts";
import type { DatasetName } from "../data/sources.ts";
import {
  type ConstructedDataSpec,
  constructedRef,
  constructedSpec,
  type ConstructionImages,
  constructionImages,
  resolveTrainData,
  type SubsetDataSpec,
} from "../data/spec.ts";
import { stratifiedSubset, twoClassSubset } from "../data/subsets.ts";
import { buildNonRobustDataset, type NonRobustDataset } from "../datasets/non_robust.ts";
import { buildRobustDataset, type RobustDataset } from "../datasets/robust.ts";
import type { TargetRule } from "../datasets/targets.ts";
import { evaluate } from "../eval/evaluate.ts";
import type { ModelSpec } from "../models/build.ts";
import type { Classifier } from "../models/classifier.ts";
import { representationOf } from "../models/representation.ts";
import type { ImageRow } from "../plot/images.ts";
import { trainCached, type TrainedModel, type TrainJob } from "../train/cached.ts";

const datasetName = str(["mnist", "fashion-mnist"]);

/** How every model of the chapter is scored: clean accuracy and accuracy under l2 PGD at `eps`. */
const evaluationSchema = obj({
  /** Test images, a seeded stratified subset of the test split (0: all of it). */
  testSize: int({ min: 0 }),
  /** Radius of the l2 PGD attack of the robust accuracy. */
  eps: num({ min: 0 }),
  steps: int({ min: 1 }),
  /** PGD step length. Default 2.5 eps / steps. */
  stepSize: optional(num({ min: 0 }), undefined as unknown as number),
});

/** Experiment 1: non-robust datasets made by targeted attacks. */
const nonRobustSchema = obj({
  /** Architecture of the standard source models and of the models trained on the constructed sets. */
  model: modelSpecSchema,
  /** Training images of each source model (0: the whole split, or both classes for the two-class task). */
  trainSize: int({ min: 0 }),
  /** Standard training of the source models. */
  train: trainSchema,
  /** Images per constructed dataset: the first `size` of the source model's training subset. */
  size: int({ min: 1 }),
  /** The targeted l2 PGD that moves each image towards its target. */
  attack: obj({
    eps: num({ min: 0 }),
    steps: int({ min: 1 }),
    stepSize: optional(num({ min: 0 }), undefined as unknown as number),
  }),
  /** The lecture's two-class task: two classes of a dataset standing in for cats and dogs. */
  binary: obj({
    dataset: datasetName,
    classes: list(int({ min: 0, max: 9 }), { minLength: 2 }),
    /** Images of the swapped set (default: `size`). */
    size: optional(int({ min: 0 }), 0),
    /** Radius of its attack (default: `attack.eps`). */
    eps: optional(num({ min: 0 }), 0),
  }),
  /** Datasets of the 10-class D_rand and D_det. */
  datasets: list(datasetName, { minLength: 1 }),
  /** Training of the fresh models on the constructed sets. */
  freshTrain: trainSchema,
  batchSize: optional(int({ min: 1 }), 250),
  chunkSize: optional(int({ min: 1 }), 1000),
});

/** Experiment 2: datasets made by matching a robust or a standard model's representation. */
const robustSchema = obj({
  dataset: datasetName,
  /** Architecture of every model of the experiment. */
  model: modelSpecSchema,
  /** Training images of the standard and the robust model (0: all). */
  trainSize: int({ min: 0 }),
  /** Standard training (the model on D, and the source of D_NR). */
  train: trainSchema,
  /** Adversarial training (the model whose representation makes D_R): `train` plus this l2 PGD, alpha 0. */
  adversarial: obj({
    eps: num({ min: 0 }),
    steps: int({ min: 1 }),
    stepSize: optional(num({ min: 0 }), undefined as unknown as number),
    /** Epochs of adversarial training. Default: those of `train`. */
    epochs: optional(int({ min: 1 }), 0),
  }),
  /** Images per constructed dataset: the first `size` of the training subset. */
  size: int({ min: 1 }),
  /** The descent on the representation distance. */
  inversion: obj({
    method: optional(str(["l2", "adam"]), "l2" as "l2" | "adam"),
    steps: int({ min: 0 }),
    stepSize: num({ min: 0 }),
    schedule: optional(str(["constant", "cosine"]), "cosine" as "constant" | "cosine"),
    start: optional(str(["image", "noise"]), "image" as "image" | "noise"),
    /**
     * The layer whose output is matched, counted from the end: -2 the penultimate layer, -3 for the Madry
     * CNN the flattened convolutional features (the counterpart of a ResNet's pooled features). Default -2.
     */
    layer: optional(int({ max: -1 }), -2),
    batchSize: optional(int({ min: 1 }), 250),
    chunkSize: optional(int({ min: 1 }), 1000),
  }),
  /** Standard training of the fresh models on D_R and D_NR. */
  freshTrain: trainSchema,
});

/** Settings of notebook 02 (configs/02-robust-and-non-robust-features.yaml). */
export const notebook02Schema = obj({
  /** Seed of the data subsets, the targets and the starting points. */
  seed: int({ min: 0 }),
  /** Seed of the initial weights of every model. */
  initSeed: int({ min: 0 }),
  evaluation: evaluationSchema,
  nonRobust: nonRobustSchema,
  robust: robustSchema,
  /** Images shown per gallery. */
  gallery: int({ min: 1 }),
});

/** The typed settings of notebook 02. */
export type Notebook02Config = Infer<typeof notebook02Schema>;

/** A classification task of the chapter: a dataset, or two of its classes. */
export interface FeatureTask {
  /** Short name, e.g. "mnist" or "fashion-mnist[5,7]". */
  id: string;
  /** Readable name, e.g. "Fashion-MNIST Sandal vs Sneaker". */
  title: string;
  dataset: DatasetName;
  /** The two classes of a two-class task. */
  classes?: [number, number];
}

/** The data of a task: the source models' training subset and the test subset. */
export interface FeatureTaskData {
  train: Dataset;
  test: Dataset;
}

/** A trained model with its clean and robust test accuracy. */
export interface FeatureScore {
  /** What it is, e.g. "standard training on D_rand". */
  label: string;
  trained: TrainedModel;
  /** Clean accuracy on the original test set. */
  clean: number;
  /** Accuracy under the chapter's l2 PGD. */
  robust: number;
}

const pretty: Record<DatasetName, string> = { "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST" };

/** The lecture's two-class task of experiment 1. */
export async function featuresBinaryTask(cfg: Notebook02Config): Promise<FeatureTask> {
  const { dataset, classes } = cfg.nonRobust.binary;
  if (classes.length !== 2 || classes[0] === classes[1]) {
    throw new RangeError(`nonRobust.binary.classes must be two different classes, got [${classes}]`);
  }
  const names = (await loadDataset(dataset, "test")).classes;
  return {
    id: `${dataset}[${classes[0]},${classes[1]}]`,
    title: `${pretty[dataset]} ${names[classes[0]]} vs ${names[classes[1]]}`,
    dataset,
    classes: [classes[0], classes[1]],
  };
}

/** The 10-class tasks of experiment 1. */
export function featuresTenClassTasks(cfg: Notebook02Config): FeatureTask[] {
  return cfg.nonRobust.datasets.map((d) => ({ id: d, title: pretty[d], dataset: d }));
}

/** The 10-class task of experiment 2. */
export function featuresRobustTask(cfg: Notebook02Config): FeatureTask {
  return { id: cfg.robust.dataset, title: pretty[cfg.robust.dataset], dataset: cfg.robust.dataset };
}

/** A task's training subset (`trainSize` images, 0: all) and its test subset. */
export async function featureTaskData(
  task: FeatureTask,
  trainSize: number,
  cfg: Notebook02Config,
): Promise<FeatureTaskData> {
  let test = await loadDataset(task.dataset, "test");
  if (task.classes) test = twoClassSubset(test, task.classes);
  const n = cfg.evaluation.testSize;
  return {
    train: await resolveTrainData(taskData(task, trainSize, cfg)),
    test: n > 0 && n < size(test) ? stratifiedSubset(test, n, { seed: cfg.seed + 1 }) : test,
  };
}

/** The l2 PGD of the chapter's robust accuracy. */
export function featuresAttack(cfg: Notebook02Config): AttackSpec {
  const { eps, steps, stepSize } = cfg.evaluation;
  return { kind: "pgd", norm: "l2", eps, steps, stepSize: stepSize ?? 2.5 * eps / steps };
}

/** Clean accuracy and accuracy under {@linkcode featuresAttack} on `test`. */
export async function featuresScore(
  classifier: Classifier,
  test: Dataset,
  cfg: Notebook02Config,
  label?: string,
): Promise<{ clean: number; robust: number }> {
  const clean = await evaluate(classifier, test);
  const robust = await evaluate(classifier, test, {
    attack: makeAttack(featuresAttack(cfg), cfg.seed + 7),
    label: label ? `robust accuracy: ${label}` : undefined,
  });
  return { clean: clean.accuracy, robust: robust.accuracy };
}

/** The data spec of a task's training subset. */
function taskData(task: FeatureTask, trainSize: number, cfg: Notebook02Config): SubsetDataSpec {
  return { dataset: task.dataset, trainSize, seed: cfg.seed, classes: task.classes ?? null };
}

/** A training job on a task's training subset, or on the constructed set `constructed` names. */
function taskJob(
  task: FeatureTask,
  trainSize: number,
  model: ModelSpec,
  train: TrainJob["train"],
  cfg: Notebook02Config,
  constructed?: ConstructedDataSpec,
): TrainJob {
  return { data: constructed ?? taskData(task, trainSize, cfg), model, initSeed: cfg.initSeed, train };
}

async function score(
  label: string,
  job: TrainJob,
  data: Dataset,
  test: Dataset,
  cfg: Notebook02Config,
): Promise<FeatureScore> {
  const trained = await trainCached(job, { data, label: `train: ${label}` });
  return { label, trained, ...(await featuresScore(trained.classifier, test, cfg, label)) };
}

/** The first `n` images of `ds` (a copy), the examples a construction starts from, and how its spec names them. */
function firstImages(ds: Dataset, n: number): { dataset: Dataset; images: ConstructionImages } {
  const m = Math.min(n, size(ds));
  return {
    dataset: take(ds, Array.from({ length: m }, (_, i) => i), `${ds.name}[:${m}]`),
    images: constructionImages(ds, m),
  };
}

/** One constructed non-robust set and the fresh model trained on it. */
export interface NonRobustSet {
  rule: TargetRule;
  /** Its name in the lecture's notation, e.g. "D_rand". */
  name: string;
  built: NonRobustDataset;
  /** The images it was made from (with their original labels). */
  original: Dataset;
  fresh: FeatureScore;
  /** Share of test images the fresh model assigns to class (y + 1) mod C: the D_det relabelling learned as such. */
  shifted: number;
}

/** Experiment 1 on one task: the standard source model and, per rule, the constructed set and its fresh model. */
export interface NonRobustRun {
  task: FeatureTask;
  data: FeatureTaskData;
  source: FeatureScore;
  sets: NonRobustSet[];
}

/**
 * Experiment 1 on `task`: trains (or loads) the standard source model, builds (or loads) each rule's
 * relabelled set against it, trains a fresh model of the same architecture on each set, and scores every
 * model on the original test set.
 */
export async function runNonRobust(
  cfg: Notebook02Config,
  task: FeatureTask,
  rules: TargetRule[],
): Promise<NonRobustRun> {
  const c = cfg.nonRobust;
  const data = await featureTaskData(task, c.trainSize, cfg);
  const sourceJob = taskJob(task, c.trainSize, c.model, c.train, cfg);
  const source = await score(`standard training on D (${task.title})`, sourceJob, data.train, data.test, cfg);
  const binary = task.classes !== undefined;
  const original = firstImages(data.train, (binary && c.binary.size) || c.size);
  const sets: NonRobustSet[] = [];
  for (const rule of rules) {
    const name = binary ? "D_NR (swapped labels)" : `D_${rule}`;
    const settings = {
      rule,
      eps: (binary && c.binary.eps) || c.attack.eps,
      steps: c.attack.steps,
      stepSize: c.attack.stepSize,
      seed: cfg.seed,
      batchSize: c.batchSize,
      chunkSize: c.chunkSize,
    };
    const spec = constructedSpec("non-robust", source.trained.key, original.images, {
      ...settings,
      norm: "l2",
    });
    const built = await buildNonRobustDataset(source.trained.classifier, original.dataset, {
      ...settings,
      artifact: await constructedRef(spec),
      source: spec.constructed,
      label: `build ${name} (${task.title})`,
    });
    const job = taskJob(task, c.trainSize, c.model, c.freshTrain, cfg, spec);
    const fresh = await score(
      `standard training on ${name} (${task.title})`,
      job,
      built.dataset,
      data.test,
      cfg,
    );
    const predictions = predictLabelsOf(fresh.trained.classifier, data.test);
    const C = data.test.classes.length;
    const shifted = predictions.reduce((n, p, i) => n + (p === (data.test.labels[i] + 1) % C ? 1 : 0), 0) /
      Math.max(1, predictions.length);
    sets.push({ rule, name, built, original: original.dataset, fresh, shifted });
  }
  return { task, data, source, sets };
}

/** Predictions of `classifier` on all of `ds`, in batches. */
function predictLabelsOf(classifier: Classifier, ds: Dataset, batchSize = 500): Int32Array {
  const out = new Int32Array(size(ds));
  for (let s = 0; s < size(ds); s += batchSize) {
    const e = Math.min(size(ds), s + batchSize);
    const x = imagesTensor(ds, s, e);
    out.set(predictLabels(classifier, x), s);
    x.dispose();
  }
  return out;
}

/** Experiment 2: the models on D, the two constructed sets, and the fresh models trained on them. */
export interface RobustFeaturesRun {
  task: FeatureTask;
  data: FeatureTaskData;
  /** Standard training on D. */
  standard: FeatureScore;
  /** Adversarial training on D (l2 PGD). */
  adversarial: FeatureScore;
  /** The images the constructions matched (with their labels). */
  original: Dataset;
  /** D_R: matched to the adversarially trained model's representation. */
  robustSet: RobustDataset;
  /** D_NR: matched to the standard model's representation. */
  nonRobustSet: RobustDataset;
  /** Standard training on D_R. */
  onRobust: FeatureScore;
  /** Standard training on D_NR. */
  onNonRobust: FeatureScore;
}

/** The adversarial-training job of experiment 2 (l2 PGD, alpha 0: adversarial examples only). */
export function featuresAdversarialJob(cfg: Notebook02Config): TrainJob {
  const r = cfg.robust;
  const a = r.adversarial;
  const attack: AttackSpec = {
    kind: "pgd",
    norm: "l2",
    eps: a.eps,
    steps: a.steps,
    stepSize: a.stepSize ?? 2.5 * a.eps / a.steps,
  };
  const train = { ...r.train, epochs: a.epochs || r.train.epochs, adversarial: { attack, alpha: 0 } };
  return taskJob(featuresRobustTask(cfg), r.trainSize, r.model, train, cfg);
}

/**
 * Experiment 2: trains (or loads) a standard and an adversarially trained model on D, builds D_R from the
 * adversarially trained model's representation and D_NR from the standard one's, trains a standard model
 * on each, and scores all four on the original test set.
 */
export async function runRobustFeatures(cfg: Notebook02Config): Promise<RobustFeaturesRun> {
  const r = cfg.robust;
  const task = featuresRobustTask(cfg);
  const data = await featureTaskData(task, r.trainSize, cfg);
  const standard = await score(
    "standard training on D",
    taskJob(task, r.trainSize, r.model, r.train, cfg),
    data.train,
    data.test,
    cfg,
  );
  const adversarial = await score(
    "adversarial training on D",
    featuresAdversarialJob(cfg),
    data.train,
    data.test,
    cfg,
  );
  const original = firstImages(data.train, r.size);
  const build = async (from: FeatureScore, name: string) => {
    const { layer, ...inversion } = r.inversion;
    const settings = { ...inversion, seed: cfg.seed };
    const spec = constructedSpec("robust", from.trained.key, original.images, { ...settings, layer });
    const built = await buildRobustDataset(
      representationOf(from.trained.model, { layer }),
      original.dataset,
      {
        ...settings,
        artifact: await constructedRef(spec),
        source: spec.constructed,
        label: `build ${name} (${task.title})`,
      },
    );
    return { built, spec };
  };
  const dR = await build(adversarial, "D_R");
  const dNR = await build(standard, "D_NR");
  const fresh = (name: string, set: { built: RobustDataset; spec: ConstructedDataSpec }) =>
    score(
      `standard training on ${name}`,
      taskJob(task, r.trainSize, r.model, r.freshTrain, cfg, set.spec),
      set.built.dataset,
      data.test,
      cfg,
    );
  return {
    task,
    data,
    standard,
    adversarial,
    original: original.dataset,
    robustSet: dR.built,
    nonRobustSet: dNR.built,
    onRobust: await fresh("D_R", dR),
    onNonRobust: await fresh("D_NR", dNR),
  };
}

/** Bar-chart rows (one per model and accuracy kind) for clean (blue) and robust (red) accuracy. */
export function featuresBars(models: FeatureScore[], names?: string[]): Record<string, unknown>[] {
  return models.flatMap((m, i) => [
    { model: names?.[i] ?? m.label, accuracy: "clean", value: m.clean },
    { model: names?.[i] ?? m.label, accuracy: "robust", value: m.robust },
  ]);
}

/** The colours of the lecture's figures: clean accuracy blue, robust accuracy red. */
export const CLEAN_ROBUST_COLORS: Readonly<Record<string, string>> = { clean: "#2563eb", robust: "#dc2626" };

/** An image-grid row: the first `count` images of `ds`, captioned with their class names (after `prefix`). */
export function constructedRow(label: string, ds: Dataset, count: number, prefix = ""): ImageRow {
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const n = Math.min(count, size(ds));
  return {
    label,
    kind: "image",
    images: Array.from({ length: n }, (_, i) => ds.images.slice(i * per, (i + 1) * per)),
    captions: Array.from({ length: n }, (_, i) => `${prefix}${ds.classes[ds.labels[i]]}`),
  };
}

/** An image-grid row of the differences `ds - original` for the first `count` images. */
export function constructedDifferenceRow(
  label: string,
  ds: Dataset,
  original: Dataset,
  count: number,
): ImageRow {
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const n = Math.min(count, size(ds), size(original));
  return {
    label,
    kind: "diverging",
    images: Array.from({ length: n }, (_, i) => {
      const d = new Float32Array(per);
      for (let j = 0; j < per; j++) d[j] = ds.images[i * per + j] - original.images[i * per + j];
      return d;
    }),
  };
}

/** The mean l2 norm of the images of `ds` (to compare perturbation sizes with). */
export function meanImageL2Norm(ds: Dataset): number {
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const n = size(ds);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let sq = 0;
    for (let j = i * per; j < (i + 1) * per; j++) sq += ds.images[j] * ds.images[j];
    total += Math.sqrt(sq);
  }
  return n ? total / n : 0;
}

/**
 * Whether the model trained on the two-class swapped set is clearly above the 50% of chance on the real
 * test set (above 55%): the lecture's reading that it learned the classes from features a person cannot see.
 */
export function swappedLabelsLearned(fresh: { clean: number }): boolean {
  return fresh.clean > 0.55;
}

/** Whether, on every task, the model trained on D_det is less accurate than the one trained on D_rand. */
export function detHarderThanRand(
  runs: readonly { sets: readonly { rule: TargetRule; fresh: { clean: number } }[] }[],
): boolean {
  const clean = (run: (typeof runs)[number], rule: TargetRule) => {
    const set = run.sets.find((s) => s.rule === rule);
    if (!set) throw new RangeError(`detHarderThanRand: a run has no D_${rule} set`);
    return set.fresh.clean;
  };
  return runs.every((run) => clean(run, "det") < clean(run, "rand"));
}

/** What experiment 2's prose says about its four models, as numbers and the flags that pick the words. */
export interface RobustFeaturesReading {
  /** Robust accuracy gained by standard training on D_R over standard training on D. */
  gain: number;
  /** Clean accuracy lost by standard training on D_R against standard training on D. */
  cost: number;
  /** The gain is more than 5 points: robustness came from the data. */
  moreRobust: boolean;
  /** The cost is more than 0.1 points. */
  costsClean: boolean;
  /** Standard training on D_NR is no more robust than standard training on D. */
  nonRobustAsBrittle: boolean;
  /** The standard model on D keeps more than 10% robust accuracy (MNIST's, unlike CIFAR-10's). */
  standardKeepsSome: boolean;
}

/** Reads experiment 2's models for its prose (see {@linkcode RobustFeaturesReading}). */
export function readRobustFeatures(
  run: Record<"standard" | "onRobust" | "onNonRobust", { clean: number; robust: number }>,
): RobustFeaturesReading {
  const gain = run.onRobust.robust - run.standard.robust;
  const cost = run.standard.clean - run.onRobust.clean;
  return {
    gain,
    cost,
    moreRobust: gain > 0.05,
    costsClean: cost > 0.001,
    nonRobustAsBrittle: run.onNonRobust.robust <= run.standard.robust,
    standardKeepsSome: run.standard.robust > 0.1,
  };
}
