/**
 * Data specs: what a training job trains on, as data that resolves itself. A spec is either a seeded subset
 * of a shipped dataset's training split, or a constructed set (made by a builder from a source model) that
 * the builder committed to the artifact store. The spec's key ({@linkcode dataKey}) enters the key of every
 * job trained on it, and a dataset resolved from a spec carries that key as its `origin`, so that training
 * can check it was handed the data its job names.
 * @module
 */
import { specKey } from "../store/key.ts";
import { type ArtifactRef, readArtifact, refOf } from "../store/store.ts";
import { unitFile } from "../store/unit.ts";
import { type Dataset, size } from "./dataset.ts";
import { DATASET_FILE, decodeDataset } from "./file.ts";
import { loadDataset } from "./load.ts";
import type { DatasetName } from "./sources.ts";
import { stratifiedSubset, twoClassSubset } from "./subsets.ts";

/** A seeded subset of the training split of a shipped dataset. */
export interface SubsetDataSpec {
  dataset: DatasetName;
  /** Size of a seeded stratified subset; absent, 0, or at least the split's size: all of it. */
  trainSize?: number;
  /** Seed of the subset. Default 0. */
  seed?: number;
  /** A two-class task: only these two classes, relabelled 0 and 1. Absent or null: all classes. */
  classes?: readonly [number, number] | null;
}

/** A constructed training set, as its builder committed it to the store. */
export interface ConstructedDataSpec {
  constructed: {
    /** The builder that made it, e.g. "non-robust" (D_rand, D_det) or "robust" (D_R, D_NR). */
    builder: string;
    /** The key of the job whose model it was built from. */
    source: string;
    /** Every setting of the construction, the images it started from among them. */
    settings: Record<string, unknown>;
  };
}

/** What a training job trains on. */
export type TrainDataSpec = SubsetDataSpec | ConstructedDataSpec;

/** Whether `spec` names a constructed set. */
export function isConstructed(spec: TrainDataSpec): spec is ConstructedDataSpec {
  return typeof (spec as ConstructedDataSpec).constructed === "object" &&
    (spec as ConstructedDataSpec).constructed !== null;
}

/** A subset spec with its defaults filled in, so that specs that mean the same data have the same key. */
export function normalizeSubset(spec: SubsetDataSpec): Required<SubsetDataSpec> {
  if (typeof spec.dataset !== "string") {
    throw new TypeError(
      `data spec: expected a dataset name or a constructed set, got ${JSON.stringify(spec)}`,
    );
  }
  const n = spec.trainSize ?? 0;
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`data spec: trainSize must be an integer >= 0, got ${spec.trainSize}`);
  }
  return {
    dataset: spec.dataset,
    trainSize: n,
    seed: n > 0 ? spec.seed ?? 0 : 0,
    classes: spec.classes ? [spec.classes[0], spec.classes[1]] : null,
  };
}

/** The spec in the form its key is made of (subset defaults filled in; unknown fields dropped). */
export function canonicalDataSpec(spec: TrainDataSpec): TrainDataSpec {
  if (isConstructed(spec)) {
    const { builder, source, settings } = spec.constructed;
    if (typeof builder !== "string" || typeof source !== "string" || typeof settings !== "object") {
      throw new TypeError(
        `data spec: a constructed set needs builder, source and settings, got ${JSON.stringify(spec)}`,
      );
    }
    return { constructed: { builder, source, settings } };
  }
  return normalizeSubset(spec);
}

/** The key of the data a spec names (for a constructed set, the key of its dataset artifact). */
export function dataKey(spec: TrainDataSpec): Promise<string> {
  const c = canonicalDataSpec(spec);
  return specKey(isConstructed(c) ? c.constructed : c);
}

/** The store reference of a constructed set's dataset artifact. */
export async function constructedRef(spec: ConstructedDataSpec): Promise<ArtifactRef> {
  return refOf("datasets", await dataKey(spec));
}

/** `ds` marked as the data of the spec whose key is `key`. */
export function withOrigin(ds: Dataset, key: string): Dataset {
  return { ...ds, origin: key };
}

/** The training split, or the subset of it, that a subset spec names. */
async function resolveSubset(spec: SubsetDataSpec): Promise<Dataset> {
  const s = normalizeSubset(spec);
  let ds = await loadDataset(s.dataset, "train");
  if (s.classes) ds = twoClassSubset(ds, [s.classes[0], s.classes[1]]);
  if (s.trainSize > 0 && s.trainSize < size(ds)) ds = stratifiedSubset(ds, s.trainSize, { seed: s.seed });
  return ds;
}

/** Thrown when a constructed set a spec names has not been built. */
export class MissingDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MissingDataError";
  }
}

/**
 * The data `spec` names, marked with its key as `origin`: a subset is drawn from the shipped files; a
 * constructed set is loaded (and verified) from the store, and is an error when its builder has not made it.
 *
 * @example
 * ```ts
 * import { resolveTrainData } from "./spec.ts";
 * const train = await resolveTrainData({ dataset: "mnist", trainSize: 1000, seed: 0 });
 * console.log(train.name, train.origin); // "mnist/train[1000]" and the spec's key
 * ```
 */
export async function resolveTrainData(spec: TrainDataSpec): Promise<Dataset> {
  const key = await dataKey(spec);
  if (!isConstructed(spec)) return withOrigin(await resolveSubset(spec), key);
  const ref = await constructedRef(spec);
  const ds = await readArtifact(ref, (unit) => decodeDataset(unitFile(unit, DATASET_FILE), ref.dir).dataset);
  if (!ds) {
    throw new MissingDataError(
      `the constructed set ${spec.constructed.builder} of model ${spec.constructed.source} (${ref.dir}) has not ` +
        `been built: run its construction first (it commits the set under that key)`,
    );
  }
  return withOrigin(ds, key);
}

/** Checks that `data` is what `spec` names (its `origin` is the spec's key); the error names both. */
export async function checkDataOrigin(data: Dataset, spec: TrainDataSpec, who: string): Promise<void> {
  const key = await dataKey(spec);
  if (data.origin !== key) {
    throw new TypeError(
      `${who}: the data given (${data.name}, ${
        data.origin ? `resolved from data spec ${data.origin}` : "not resolved from a data spec"
      }) is not the job's data (${JSON.stringify(canonicalDataSpec(spec))}, key ${key}); pass the dataset ` +
        `that resolveTrainData() (or trainingData()) returns for the job's data spec, or none`,
    );
  }
}

/** Which images a construction starts from: the first `size` images of the data resolved from spec `from`. */
export interface ConstructionImages {
  /** The key of the data spec they were taken from (its `origin`), or the dataset's name where it has none. */
  from: string;
  /** How many of its first images. */
  size: number;
}

/** The images a construction starts from, as recorded in its spec: the first `n` of `ds` (all by default). */
export function constructionImages(ds: Dataset, n = size(ds)): ConstructionImages {
  return { from: ds.origin ?? ds.name, size: Math.min(n, size(ds)) };
}

/**
 * The spec of a set that `builder` constructs from `images` against the model of job `source`, with the
 * builder's own `options`: the one place such a spec is made, so that the construction (which commits its
 * result under {@linkcode constructedRef}) and the jobs trained on it name the same data.
 */
export function constructedSpec(
  builder: string,
  source: string,
  images: ConstructionImages,
  options: Record<string, unknown>,
): ConstructedDataSpec {
  return { constructed: { builder, source, settings: { images, options } } };
}
