/**
 * Cached evaluations: a robust evaluation or an AutoAttack run of a cached model, committed to the store
 * (`<cache>/v2/results/<key>`) and loaded instead of run again. The key is the whole configuration: the
 * model's own cache key, a SHA-256 of the test images and labels, every option that changes the outcome,
 * and the fingerprint of the library's code (`lib/` and `native/`), so that a result is never taken for
 * that of another model, other images, other attacks or another version of the attacks. At `full` these
 * runs are most of chapter 5's time (PGD-100 x 20 on 15 networks, AutoAttack on the largest): a notebook
 * executed again, or resumed after an interruption, loads the evaluations it already finished.
 * @module
 */

import type { Dataset } from "../data/dataset.ts";
import type { Classifier } from "../models/classifier.ts";
import { libraryFingerprint } from "../store/fingerprint.ts";
import { sha256Hex } from "../store/key.ts";
import { artifactRef, commitArtifact, readArtifact, withArtifactLock } from "../store/store.ts";
import { unitFile } from "../store/unit.ts";
import { autoAttack, type AutoAttackOptions, type AutoAttackResult } from "./autoattack.ts";
import { robustEvaluate, type RobustEvaluateOptions, type RobustEvaluation, suiteOf } from "./robust.ts";

/** A model as the cache knows it: its job's key in the store (`TrainedModel.key`) and its classifier. */
export interface KeyedModel {
  key: string;
  classifier: Classifier;
}

/** A result with where it came from. */
export type Cached<T> = T & {
  /** Whether the result was loaded from the store instead of computed. */
  fromCache: boolean;
  /** Its key in the store. */
  cacheKey: string;
};

/** The SHA-256 of a dataset's shape, labels and images (not its name): equal data, equal fingerprint. */
export async function datasetFingerprint(data: Dataset): Promise<string> {
  const images = new Uint8Array(data.images.buffer, data.images.byteOffset, data.images.byteLength);
  const labels = new Uint8Array(data.labels.buffer, data.labels.byteOffset, data.labels.byteLength);
  const [a, b] = await Promise.all([sha256Hex(images), sha256Hex(labels)]);
  return await sha256Hex(`${data.shape.join("x")} ${labels.length} ${a} ${b}`);
}

const TYPED = { Uint8Array, Int32Array, Float32Array } as const;
type TypedName = keyof typeof TYPED;

/**
 * `value` as JSON with its typed arrays moved into one binary blob (each replaced by `{ $array, type }`),
 * and back: the results hold per-example bits and, for AutoAttack, the adversarial images.
 */
export function packResult(value: unknown): { json: string; blob: Uint8Array } {
  const parts: { at: number; bytes: Uint8Array }[] = [];
  let offset = 0;
  const json = JSON.stringify(value, (_key, v) => {
    for (const type of Object.keys(TYPED) as TypedName[]) {
      if (v instanceof TYPED[type]) {
        parts.push({ at: offset, bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
        const ref = { $array: offset, type, length: v.length };
        // Each array starts on a multiple of 4 bytes, so that it can be viewed in place.
        offset += Math.ceil(v.byteLength / 4) * 4;
        return ref;
      }
    }
    return v;
  });
  const blob = new Uint8Array(offset);
  for (const { at, bytes } of parts) blob.set(bytes, at);
  return { json, blob };
}

/** The inverse of {@linkcode packResult}; an array reference outside the blob is an error. */
export function unpackResult<T>(json: string, blob: Uint8Array): T {
  return JSON.parse(json, (_key, v) => {
    if (v && typeof v === "object" && typeof v.$array === "number" && v.type in TYPED) {
      const Type = TYPED[v.type as TypedName];
      const bytes = v.length * Type.BYTES_PER_ELEMENT;
      if (!Number.isInteger(v.length) || v.length < 0 || v.$array < 0 || v.$array + bytes > blob.byteLength) {
        throw new RangeError(`array at ${v.$array} (${v.length} x ${v.type}) is outside the results file`);
      }
      return new Type(blob.slice(v.$array, v.$array + bytes).buffer);
    }
    return v;
  }) as T;
}

const RESULT_JSON = "result.json";
const RESULT_ARRAYS = "arrays.bin";

/**
 * The result of `compute` for `spec` (any JSON; the library's fingerprint is added to it): loaded from the
 * store when there, else computed and committed. One process at a time computes a given spec; another one
 * waits and loads its result. A result that cannot be read is reported, removed and computed again.
 */
export async function cachedResult<T>(
  what: string,
  spec: Record<string, unknown>,
  compute: () => Promise<T>,
): Promise<Cached<T>> {
  const ref = await artifactRef("results", { ...spec, code: await libraryFingerprint() });
  const load = () =>
    readArtifact(ref, (unit) =>
      unpackResult<T>(
        new TextDecoder().decode(unitFile(unit, RESULT_JSON)),
        unitFile(unit, RESULT_ARRAYS),
      ));
  const hit = await load();
  if (hit !== undefined) return { ...hit, fromCache: true, cacheKey: ref.key };
  return await withArtifactLock(ref, what, async () => {
    const done = await load();
    if (done !== undefined) return { ...done, fromCache: true, cacheKey: ref.key };
    const value = await compute();
    const { json, blob } = packResult(value);
    await commitArtifact(ref, { [RESULT_JSON]: json, [RESULT_ARRAYS]: blob }, { spec: { what, ...spec } });
    return { ...value, fromCache: false, cacheKey: ref.key };
  });
}

/**
 * {@linkcode robustEvaluate} of a cached model, itself cached: keyed by the model's key, the data's
 * fingerprint, the attacks (the default suite filled in), the seed, the cascade mode and the batch size.
 * Progress options are not part of the key.
 *
 * @example
 * ```ts
 * import type { Dataset } from "../data/dataset.ts";
 * import type { TrainedModel } from "../train/cached.ts";
 * import { cachedRobustEvaluate } from "./cached.ts";
 * declare const trained: TrainedModel, testSet: Dataset;
 * const r = await cachedRobustEvaluate(trained, testSet, { eps: 0.3, seed: 11 });
 * console.log(r.robustAccuracy, r.fromCache ? "(loaded from the cache)" : `${r.seconds.toFixed(0)} s`);
 * ```
 */
export async function cachedRobustEvaluate(
  model: KeyedModel,
  data: Dataset,
  options: RobustEvaluateOptions = {},
): Promise<Cached<RobustEvaluation>> {
  const attacks = suiteOf(options, "cachedRobustEvaluate");
  const spec = {
    evaluation: "robust",
    model: model.key,
    data: await datasetFingerprint(data),
    attacks,
    seed: options.seed ?? 0,
    cascade: options.cascade ?? false,
    batchSize: options.batchSize ?? null,
  };
  return await cachedResult(
    `robust evaluation of model ${model.key}`,
    spec,
    () => robustEvaluate(model.classifier, data, { ...options, attacks }),
  );
}

/**
 * {@linkcode autoAttack} of a cached model on `data`, itself cached: keyed by the model's key, the data's
 * fingerprint and every option but the progress (`forward` counts only as whether forward passes run in
 * onnxruntime, which rounds differently from tfjs).
 */
export async function cachedAutoAttack(
  model: KeyedModel,
  data: Dataset,
  options: AutoAttackOptions,
): Promise<Cached<AutoAttackResult>> {
  const { forward, label: _label, progress: _progress, onProgress: _onProgress, ...rest } = options;
  const spec = {
    evaluation: "autoattack",
    model: model.key,
    data: await datasetFingerprint(data),
    options: rest,
    forward: forward ? "onnxruntime" : "tfjs",
  };
  return await cachedResult(
    `AutoAttack of model ${model.key}`,
    spec,
    () => autoAttack(model.classifier, data, options),
  );
}
