/**
 * Ilyas et al.'s robust dataset D_R: for each training image x, an image x_r whose representation under an
 * adversarially trained model matches that of x, found by gradient descent on ||g(x_r) - g(x)||_2 from
 * another training image (or from noise), pixels kept in [0, 1], and labelled like x. The robust model's
 * features are (mostly) robust ones, so x_r keeps the robust features of x and little else. The same
 * construction with a standard model's representation gives the paper's non-robust counterpart D_NR.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Dataset, imagesTensor, size, take } from "../data/dataset.ts";
import type { Representation } from "../models/representation.ts";
import { createPrng, randomInt } from "../random/prng.ts";
import { createOptimizer } from "../train/optimizers.ts";
import {
  buildInChunks,
  type ChunkBuilder,
  type ChunkedBuild,
  type ChunkedBuildOptions,
  chunkedFrom,
} from "./chunked.ts";

/** Options of {@linkcode invertRepresentation}. */
export interface InversionOptions {
  /** Gradient steps. */
  steps: number;
  /**
   * `"l2"`: normalised gradient steps of l2 length `stepSize` (the paper's method); `"adam"`: Adam on the
   * pixels with learning rate `stepSize`, which converges in far fewer steps. Default "l2".
   */
  method?: "l2" | "adam";
  /** Length (l2) of each normalised gradient step, or Adam's learning rate; with the cosine schedule, the first one. */
  stepSize: number;
  /** Step lengths: constant, or cosine decay from `stepSize` towards 0. Default "cosine". */
  schedule?: "constant" | "cosine";
}

/** The outcome of {@linkcode invertRepresentation}. */
export interface Inversion {
  /** The images found (the caller disposes them). */
  images: tf.Tensor4D;
  /** Per example, ||g(start) - target||_2. */
  initialDistance: Float32Array;
  /** Per example, ||g(images) - target||_2. */
  finalDistance: Float32Array;
}

/** Per-example Euclidean distance between the representation of `images` and the features `target`. */
export function representationDistance(
  representation: Representation,
  images: tf.Tensor4D,
  target: tf.Tensor2D,
): tf.Tensor1D {
  return tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.sub(representation(images), target)), 1)) as tf.Tensor1D);
}

/** The step length at `step` of `steps` under `schedule`. */
function stepLength(options: InversionOptions, step: number): number {
  const schedule = options.schedule ?? "cosine";
  if (schedule === "constant") return options.stepSize;
  if (schedule === "cosine") return 0.5 * options.stepSize * (1 + Math.cos(Math.PI * step / options.steps));
  throw new RangeError(`invertRepresentation: unknown schedule ${JSON.stringify(schedule)}`);
}

/**
 * Gradient descent on ||g(x_r) - target||_2 from `start`, every image on its own: with method "l2" each step
 * moves an image by `stepSize` (in l2) against its gradient, with "adam" by an Adam update of learning rate
 * `stepSize`; the pixels are clipped to [0, 1] after every step.
 */
export async function invertRepresentation(
  representation: Representation,
  target: tf.Tensor2D,
  start: tf.Tensor4D,
  options: InversionOptions,
): Promise<Inversion> {
  const { steps } = options;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`invertRepresentation: steps must be an integer >= 0, got ${steps}`);
  }
  if (!(options.stepSize >= 0)) {
    throw new RangeError(`invertRepresentation: stepSize must be >= 0, got ${options.stepSize}`);
  }
  if (start.shape[0] !== target.shape[0]) {
    throw new RangeError(
      `invertRepresentation: ${start.shape[0]} starting images for ${target.shape[0]} target representations`,
    );
  }
  const n = start.shape[0];
  const objective = (x: tf.Tensor) =>
    // The small constant keeps the gradient finite where the distance reaches 0.
    tf.sum(tf.sqrt(tf.add(tf.sum(tf.square(tf.sub(representation(x as tf.Tensor4D), target)), 1), 1e-12)));
  const gradient = tf.grad(objective);
  const d0 = representationDistance(representation, start, target);
  const initialDistance = Float32Array.from(await d0.data());
  d0.dispose();
  const method = options.method ?? "l2";
  if (method !== "l2" && method !== "adam") {
    throw new RangeError(
      `invertRepresentation: method must be "l2" or "adam", got ${JSON.stringify(method)}`,
    );
  }
  let x = tf.clone(start);
  if (method === "adam" && steps > 0) {
    const v = tf.variable(x, true);
    const adam = createOptimizer({ name: "adam", learningRate: options.stepSize }, [v]);
    for (let s = 0; s < steps; s++) {
      adam.setLearningRate(Math.max(stepLength(options, s), 1e-12));
      tf.tidy(() => {
        adam.apply([gradient(v)]);
        v.assign(tf.clipByValue(v, 0, 1));
      });
      if (s % 20 === 19) await new Promise((r) => setTimeout(r, 0));
    }
    adam.dispose();
    x.dispose();
    x = tf.clone(v) as tf.Tensor4D;
    v.dispose();
  }
  for (let s = 0; method === "l2" && s < steps; s++) {
    const size = stepLength(options, s);
    const next = tf.tidy(() => {
      const g = gradient(x) as tf.Tensor4D;
      const norm = tf.sqrt(tf.sum(tf.square(g.reshape([n, -1])), 1)).reshape([n, 1, 1, 1]);
      return tf.clipByValue(tf.sub(x, tf.mul(tf.div(g, tf.maximum(norm, 1e-12)), size)), 0, 1) as tf.Tensor4D;
    });
    x.dispose();
    x = next;
    if (s % 20 === 19) await new Promise((r) => setTimeout(r, 0));
  }
  const d1 = representationDistance(representation, x, target);
  const finalDistance = Float32Array.from(await d1.data());
  d1.dispose();
  return { images: x, initialDistance, finalDistance };
}

/** Options of {@linkcode buildRobustDataset}. */
export interface RobustOptions extends InversionOptions, ChunkedBuildOptions {
  /**
   * Where the descent starts: `"image"`, another training image drawn at random (the paper's choice), or
   * `"noise"`, uniform noise in `noiseRange`. Default "image".
   */
  start?: "image" | "noise";
  /** Range of the starting noise. Default [0, 1]. */
  noiseRange?: [number, number];
  /** Seed of the starting points. Default 0. */
  seed?: number;
  /** Images optimised at once. Default 250. */
  batchSize?: number;
}

/** A constructed dataset of matched representations and how well they were matched. */
export interface RobustDataset {
  /** The images found, labelled like the images whose representation they match. */
  dataset: Dataset;
  /** Per image, the index of the training image the descent started from (-1: noise). */
  startIndex: Int32Array;
  /** Per image, the representation distance at the start. */
  initialDistance: Float32Array;
  /** Per image, the representation distance reached. */
  finalDistance: Float32Array;
  /** Per image, the norm of the representation being matched, ||g(x)||_2. */
  featureNorm: Float32Array;
  /** Mean distance at the start. */
  meanInitialDistance: number;
  /** Mean distance reached. */
  meanFinalDistance: number;
  /** Mean of the distance reached relative to ||g(x)||_2. */
  meanRelativeDistance: number;
  /** Whether every chunk is done (false only when stopped by `stopAfterChunks`). */
  finished: boolean;
  /** Whether it was loaded from `dir` rather than built. */
  fromCache: boolean;
  /** Seconds the construction took (over all the calls that built it). */
  seconds: number;
}

/** Start indices: for each example, another example drawn uniformly at random. */
function startIndices(n: number, seed: number): Int32Array {
  const prng = createPrng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = n > 1 ? (i + 1 + randomInt(prng, n - 1)) % n : i;
  return out;
}

const mean = (v: ArrayLike<number>) => v.length ? Array.from(v).reduce((a, b) => a + b, 0) / v.length : 0;

/** The checked settings of one {@linkcode buildRobustDataset} call, with its start indices and recorded config. */
interface RobustPlan {
  n: number;
  start: "image" | "noise";
  lo: number;
  hi: number;
  seed: number;
  batchSize: number;
  schedule: "constant" | "cosine";
  starts: Int32Array;
  config: unknown;
}

/** Checks the start and noise range of `options` and derives the settings recorded with the construction. */
function robustPlan(source: Dataset, options: RobustOptions): RobustPlan {
  const n = size(source);
  const start = options.start ?? "image";
  if (start !== "image" && start !== "noise") {
    throw new RangeError(
      `buildRobustDataset: start must be "image" or "noise", got ${JSON.stringify(start)}`,
    );
  }
  const [lo, hi] = options.noiseRange ?? [0, 1];
  if (!(lo >= 0 && hi <= 1 && lo <= hi)) {
    throw new RangeError(`buildRobustDataset: noiseRange must lie within [0, 1], got [${lo}, ${hi}]`);
  }
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 250;
  const schedule = options.schedule ?? "cosine";
  const starts = start === "image" ? startIndices(n, seed) : new Int32Array(n).fill(-1);
  const config = {
    construction: "representation",
    steps: options.steps,
    stepSize: options.stepSize,
    schedule,
    method: options.method ?? "l2",
    start,
    noiseRange: start === "noise" ? [lo, hi] : null,
    seed,
    batchSize,
    data: { name: source.name, n, classes: source.classes.length },
    source: options.source ?? null,
  };
  return { n, start, lo, hi, seed, batchSize, schedule, starts, config };
}

/** The arrays one chunk of matched images fills, indexed from the chunk's first example. */
interface MatchedChunk {
  images: Float32Array;
  initial: Float32Array;
  final: Float32Array;
  norms: Float32Array;
}

/** Matches the representations of source images [b, e) and writes the results into `out` from `b - first`. */
async function matchBatch(
  representation: Representation,
  source: Dataset,
  options: RobustOptions,
  plan: RobustPlan,
  out: MatchedChunk,
  first: number,
  b: number,
  e: number,
): Promise<void> {
  const { start, starts, lo, hi, seed, schedule } = plan;
  const per = source.shape[0] * source.shape[1] * source.shape[2];
  const x = imagesTensor(source, b, e);
  const target = tf.tidy(() => representation(x));
  const x0 = start === "image"
    ? tf.tensor4d(take(source, starts.subarray(b, e)).images, [e - b, ...source.shape])
    // Each batch's noise has its own seed, so a chunk does not depend on the chunks before it.
    : tf.randomUniform([e - b, ...source.shape], lo, hi, "float32", seed * 1_000_003 + b) as tf.Tensor4D;
  const inv = await invertRepresentation(representation, target, x0 as tf.Tensor4D, {
    ...options,
    schedule,
  });
  const fn = tf.tidy(() => tf.sqrt(tf.sum(tf.square(target), 1)));
  out.images.set(await inv.images.data(), (b - first) * per);
  out.initial.set(inv.initialDistance, b - first);
  out.final.set(inv.finalDistance, b - first);
  out.norms.set(await fn.data(), b - first);
  tf.dispose([x, target, x0, inv.images, fn]);
}

/** The chunk builder of {@linkcode buildRobustDataset}: the chunk's batches matched in turn, with progress. */
function matchChunk(
  representation: Representation,
  source: Dataset,
  options: RobustOptions,
  plan: RobustPlan,
): ChunkBuilder {
  const per = source.shape[0] * source.shape[1] * source.shape[2];
  return async (first, end, _chunk, progress) => {
    const out: MatchedChunk = {
      images: new Float32Array((end - first) * per),
      initial: new Float32Array(end - first),
      final: new Float32Array(end - first),
      norms: new Float32Array(end - first),
    };
    for (let b = first; b < end; b += plan.batchSize) {
      const e = Math.min(end, b + plan.batchSize);
      await matchBatch(representation, source, options, plan, out, first, b, e);
      progress(e - first);
    }
    return {
      images: out.images,
      labels: source.labels.slice(first, end),
      columns: { initialDistance: out.initial, finalDistance: out.final, featureNorm: out.norms },
    };
  };
}

/** The {@linkcode RobustDataset} of a chunked build: its columns, the start indices of the images done, the means. */
function robustResult(built: ChunkedBuild, starts: Int32Array): RobustDataset {
  const done = size(built.dataset);
  const c = built.columns;
  const finalDistance = c.finalDistance ?? new Float32Array(0);
  const featureNorm = c.featureNorm ?? new Float32Array(0);
  return {
    dataset: built.dataset,
    startIndex: starts.slice(0, done),
    initialDistance: c.initialDistance ?? new Float32Array(0),
    finalDistance,
    featureNorm,
    meanInitialDistance: mean(c.initialDistance ?? []),
    meanFinalDistance: mean(finalDistance),
    meanRelativeDistance: mean(Array.from(finalDistance, (d, i) => d / Math.max(featureNorm[i], 1e-12))),
    finished: built.finished,
    fromCache: built.fromCache,
    seconds: built.seconds,
  };
}

/**
 * Builds the dataset of images matching `representation` on each image of `source` (D_R with an
 * adversarially trained model's representation, D_NR with a standard one's). Batched, with progress;
 * with `artifact` (or `dir`), committed chunk by chunk and resumable.
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import type { Dataset } from "../data/dataset.ts";
 * import { representationOf } from "../models/representation.ts";
 * import { buildRobustDataset } from "./robust.ts";
 * declare const robust: { model: tf.LayersModel }, trainSubset: Dataset;
 * const dR = await buildRobustDataset(representationOf(robust.model), trainSubset, { steps: 300, stepSize: 0.2 });
 * console.log(dR.meanInitialDistance, "->", dR.meanFinalDistance);
 * ```
 */
export async function buildRobustDataset(
  representation: Representation,
  source: Dataset,
  options: RobustOptions,
): Promise<RobustDataset> {
  const plan = robustPlan(source, options);
  const built = await buildInChunks(
    chunkedFrom(source, options, {
      name: `${source.name} matched`,
      total: plan.n,
      config: plan.config,
      label: `match representations (${source.name})`,
    }),
    matchChunk(representation, source, options, plan),
  );
  return robustResult(built, plan.starts);
}
