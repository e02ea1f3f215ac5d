/**
 * The loop every batched pass over a dataset shares: the batch as tensors (disposed afterwards, also when
 * the work throws), progress with an estimate of the time left, and a yield to the event loop between
 * batches, so that a notebook's progress display and timers get their turn.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { createProgress, type ProgressMode } from "../util/progress.ts";
import { type Dataset, imagesTensor, labelsTensor, size } from "./dataset.ts";

/** One batch of {@linkcode forEachBatch}: examples [start, end) as tensors, owned by the loop. */
export interface Batch {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  start: number;
  end: number;
}

/** Options of {@linkcode forEachBatch}. */
export interface ForEachBatchOptions {
  /** Examples per batch. */
  batchSize: number;
  /** Progress label; progress is shown only when given. */
  label?: string;
  /** What the progress counts. Default "examples". */
  unit?: string;
  progress?: ProgressMode;
  /** A note shown with the progress after each batch (e.g. the accuracy so far). */
  note?: () => string | undefined;
  /** Only the examples [from, to) of `data`. Default: all. */
  from?: number;
  to?: number;
}

/** The yield between batches. */
export function nextTick(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/** Options of {@linkcode forEachRange}: those of {@linkcode forEachBatch} without the example range. */
export type ForEachRangeOptions = Omit<ForEachBatchOptions, "from" | "to">;

/**
 * Calls `fn(start, end)` on each range of at most `batchSize` of [from, to), in order, with progress and a
 * yield between ranges: the loop of {@linkcode forEachBatch} for work that needs no tensors.
 */
export async function forEachRange(
  from: number,
  to: number,
  options: ForEachRangeOptions,
  fn: (start: number, end: number) => void | Promise<void>,
): Promise<void> {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`forEachBatch: batchSize must be an integer >= 1, got ${batchSize}`);
  }
  const progress = options.label
    ? createProgress({
      label: options.label,
      total: Math.max(0, to - from),
      unit: options.unit ?? "examples",
      mode: options.progress,
    })
    : undefined;
  for (let start = from; start < to; start += batchSize) {
    const end = Math.min(to, start + batchSize);
    await fn(start, end);
    progress?.update(end - from, options.note?.());
    await nextTick();
  }
  await progress?.finish();
}

/**
 * Calls `fn` on each batch of `data` in order. The batch's tensors are disposed after `fn` returns or
 * throws; what `fn` makes is its own to dispose.
 *
 * @example
 * ```ts
 * import type { Classifier } from "../models/classifier.ts";
 * import { predictLabels } from "../attacks/loss.ts";
 * import { forEachBatch } from "./batches.ts";
 * import type { Dataset } from "./dataset.ts";
 * declare const model: Classifier, test: Dataset;
 * let right = 0;
 * await forEachBatch(test, { batchSize: 256, label: "accuracy" }, ({ x, start, end }) => {
 *   const pred = predictLabels(model, x);
 *   for (let i = start; i < end; i++) right += pred[i - start] === test.labels[i] ? 1 : 0;
 * });
 * ```
 */
export function forEachBatch(
  data: Dataset,
  options: ForEachBatchOptions,
  fn: (batch: Batch) => void | Promise<void>,
): Promise<void> {
  const to = Math.min(size(data), options.to ?? size(data));
  return forEachRange(options.from ?? 0, to, options, async (start, end) => {
    const x = imagesTensor(data, start, end);
    const y = labelsTensor(data, start, end);
    try {
      await fn({ x, y, start, end });
    } finally {
      x.dispose();
      y.dispose();
    }
  });
}
