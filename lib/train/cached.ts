/**
 * Training as a cached job: a model described by its job (data spec, model, initial seed, training
 * settings) is trained once, checkpointed while it trains, and committed to the artifact store with its
 * report; every later run with the same job loads and verifies it instead. One process at a time trains a
 * job: a second one waits for the first and loads what it committed.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/dataset.ts";
import { loadDataset } from "../data/load.ts";
import type { DatasetName } from "../data/sources.ts";
import {
  canonicalDataSpec,
  checkDataOrigin,
  resolveTrainData,
  type SubsetDataSpec,
  type TrainDataSpec,
} from "../data/spec.ts";
import { stratifiedSubset } from "../data/subsets.ts";
import { buildModel, describeModel, type ModelSpec } from "../models/build.ts";
import { asClassifier, type Classifier } from "../models/classifier.ts";
import { loadWeightsInto, serializeWeights } from "../models/weights.ts";
import {
  type ArtifactRef,
  artifactRef,
  checkpointSlots,
  commitArtifact,
  readArtifact,
  withArtifactLock,
} from "../store/store.ts";
import { CorruptUnitError, type LoadedUnit, unitExists, unitFile, unitJson } from "../store/unit.ts";
import type { ProgressMode } from "../util/progress.ts";
import { train, type TrainOptions, type TrainReport } from "./train.ts";

export type { SubsetDataSpec, TrainDataSpec } from "../data/spec.ts";

/** Everything that determines a trained model; its hash is the cache key. */
export interface TrainJob<D extends TrainDataSpec = TrainDataSpec> {
  /** What it trains on: a subset of a shipped dataset, or a constructed set (see `TrainDataSpec`). */
  data: D;
  model: ModelSpec;
  /** Seed of the initial weights. */
  initSeed: number;
  train: Omit<
    TrainOptions,
    "checkpoints" | "checkpointDir" | "stopAfterStep" | "label" | "progress" | "objective"
  >;
}

/** A trained (or loaded) model and how it came to be. */
export interface TrainedModel {
  model: tf.LayersModel;
  classifier: Classifier;
  /** The training report (from the run that trained it, when loaded from cache). */
  report: TrainReport;
  fromCache: boolean;
  /** The job's key in the store (derived from the whole job). */
  key: string;
  /** The model artifact's folder (`<cache>/v2/models/<key>`); for a run that did not finish, where it will be. */
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
  /**
   * The training data, when already resolved: it must be what `resolveTrainData(job.data)` returns (its
   * `origin` is checked against the job's data spec). Absent: the job resolves its own data.
   */
  data?: Dataset;
  /** Told when another process is training the same job and this one waits. Default: a line on stderr. */
  onWait?: (message: string) => void;
  /** Stop (as if interrupted) after this many steps in total. */
  stopAfterStep?: number;
  /** Craft the adversarial examples on these static models (needs `job.train.adversarial`). */
  craftSources?: CraftSources;
}

/** The configuration a job's cache key is made of: the job, plus its craft sources' keys when it has any. */
export function trainCacheConfig(job: TrainJob, craftSources?: CraftSources): Record<string, unknown> {
  const base = { version: TRAIN_CACHE_VERSION, ...job, data: canonicalDataSpec(job.data) };
  if (!craftSources) return base;
  return {
    ...base,
    craftSources: { rule: craftSources.rule, keys: craftSources.models.map((m) => m.key) },
  };
}

/**
 * Bumped when training code changes in a way that invalidates cached models. 2: typed data specs and the
 * artifact store (models cached before are trained again once).
 */
export const TRAIN_CACHE_VERSION = 2;

/** The part of a config's `data` section that determines training (its test-set settings are left out). */
export function trainDataOf(data: SubsetDataSpec & { testSize?: number }): SubsetDataSpec {
  return { dataset: data.dataset, trainSize: data.trainSize, seed: data.seed };
}

/** The training data a spec names (see {@linkcode resolveTrainData}), marked with the spec's key. */
export function trainingData(spec: TrainDataSpec & { testSize?: number }): Promise<Dataset> {
  const { testSize: _t, ...rest } = spec as TrainDataSpec & { testSize?: number };
  return resolveTrainData(rest as TrainDataSpec);
}

/** The test split, or a seeded stratified subset of `testSize` examples of it (absent or 0: all of it). */
export async function testData(
  spec: { dataset: DatasetName; testSize?: number; seed?: number },
): Promise<Dataset> {
  const full = await loadDataset(spec.dataset, "test");
  return spec.testSize ? stratifiedSubset(full, spec.testSize, { seed: (spec.seed ?? 0) + 1 }) : full;
}

const WEIGHTS = "model.weights";
const REPORT = "report.json";
const JOB = "job.json";

/** The store reference of a job's model artifact. */
export function jobRef(job: TrainJob, craftSources?: CraftSources): Promise<ArtifactRef> {
  return artifactRef("models", trainCacheConfig(job, craftSources));
}

function checkedReport(unit: LoadedUnit): TrainReport {
  const path = `${unit.dir}/${REPORT}`;
  const report = unitJson<TrainReport>(unit, REPORT);
  if (
    typeof report !== "object" || report === null || !report.finished || !Number.isInteger(report.steps) ||
    report.steps !== report.totalSteps
  ) {
    throw new CorruptUnitError(path, "not the report of a finished training run");
  }
  return report;
}

/** Loads a committed model artifact into `model`, or undefined when there is none (or it was corrupt). */
function loadCommitted(ref: ArtifactRef, model: tf.LayersModel): Promise<TrainReport | undefined> {
  return readArtifact(ref, (unit) => {
    const report = checkedReport(unit);
    loadWeightsInto(model, unitFile(unit, WEIGHTS), `${unit.dir}/${WEIGHTS}`);
    return report;
  });
}

/**
 * Trains the model a job describes, or loads it when the same job ran before. An interrupted run resumes
 * from its last checkpoint, and ends with the same weights as an uninterrupted one. While it trains, the
 * job's lock keeps other processes from training it too: they wait, then load the committed model.
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
  const ref = await artifactRef("models", config);
  if (options.data) await checkDataOrigin(options.data, job.data, "trainCached");
  const label = options.label ??
    `train ${describeModel(job.model)}${
      sources ? " (ensemble adversarial)" : job.train.adversarial ? " (adversarial)" : ""
    }`;
  let data = options.data;
  const fresh = async () => {
    data ??= await trainingData(job.data);
    return buildModel(job.model, { inputShape: data.shape, classes: data.classes.length }, job.initSeed);
  };
  const done = (model: tf.LayersModel, report: TrainReport, fromCache: boolean): TrainedModel => ({
    model,
    classifier: asClassifier(model),
    report,
    fromCache,
    key: ref.key,
    dir: ref.dir,
  });
  const loaded = async (): Promise<TrainedModel | undefined> => {
    // No model is built (nor data resolved) to find out that nothing is committed yet.
    if (!await unitExists(ref.dir)) return undefined;
    const model = await fresh();
    const report = await loadCommitted(ref, model);
    if (report) return done(model, report, true);
    model.dispose();
    return undefined;
  };
  const hit = await loaded();
  if (hit) return hit;
  return await withArtifactLock(ref, label, async () => {
    // Another process may have finished the job while this one waited for the lock.
    const after = await loaded();
    if (after) return after;
    const model = await fresh();
    const adversarial = sources && job.train.adversarial
      ? {
        ...job.train.adversarial,
        craftOn: (step: number) => {
          const i = sources.pick(step);
          return i === undefined ? undefined : sources.models[i].classifier;
        },
      }
      : job.train.adversarial;
    const checkpoints = checkpointSlots(ref);
    const report = await train(model, data!, {
      ...job.train,
      adversarial,
      checkpoints,
      stopAfterStep: options.stopAfterStep,
      label,
      progress: options.progress,
    });
    if (report.finished) {
      const described = sources ? { ...job, craftSources: config.craftSources } : job;
      await commitArtifact(ref, {
        [WEIGHTS]: serializeWeights(model),
        [REPORT]: JSON.stringify(report, null, 2),
        [JOB]: JSON.stringify(described, null, 2),
      }, { spec: config });
      await checkpoints.clear();
    }
    return done(model, report, false);
  }, { onWait: options.onWait });
}
