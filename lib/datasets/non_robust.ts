/**
 * Ilyas et al.'s non-robust datasets D_rand and D_det: every training image x of class y is pushed by a
 * targeted attack on a standard model until the model sees class t, and stored with the label t. To a
 * person the image still shows class y; only the imperceptible, non-robust features say t. A model that
 * learns from such a set and still classifies the original test set correctly has learned from
 * non-robust features alone.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { pgd } from "../attacks/pgd.ts";
import { ball, type Norm, type ThreatModel } from "../attacks/threat.ts";
import { type Dataset, imagesTensor, size, slice } from "../data/dataset.ts";
import type { Classifier } from "../models/classifier.ts";
import {
  buildInChunks,
  type ChunkBuilder,
  type ChunkedBuild,
  type ChunkedBuildOptions,
  chunkedFrom,
} from "./chunked.ts";
import { chooseTargets, type TargetRule } from "./targets.ts";

/** Options of {@linkcode buildNonRobustDataset}. */
export interface NonRobustOptions extends ChunkedBuildOptions {
  /** How targets are chosen: uniformly among the wrong classes (`"rand"`) or t = (y + 1) mod C (`"det"`). */
  rule: TargetRule;
  /** Radius of the attack. */
  eps: number;
  /** Norm of the attack. Default "l2", as in the paper. */
  norm?: Norm;
  /** PGD steps. */
  steps: number;
  /** PGD step length. Default 2.5 eps / steps. */
  stepSize?: number;
  /** Seed of the random targets. Default 0. */
  seed?: number;
  /** Images attacked at once. Default 250. */
  batchSize?: number;
}

/** A constructed non-robust dataset and how the construction went. */
export interface NonRobustDataset {
  /** The perturbed images, each labelled with its target. */
  dataset: Dataset;
  /** The original label of each image. */
  sourceLabels: Int32Array;
  /** 1 where the model classifies the perturbed image as its target. */
  success: Uint8Array;
  /** Share of images the model classifies as their target: how well the new labels are backed by features. */
  successRate: number;
  /** Per image, the norm of its perturbation (in the attack's norm). */
  perturbation: Float32Array;
  /** Mean of `perturbation`. */
  meanPerturbation: number;
  /** Whether every chunk is done (false only when stopped by `stopAfterChunks`). */
  finished: boolean;
  /** Whether it was loaded from `dir` rather than built. */
  fromCache: boolean;
  /** Seconds the construction took (over all the calls that built it). */
  seconds: number;
}

/** The checked settings of one {@linkcode buildNonRobustDataset} call, with its targets and recorded config. */
interface NonRobustPlan {
  rule: TargetRule;
  eps: number;
  steps: number;
  threat: ThreatModel;
  stepSize: number;
  batchSize: number;
  n: number;
  targets: Int32Array;
  config: unknown;
}

/** Checks the steps of `options` and derives the attack, the targets and the settings recorded with them. */
function nonRobustPlan(source: Dataset, options: NonRobustOptions): NonRobustPlan {
  const norm = options.norm ?? "l2";
  const { eps, steps, rule } = options;
  const threat = ball(norm, eps);
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`buildNonRobustDataset: steps must be an integer >= 1, got ${steps}`);
  }
  const stepSize = options.stepSize ?? 2.5 * eps / steps;
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 250;
  const n = size(source);
  const classes = source.classes.length;
  const targets = chooseTargets(source.labels, classes, rule, seed);
  const config = {
    construction: "non-robust",
    rule,
    eps,
    norm,
    steps,
    stepSize,
    seed,
    batchSize,
    data: { name: source.name, n, classes },
    source: options.source ?? null,
  };
  return { rule, eps, steps, threat, stepSize, batchSize, n, targets, config };
}

/** The arrays one chunk of attacked images fills, indexed from the chunk's first example. */
interface AttackedChunk {
  images: Float32Array;
  success: Float32Array;
  distance: Float32Array;
}

/** Attacks source images [b, e) towards their targets and writes the results into `out` from `b - start`. */
async function attackBatch(
  model: Classifier,
  source: Dataset,
  plan: NonRobustPlan,
  out: AttackedChunk,
  start: number,
  b: number,
  e: number,
): Promise<void> {
  const { eps, threat, steps, stepSize } = plan;
  const per = source.shape[0] * source.shape[1] * source.shape[2];
  const x = imagesTensor(source, b, e);
  const t = tf.tensor1d(plan.targets.subarray(b, e), "int32");
  const result = pgd(model, x, t, { eps, threat, steps, stepSize, randomStart: false, targeted: true });
  const d = threat.distance(result.adversarial, x);
  out.images.set(await result.adversarial.data(), (b - start) * per);
  out.distance.set(await d.data(), b - start);
  out.success.set(result.success, b - start);
  tf.dispose([x, t, d, result.adversarial]);
}

/** The chunk builder of {@linkcode buildNonRobustDataset}: the chunk's batches attacked in turn, with progress. */
function attackChunk(model: Classifier, source: Dataset, plan: NonRobustPlan): ChunkBuilder {
  return async (start, end, _chunk, progress) => {
    const per = source.shape[0] * source.shape[1] * source.shape[2];
    const out: AttackedChunk = {
      images: new Float32Array((end - start) * per),
      success: new Float32Array(end - start),
      distance: new Float32Array(end - start),
    };
    for (let b = start; b < end; b += plan.batchSize) {
      const e = Math.min(end, b + plan.batchSize);
      await attackBatch(model, source, plan, out, start, b, e);
      progress(e - start);
      await new Promise((r) => setTimeout(r, 0));
    }
    return {
      images: out.images,
      labels: plan.targets.slice(start, end),
      columns: { success: out.success, distance: out.distance },
    };
  };
}

/** The {@linkcode NonRobustDataset} of a chunked build: its columns, the source labels of the images done, the rates. */
function nonRobustResult(built: ChunkedBuild, source: Dataset): NonRobustDataset {
  const done = size(built.dataset);
  const success = Uint8Array.from(built.columns.success ?? []);
  const perturbation = built.columns.distance ?? new Float32Array(0);
  return {
    dataset: built.dataset,
    sourceLabels: slice(source, 0, done).labels.slice(),
    success,
    successRate: done ? success.reduce((a, b) => a + b, 0) / done : 0,
    perturbation,
    meanPerturbation: done ? perturbation.reduce((a, b) => a + b, 0) / done : 0,
    finished: built.finished,
    fromCache: built.fromCache,
    seconds: built.seconds,
  };
}

/**
 * Builds D_rand (`rule: "rand"`) or D_det (`rule: "det"`) from `source` against `model`: targeted PGD in the
 * `norm` ball of radius `eps` (pixels kept in [0, 1]) from each image towards its target, which becomes its
 * label. Batched, with progress; with `artifact` (or `dir`), committed chunk by chunk and resumable.
 *
 * @example
 * ```ts
 * import type { Dataset } from "../data/dataset.ts";
 * import type { Classifier } from "../models/classifier.ts";
 * import { buildNonRobustDataset } from "./non_robust.ts";
 * declare const standard: { classifier: Classifier }, trainSubset: Dataset;
 * const dRand = await buildNonRobustDataset(standard.classifier, trainSubset, { rule: "rand", eps: 2.5, steps: 100 });
 * console.log(dRand.successRate);
 * ```
 */
export async function buildNonRobustDataset(
  model: Classifier,
  source: Dataset,
  options: NonRobustOptions,
): Promise<NonRobustDataset> {
  const plan = nonRobustPlan(source, options);
  const { rule } = plan;
  const built = await buildInChunks(
    chunkedFrom(source, options, {
      name: `${source.name} D_${rule}`,
      total: plan.n,
      config: plan.config,
      label: `build D_${rule} (${source.name})`,
    }),
    attackChunk(model, source, plan),
  );
  return nonRobustResult(built, source);
}
