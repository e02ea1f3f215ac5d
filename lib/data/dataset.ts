/**
 * The in-memory dataset type: images as floats in [0, 1] laid out [N, H, W, C], integer labels, class names.
 * Kept as typed arrays (not tensors) so that nothing needs disposing; batches become tensors on demand.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A labelled image dataset held in memory. */
export interface Dataset {
  /** A short name, e.g. "mnist/train" or "fashion-mnist/test[0,6]". */
  name: string;
  /** Pixels in [0, 1], row-major [n, height, width, channels]. */
  images: Float32Array;
  /** Integer labels in [0, classes.length). */
  labels: Int32Array;
  /** [height, width, channels]. */
  shape: [number, number, number];
  /** Class names, indexed by label. */
  classes: string[];
  /**
   * The key of the data spec it was resolved from (see `resolveTrainData`), when it was; datasets made
   * otherwise have none.
   */
  origin?: string;
}

/** Number of examples in `ds`. */
export function size(ds: Dataset): number {
  return ds.labels.length;
}

/** Pixels per example. */
export function pixelsPerImage(ds: Dataset): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

/** Builds a dataset from its parts, checking that the sizes agree. */
export function makeDataset(
  name: string,
  images: Float32Array,
  labels: Int32Array,
  shape: [number, number, number],
  classes: string[],
): Dataset {
  const per = shape[0] * shape[1] * shape[2];
  if (images.length !== labels.length * per) {
    throw new RangeError(
      `${name}: ${images.length} pixels do not make ${labels.length} images of ${shape.join("x")}`,
    );
  }
  for (const l of labels) {
    if (!(l >= 0 && l < classes.length)) {
      throw new RangeError(`${name}: label ${l} outside [0, ${classes.length})`);
    }
  }
  return { name, images, labels, shape, classes };
}

/** The examples at `indices` as a new dataset (copies). */
export function take(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const per = pixelsPerImage(ds);
  const images = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    images.set(ds.images.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = ds.labels[j];
  }
  return { name, images, labels, shape: ds.shape, classes: ds.classes };
}

/** The examples [start, end) as a dataset sharing memory with `ds`. */
export function slice(ds: Dataset, start: number, end: number): Dataset {
  const per = pixelsPerImage(ds);
  const e = Math.min(end, size(ds));
  return {
    name: ds.name,
    images: ds.images.subarray(start * per, e * per),
    labels: ds.labels.subarray(start, e),
    shape: ds.shape,
    classes: ds.classes,
  };
}

/** Images [start, end) as a [n, H, W, C] tensor (the caller disposes it). */
export function imagesTensor(ds: Dataset, start = 0, end = size(ds)): tf.Tensor4D {
  const s = slice(ds, start, end);
  return tf.tensor4d(s.images, [size(s), ...ds.shape]);
}

/** Labels [start, end) as an int32 tensor (the caller disposes it). */
export function labelsTensor(ds: Dataset, start = 0, end = size(ds)): tf.Tensor1D {
  return tf.tensor1d(slice(ds, start, end).labels, "int32");
}

/** Number of examples of each class. */
export function classCounts(ds: Dataset): number[] {
  const counts = new Array(ds.classes.length).fill(0);
  for (const l of ds.labels) counts[l]++;
  return counts;
}
