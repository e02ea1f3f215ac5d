/**
 * Evaluation: clean accuracy and empirical risk, robust accuracy and adversarial risk under any attack, and
 * accuracy over a list of epsilons.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { crossEntropy } from "../attacks/loss.ts";
import type { Attack } from "../attacks/types.ts";
import { type Dataset, size } from "../data/dataset.ts";
import { forEachBatch } from "../data/batches.ts";
import type { Classifier } from "../models/classifier.ts";
import type { ProgressMode } from "../util/progress.ts";

/** Options of {@linkcode evaluate}. */
export interface EvaluateOptions {
  /** Examples per batch. Default 256. */
  batchSize?: number;
  /** Attack each batch first; absent means clean evaluation. */
  attack?: Attack;
  /** Progress label; progress is shown only when given. */
  label?: string;
  progress?: ProgressMode;
}

/** Accuracy and risk on a dataset, clean or under attack. */
export interface Evaluation {
  /** Share of examples classified correctly (at the adversarial point when attacked). */
  accuracy: number;
  /** Mean cross-entropy: the empirical risk (clean) or the adversarial risk estimate (attacked). */
  loss: number;
  /** Number of examples. */
  n: number;
  /** Share of examples the attack fooled (attacked only). */
  attackSuccess?: number;
  /** Per-example correctness. */
  correct: Uint8Array;
  seconds: number;
}

/**
 * Evaluates `model` on `data`, clean or under `attack`.
 *
 * @example
 * ```ts
 * import type { Classifier } from "../models/classifier.ts";
 * import type { Dataset } from "../data/dataset.ts";
 * import { makeAttack } from "../attacks/make.ts";
 * import { evaluate } from "./evaluate.ts";
 * declare const classifier: Classifier, testSet: Dataset;
 * const clean = await evaluate(classifier, testSet);
 * const robust = await evaluate(classifier, testSet, { attack: makeAttack({ kind: "pgd", eps: 0.3, steps: 40 }) });
 * ```
 */
export async function evaluate(
  model: Classifier,
  data: Dataset,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const n = size(data);
  const batchSize = options.batchSize ?? 256;
  const t0 = performance.now();
  const correct = new Uint8Array(n);
  let lossSum = 0;
  let fooled = 0;
  await forEachBatch(data, { batchSize, label: options.label, progress: options.progress }, async (b) => {
    let inputs = b.x;
    if (options.attack) {
      const result = options.attack(model, b.x, b.y);
      inputs = result.adversarial;
      for (const s of result.success) fooled += s;
    }
    try {
      const [lossT, predT] = tf.tidy(() => {
        const logits = model(inputs);
        return [tf.sum(crossEntropy(logits, b.y)), tf.argMax(logits, 1)];
      });
      try {
        lossSum += (await lossT.data())[0];
        const pred = await predT.data();
        for (let i = b.start; i < b.end; i++) correct[i] = pred[i - b.start] === data.labels[i] ? 1 : 0;
      } finally {
        tf.dispose([lossT, predT]);
      }
    } finally {
      if (inputs !== b.x) inputs.dispose();
    }
  });
  const right = correct.reduce((a, b) => a + b, 0);
  return {
    accuracy: n ? right / n : 0,
    loss: n ? lossSum / n : 0,
    n,
    attackSuccess: options.attack ? fooled / n : undefined,
    correct,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** One point of an accuracy-versus-epsilon curve. */
export interface EpsPoint {
  eps: number;
  accuracy: number;
  loss: number;
}

/**
 * Accuracy under `attackAt(eps)` for each epsilon (eps = 0 evaluates clean data, with no attack).
 */
export async function accuracyVsEps(
  model: Classifier,
  data: Dataset,
  epsilons: number[],
  attackAt: (eps: number) => Attack,
  options: Omit<EvaluateOptions, "attack"> = {},
): Promise<EpsPoint[]> {
  const rows: EpsPoint[] = [];
  for (const eps of epsilons) {
    const e = await evaluate(model, data, {
      ...options,
      attack: eps > 0 ? attackAt(eps) : undefined,
      label: options.label ? `${options.label} eps=${eps}` : undefined,
    });
    rows.push({ eps, accuracy: e.accuracy, loss: e.loss });
  }
  return rows;
}
