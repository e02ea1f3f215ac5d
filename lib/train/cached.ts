/**
 * Training as a cached job: a model described by its configuration is trained once, checkpointed while it
 * trains, and loaded from disk on every later run with the same configuration.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
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

/** Bumped when training code changes in a way that invalidates cached models. */
export const TRAIN_CACHE_VERSION = 1;

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
  options: { progress?: ProgressMode; label?: string; data?: Dataset; stopAfterStep?: number } = {},
): Promise<TrainedModel> {
  const dir = await cacheDir("models", { version: TRAIN_CACHE_VERSION, ...job });
  const data = options.data ?? await trainingData(job.data);
  const model = buildModel(job.model, { inputShape: data.shape, classes: data.classes.length }, job.initSeed);
  const weightsPath = join(dir, "model.weights");
  const reportPath = join(dir, "report.json");
  if (await exists(weightsPath)) {
    loadWeightsInto(model, await Deno.readFile(weightsPath), weightsPath);
    const report = (await readJsonIfExists<TrainReport>(reportPath))!;
    return { model, classifier: asClassifier(model), report, fromCache: true, dir };
  }
  await writeFileAtomic(join(dir, "job.json"), JSON.stringify(job, null, 2));
  const report = await train(model, data, {
    ...job.train,
    checkpointDir: dir,
    stopAfterStep: options.stopAfterStep,
    label: options.label ??
      `train ${describeModel(job.model)}${job.train.adversarial ? " (adversarial)" : ""}`,
    progress: options.progress,
  });
  if (report.finished) {
    await writeFileAtomic(weightsPath, serializeWeights(model));
    await writeFileAtomic(reportPath, JSON.stringify(report, null, 2));
  }
  return { model, classifier: asClassifier(model), report, fromCache: false, dir };
}
