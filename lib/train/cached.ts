/**
 * Training as a cached job: a model described by its configuration is trained once, checkpointed while it
 * trains, and loaded from disk on every later run with the same configuration.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { basename, join } from "node:path";
import { cacheDir } from "../config/cache.ts";
import type { Dataset } from "../data/dataset.ts";
import { loadDataset } from "../data/load.ts";
import type { DatasetName } from "../data/sources.ts";
import { stratifiedSubset } from "../data/subsets.ts";
import { buildModel, describeModel, type ModelSpec } from "../models/build.ts";
import { asClassifier, type Classifier } from "../models/classifier.ts";
import { loadWeightsInto, serializeWeights } from "../models/weights.ts";
import { exists, readJsonIfExists, writeFileAtomic } from "../util/fs.ts";
import type { ProgressMode } from "../util/progress.ts";
import { train, type TrainOptions, type TrainReport } from "./train.ts";

/** Which training data a job uses. */
export interface TrainDataSpec {
  dataset: DatasetName;
  /** Size of a seeded stratified subset of the training split; absent or 0 uses all of it. */
  trainSize?: number;
  /** Seed of the subset. Default 0. */
  seed?: number;
}

/** Everything that determines a trained model; its hash is the cache key. */
export interface TrainJob {
  data: TrainDataSpec;
  model: ModelSpec;
  /** Seed of the initial weights. */
  initSeed: number;
  train: Omit<TrainOptions, "checkpointDir" | "stopAfterStep" | "label" | "progress">;
}

/** A trained (or loaded) model and how it came to be. */
export interface TrainedModel {
  model: tf.LayersModel;
  classifier: Classifier;
  /** The training report (from the run that trained it, when loaded from cache). */
  report: TrainReport;
  fromCache: boolean;
  /** The job's cache folder. */
  dir: string;
}

/**
 * Static models a job's training attack is crafted on instead of the model being trained (ensemble
 * adversarial training). The models' own cache keys and the rule's name become part of the job's key.
 */
export interface CraftSources {
  /** The static models, as {@linkcode trainCached} trained or loaded them. */
  models: readonly TrainedModel[];
  /**
   * Which model crafts the minibatch of `step`: an index into `models`, or undefined for the model being
   * trained. A function of the step alone, so that a resumed run crafts on the same models.
   */
  pick: (step: number) => number | undefined;
  /** A name for the rule `pick` follows, e.g. "round-robin with self"; part of the cache key. */
  rule: string;
}

/** Options of {@linkcode trainCached}. */
export interface TrainCachedOptions {
  progress?: ProgressMode;
  label?: string;
  /** The training data, when already loaded; it must be what `job.data` describes. */
  data?: Dataset;
  /** Stop (as if interrupted) after this many steps in total. */
  stopAfterStep?: number;
  /** Craft the adversarial examples on these static models (needs `job.train.adversarial`). */
  craftSources?: CraftSources;
}

/** The configuration a job's cache key is made of: the job, plus its craft sources' keys when it has any. */
export function trainCacheConfig(job: TrainJob, craftSources?: CraftSources): Record<string, unknown> {
  if (!craftSources) return { version: TRAIN_CACHE_VERSION, ...job };
  return {
    version: TRAIN_CACHE_VERSION,
    ...job,
    craftSources: { rule: craftSources.rule, keys: craftSources.models.map((m) => basename(m.dir)) },
  };
}

/** Bumped when training code changes in a way that invalidates cached models. */
export const TRAIN_CACHE_VERSION = 1;

/** The part of a config's `data` section that determines training (its test-set settings are left out). */
export function trainDataOf(data: TrainDataSpec & { testSize?: number }): TrainDataSpec {
  return { dataset: data.dataset, trainSize: data.trainSize, seed: data.seed };
}

/** The training split a job describes. */
export async function trainingData(spec: TrainDataSpec): Promise<Dataset> {
  const full = await loadDataset(spec.dataset, "train");
  return spec.trainSize ? stratifiedSubset(full, spec.trainSize, { seed: spec.seed ?? 0 }) : full;
}

/** The test split, or a seeded stratified subset of `testSize` examples of it (absent or 0: all of it). */
export async function testData(
  spec: { dataset: DatasetName; testSize?: number; seed?: number },
): Promise<Dataset> {
  const full = await loadDataset(spec.dataset, "test");
  return spec.testSize ? stratifiedSubset(full, spec.testSize, { seed: (spec.seed ?? 0) + 1 }) : full;
}

/**
 * Trains the model a job describes, or loads it when the same job ran before. An interrupted run resumes
 * from its last checkpoint.
 */
export async function trainCached(
  job: TrainJob,
  options: TrainCachedOptions = {},
): Promise<TrainedModel> {
  const sources = options.craftSources;
  if (job.train.adversarial?.craftOn) {
    throw new TypeError(
      "trainCached: give static attack sources through options.craftSources, so that they enter the cache key",
    );
  }
  if (sources && !job.train.adversarial) {
    throw new TypeError("trainCached: craftSources needs adversarial training (job.train.adversarial)");
  }
  const config = trainCacheConfig(job, sources);
  const dir = await cacheDir("models", config);
  const data = options.data ?? await trainingData(job.data);
  const model = buildModel(job.model, { inputShape: data.shape, classes: data.classes.length }, job.initSeed);
  const weightsPath = join(dir, "model.weights");
  const reportPath = join(dir, "report.json");
  if (await exists(weightsPath)) {
    loadWeightsInto(model, await Deno.readFile(weightsPath), weightsPath);
    const report = (await readJsonIfExists<TrainReport>(reportPath))!;
    return { model, classifier: asClassifier(model), report, fromCache: true, dir };
  }
  const described = sources ? { ...job, craftSources: config.craftSources } : job;
  await writeFileAtomic(join(dir, "job.json"), JSON.stringify(described, null, 2));
  const adversarial = sources && job.train.adversarial
    ? {
      ...job.train.adversarial,
      craftOn: (step: number) => {
        const i = sources.pick(step);
        return i === undefined ? undefined : sources.models[i].classifier;
      },
    }
    : job.train.adversarial;
  const report = await train(model, data, {
    ...job.train,
    adversarial,
    checkpointDir: dir,
    stopAfterStep: options.stopAfterStep,
    label: options.label ??
      `train ${describeModel(job.model)}${
        sources ? " (ensemble adversarial)" : job.train.adversarial ? " (adversarial)" : ""
      }`,
    progress: options.progress,
  });
  if (report.finished) {
    await writeFileAtomic(weightsPath, serializeWeights(model));
    await writeFileAtomic(reportPath, JSON.stringify(report, null, 2));
  }
  return { model, classifier: asClassifier(model), report, fromCache: false, dir };
}
