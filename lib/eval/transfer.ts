/**
 * Transfer attacks: adversarial examples crafted with the gradients of one model (the source) and shown to
 * others (the targets), which the attacker never queries while crafting.
 *
 * The transfer rate of a target is the share of the source's successful adversarial examples that also fool
 * the target. By default only examples the source classifies correctly before the attack count as source
 * successes: an example it already gets wrong is no success of the attack. Targets may be tfjs classifiers
 * or anything that predicts labels, such as an onnxruntime session.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { type Dataset, pixelsPerImage, size } from "../data/dataset.ts";
import { forEachBatch } from "../data/batches.ts";
import type { Classifier } from "../models/classifier.ts";
import type { ProgressMode } from "../util/progress.ts";
import { predictLabels } from "../attacks/loss.ts";
import type { Attack } from "../attacks/types.ts";

/** Predicts the classes of a batch of images `[N, H, W, C]`; may answer asynchronously. */
export type LabelPredictor = (images: tf.Tensor4D) => Int32Array | Promise<Int32Array>;

/** A model examples are transferred to: a tfjs classifier, or an object that predicts labels. */
export type TransferTarget = Classifier | { predict: LabelPredictor };

/** Options of {@linkcode transferAttack}. */
export interface TransferOptions {
  /** Examples attacked at once. Default 128. */
  batchSize?: number;
  /** Count only examples the source classifies correctly before the attack as its successes. Default true. */
  onlyCorrect?: boolean;
  /** Also return the adversarial images (NHWC floats, in the dataset's order). Default false. */
  keepAdversarial?: boolean;
  /**
   * Judges the source's clean and adversarial predictions with this instead of the source classifier
   * (e.g. the same network in an onnxruntime session); the attack still runs on the source's gradients.
   */
  sourcePredictor?: TransferTarget;
  /** Progress label; progress is shown only when given. */
  label?: string;
  progress?: ProgressMode;
}

/** How one target fares on the source's adversarial examples. */
export interface TransferTargetResult {
  name: string;
  /** Accuracy on the clean examples. */
  cleanAccuracy: number;
  /** Accuracy on the adversarial examples (all of them, successful on the source or not). */
  adversarialAccuracy: number;
  /** Number of source successes that also fool this target. */
  transferred: number;
  /** `transferred` divided by the number of source successes (0 when there are none). */
  transferRate: number;
  /** The same rate among source successes this target classified correctly before the attack. */
  transferRateOnCorrect: number;
  /** Per example: 1 where a source success also fools this target. */
  fooled: Uint8Array;
}

/** What {@linkcode transferAttack} measured. */
export interface TransferReport {
  /** Examples attacked. */
  n: number;
  sourceCleanAccuracy: number;
  sourceAdversarialAccuracy: number;
  /** Examples that could count as source successes: all, or those the source got right (`onlyCorrect`). */
  eligible: number;
  /** Number of source successes: eligible examples the source misclassifies after the attack. */
  sourceSuccesses: number;
  /** `sourceSuccesses / eligible`: the white-box success rate on the source. */
  sourceSuccessRate: number;
  /** Per example: 1 for a source success. */
  success: Uint8Array;
  targets: TransferTargetResult[];
  /** The adversarial images, when `keepAdversarial` was set. */
  adversarial?: Float32Array;
  seconds: number;
}

async function predictWith(target: TransferTarget, x: tf.Tensor4D): Promise<Int32Array> {
  return typeof target === "function" ? predictLabels(target, x) : await target.predict(x);
}

/**
 * Crafts adversarial examples for `data` against `source` with `attack` (untargeted, judged against the
 * dataset's labels) and measures how each target classifies them.
 *
 * @example
 * ```ts
 * import type { Classifier } from "../models/classifier.ts";
 * import type { Dataset } from "../data/dataset.ts";
 * import { makeAttack } from "../attacks/make.ts";
 * import type { OrtModel } from "../onnx/ort_session.ts";
 * import { transferAttack } from "./transfer.ts";
 * declare const resnet: { classifier: Classifier }, mlp: { classifier: Classifier }, ortCnn: OrtModel;
 * declare const testSet: Dataset;
 * const report = await transferAttack(resnet.classifier, { mlp: mlp.classifier, cnn: ortCnn }, testSet,
 *   makeAttack({ kind: "pgd", eps: 0.2, steps: 20 }));
 * report.targets.map((t) => [t.name, t.transferRate]);
 * ```
 */
export async function transferAttack(
  source: Classifier,
  targets: Record<string, TransferTarget>,
  data: Dataset,
  attack: Attack,
  options: TransferOptions = {},
): Promise<TransferReport> {
  const n = size(data);
  const batchSize = options.batchSize ?? 128;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`transferAttack: batchSize must be an integer >= 1, got ${batchSize}`);
  }
  const onlyCorrect = options.onlyCorrect ?? true;
  const names = Object.keys(targets);
  const t0 = performance.now();
  const p = await collectPredictions(source, targets, names, data, attack, n, batchSize, options);
  const labels = data.labels;
  const tally = sourceTally(labels, p.sourceClean, p.sourceAdv, onlyCorrect);
  const results = names.map((name, k) =>
    targetResult(name, p.clean[k], p.adv[k], labels, tally.success, tally.successes)
  );
  return {
    n,
    sourceCleanAccuracy: n ? tally.srcRight / n : 0,
    sourceAdversarialAccuracy: n ? tally.srcAdvRight / n : 0,
    eligible: tally.eligible,
    sourceSuccesses: tally.successes,
    sourceSuccessRate: tally.eligible ? tally.successes / tally.eligible : 0,
    success: tally.success,
    targets: results,
    adversarial: p.kept,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The labels the source (or its judge) and every target predict, clean and adversarial, per example. */
interface Predictions {
  sourceClean: Int32Array;
  sourceAdv: Int32Array;
  /** Per target (in the order of `names`): its predictions on the clean examples. */
  clean: Int32Array[];
  /** Per target: its predictions on the adversarial examples. */
  adv: Int32Array[];
  /** The adversarial images, when `keepAdversarial` was set. */
  kept?: Float32Array;
}

/** Attacks `data` batch by batch and records every model's predictions (and the images, if kept). */
async function collectPredictions(
  source: Classifier,
  targets: Record<string, TransferTarget>,
  names: string[],
  data: Dataset,
  attack: Attack,
  n: number,
  batchSize: number,
  options: TransferOptions,
): Promise<Predictions> {
  const per = pixelsPerImage(data);
  const kept = options.keepAdversarial ? new Float32Array(n * per) : undefined;
  const sourceClean = new Int32Array(n);
  const sourceAdv = new Int32Array(n);
  const clean = names.map(() => new Int32Array(n));
  const adv = names.map(() => new Int32Array(n));
  await forEachBatch(
    data,
    { batchSize, label: options.label, progress: options.progress },
    async ({ x, y, start }) => {
      const judge = options.sourcePredictor;
      sourceClean.set(judge ? await predictWith(judge, x) : predictLabels(source, x), start);
      const result = attack(source, x, y);
      try {
        sourceAdv.set(judge ? await predictWith(judge, result.adversarial) : result.predictions, start);
        if (kept) kept.set(await result.adversarial.data() as Float32Array, start * per);
        for (let k = 0; k < names.length; k++) {
          clean[k].set(await predictWith(targets[names[k]], x), start);
          adv[k].set(await predictWith(targets[names[k]], result.adversarial), start);
        }
      } finally {
        result.adversarial.dispose();
      }
    },
  );
  return { sourceClean, sourceAdv, clean, adv, kept };
}

/** Counts the source's clean and adversarial hits, the eligible examples and the source successes. */
function sourceTally(
  labels: Int32Array,
  sourceClean: Int32Array,
  sourceAdv: Int32Array,
  onlyCorrect: boolean,
): { success: Uint8Array; eligible: number; successes: number; srcRight: number; srcAdvRight: number } {
  const n = sourceClean.length;
  const success = new Uint8Array(n);
  let eligible = 0;
  let successes = 0;
  let srcRight = 0;
  let srcAdvRight = 0;
  for (let i = 0; i < n; i++) {
    const right = sourceClean[i] === labels[i];
    if (right) srcRight++;
    if (sourceAdv[i] === labels[i]) srcAdvRight++;
    if (onlyCorrect && !right) continue;
    eligible++;
    if (sourceAdv[i] !== labels[i]) {
      success[i] = 1;
      successes++;
    }
  }
  return { success, eligible, successes, srcRight, srcAdvRight };
}

/** How one target's clean and adversarial predictions fare against the labels and the source successes. */
function targetResult(
  name: string,
  clean: Int32Array,
  adv: Int32Array,
  labels: Int32Array,
  success: Uint8Array,
  successes: number,
): TransferTargetResult {
  const n = success.length;
  const fooled = new Uint8Array(n);
  let transferred = 0;
  let cleanRight = 0;
  let advRight = 0;
  let onCorrect = 0;
  let onCorrectFooled = 0;
  for (let i = 0; i < n; i++) {
    if (clean[i] === labels[i]) cleanRight++;
    if (adv[i] === labels[i]) advRight++;
    if (!success[i]) continue;
    const wrong = adv[i] !== labels[i];
    if (wrong) {
      fooled[i] = 1;
      transferred++;
    }
    if (clean[i] === labels[i]) {
      onCorrect++;
      if (wrong) onCorrectFooled++;
    }
  }
  return {
    name,
    cleanAccuracy: n ? cleanRight / n : 0,
    adversarialAccuracy: n ? advRight / n : 0,
    transferred,
    transferRate: successes ? transferred / successes : 0,
    transferRateOnCorrect: onCorrect ? onCorrectFooled / onCorrect : 0,
    fooled,
  };
}
