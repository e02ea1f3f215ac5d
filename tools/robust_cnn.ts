/**
 * Trains a robust MNIST network on the CPU and measures it as Madry et al. do: the scale-16 Madry CNN on the
 * full training set with PGD adversarial training at eps = 0.3 (PGD-k from a random start), then its clean
 * accuracy on the whole test set and its accuracy under FGSM and under PGD-100 with 20 random restarts
 * (steps of 0.01) on a stratified subset of it; then AutoAttack `standard` (APGD-CE, APGD-T, FAB-T, Square;
 * the authors' budget) on the first `--autoattack-size` images of that subset, beside PGD's accuracy on the
 * same images, with the gap in points (Madry et al.'s network: 89.62% under PGD, 88.50% under AutoAttack).
 *
 * ```
 * deno task robust [--epochs 7] [--pgd-train-steps 10] [--eval-size 1000] [--restarts 20]
 *                  [--autoattack-size 1000] [--progress auto|terminal|silent]
 * ```
 *
 * Madry et al. train with PGD-40 for about 83 epochs (batch 50, Adam at 1e-4), a GPU's work. The defaults
 * here are a schedule for 2 CPU cores: PGD-10 with steps of 0.05 and the radius ramped up over the first
 * tenth of the steps, 7 epochs at batch 100, Adam at 1e-3 with a cosine decay (about 32 minutes of training
 * on 2 cores and 11 of evaluation, plus AutoAttack's 20; `--autoattack-size 0` skips it). The model is cached
 * under its configuration and an interrupted run resumes from its last checkpoint; the numbers go to the
 * results artifact `robust-cnn-<epochs>ep-pgd<k>`.
 * @module
 */
import { parseArgs } from "node:util";
import { describeBackend, initBackend } from "../lib/backend/mod.ts";
import type { Dataset } from "../lib/data/mod.ts";
import { evaluate, robustEvaluate, type RobustEvaluation } from "../lib/eval/mod.ts";
import {
  type AutoAttackBesidePgd,
  autoAttackBesidePgd,
  gapPoints,
  robustCnnJob,
} from "../lib/experiments/adversarial_training.ts";
import type { Classifier, ForwardLogits } from "../lib/models/mod.ts";
import { withOrtForward } from "../lib/onnx/mod.ts";
import { pct, saveResults } from "../lib/report/mod.ts";
import { type SubsetDataSpec, testData, trainCached, type TrainJob } from "../lib/train/mod.ts";
import type { ProgressMode } from "../lib/util/mod.ts";

/** The tool's settings, from the command line. */
export interface RobustCnnOptions {
  epochs: number;
  pgdTrainSteps: number;
  evalSize: number;
  restarts: number;
  /** AutoAttack runs on the first this many images of the evaluation subset (0: not at all). */
  autoAttackSize: number;
  progress: ProgressMode;
}

/** Parses the command line; throws a RangeError naming a bad value. */
export function parseRobustArgs(args: string[]): RobustCnnOptions {
  const { values } = parseArgs({
    args,
    options: {
      "epochs": { type: "string", default: "7" },
      "pgd-train-steps": { type: "string", default: "10" },
      "eval-size": { type: "string", default: "1000" },
      "restarts": { type: "string", default: "20" },
      "autoattack-size": { type: "string", default: "1000" },
      "progress": { type: "string", default: "auto" },
    },
    strict: true,
  });
  const count = (name: string, min: number, max: number) => {
    const text = values[name as keyof typeof values] as string;
    const v = Number(text);
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(`--${name} must be an integer from ${min} to ${max}, got '${text}'`);
    }
    return v;
  };
  const progress = values.progress as string;
  if (!["auto", "terminal", "silent"].includes(progress)) {
    throw new RangeError(`--progress must be auto, terminal or silent, got '${progress}'`);
  }
  const evalSize = count("eval-size", 10, 10000);
  const autoAttackSize = count("autoattack-size", 0, 10000);
  if (autoAttackSize > evalSize) {
    throw new RangeError(
      `--autoattack-size (${autoAttackSize}) must be at most --eval-size (${evalSize}): AutoAttack runs on the ` +
        "first images of the evaluation subset",
    );
  }
  return {
    epochs: count("epochs", 1, 1000),
    pgdTrainSteps: count("pgd-train-steps", 1, 1000),
    evalSize,
    restarts: count("restarts", 1, 1000),
    autoAttackSize,
    progress: progress as ProgressMode,
  };
}

/** The training job (and cache key) of a run: {@linkcode robustCnnJob} with the run's epochs and PGD steps. */
export function robustJob(opts: RobustCnnOptions): TrainJob<SubsetDataSpec> {
  return robustCnnJob(opts.epochs, opts.pgdTrainSteps);
}

/** Budget overrides of {@linkcode measureRobust}, for quick runs and tests (defaults: the evaluation's). */
export interface RobustBudget {
  /** PGD steps. Default 100 (steps of 0.01; a shorter PGD takes steps of 0.75 / steps). */
  pgdSteps?: number;
  /** A forward-only path to the model's logits for AutoAttack's Square and FAB-T (onnxruntime's, here). */
  forward?: ForwardLogits;
  /** What `forward` runs on, for the results, e.g. "onnxruntime (cpu)". */
  forwardName?: string;
  /** AutoAttack's APGD and FAB iterations, target classes and Square queries. Default 100, 9 and 5000. */
  steps?: number;
  targetClasses?: number;
  squareQueries?: number;
}

/** What {@linkcode measureRobust} measured. */
export interface RobustMeasurement {
  robust: RobustEvaluation;
  /** What ran the forward-only passes (Square's, FAB-T's), e.g. "onnxruntime (cpu)"; absent: tfjs. */
  squareForward?: string;
  /** AutoAttack beside PGD on the first `autoAttackSize` images; absent when `autoAttackSize` is 0. */
  autoAttack?: AutoAttackBesidePgd;
}

/**
 * FGSM and PGD-100 with `opts.restarts` restarts at eps 0.3 on `subset` (the worst case per example), then
 * AutoAttack `standard` on its first `opts.autoAttackSize` images beside PGD on the same images.
 */
export async function measureRobust(
  classifier: Classifier,
  subset: Dataset,
  opts: RobustCnnOptions,
  budget: RobustBudget = {},
): Promise<RobustMeasurement> {
  const pgdSteps = budget.pgdSteps ?? 100;
  const robust = await robustEvaluate(classifier, subset, {
    attacks: [
      { kind: "fgsm", eps: 0.3 },
      {
        kind: "pgd",
        eps: 0.3,
        steps: pgdSteps,
        stepSize: Math.max(0.01, 0.75 / pgdSteps),
        restarts: opts.restarts,
      },
    ],
    seed: 11,
    label: "evaluate",
    progress: opts.progress,
  });
  if (opts.autoAttackSize === 0) return { robust };
  const autoAttack = await autoAttackBesidePgd(classifier, subset, robust, {
    eps: 0.3,
    testSize: opts.autoAttackSize,
    steps: budget.steps,
    targetClasses: budget.targetClasses,
    squareQueries: budget.squareQueries,
    seed: 13,
    // One batch (at most 1,000 images): the fastest on 2 cores, as for `deno task bench --tasks autoattack`.
    batchSize: Math.min(opts.autoAttackSize, 1000),
    forward: budget.forward,
    label: "AutoAttack",
    progress: opts.progress,
  });
  return { robust, autoAttack, squareForward: budget.forwardName };
}

/** The results artifact's AutoAttack part: accuracies on the same images, the gap, each attack, the flags. */
export function autoAttackSummary(m: RobustMeasurement): Record<string, unknown> | undefined {
  const a = m.autoAttack;
  if (!a) return undefined;
  return {
    n: a.n,
    cleanAccuracy: a.clean,
    pgdAccuracy: a.pgd,
    autoAttackAccuracy: a.autoAttack,
    gapPoints: Number((100 * a.gap).toFixed(2)),
    worstCase: a.worstCase,
    /** AutoAttack's wall time (clean pass and checks included). */
    seconds: Math.round(a.result.seconds),
    squareForward: m.squareForward ?? "tfjs",
    perAttack: a.result.perAttack.map((s) => ({
      name: s.name,
      attacked: s.attacked,
      broken: s.broken,
      robustAccuracy: s.robustAccuracy,
      seconds: Math.round(s.seconds),
    })),
    flags: a.result.flags.map((f) => f.message),
  };
}

/** The closing line's AutoAttack sentence, with the gap in points; "" when AutoAttack did not run. */
export function autoAttackLine(m: RobustMeasurement): string {
  const a = m.autoAttack;
  if (!a) return "";
  const pgdName = m.robust.attacks.findLast((x) => x.spec.kind === "pgd")!.name;
  return `on the first ${a.n}, ${pct(a.autoAttack)} under AutoAttack standard against ${pct(a.pgd)} under ` +
    `${pgdName}: a gap of ${gapPoints(a.gap)} points (AutoAttack took ${
      (a.result.seconds / 60).toFixed(1)
    } min)` +
    (a.result.flags.length ? ` (flags: ${a.result.flags.map((f) => f.name).join("; ")})` : "");
}

if (import.meta.main) {
  let opts: RobustCnnOptions;
  try {
    opts = parseRobustArgs(Deno.args);
  } catch (e) {
    console.error(`robust_cnn: ${(e as Error).message}`);
    Deno.exit(2);
  }
  const backend = await initBackend();
  console.error(`robust_cnn: ${describeBackend(backend)}`);
  const t0 = performance.now();
  const trained = await trainCached(robustJob(opts), { progress: opts.progress });
  const trainSeconds = (performance.now() - t0) / 1000;
  const clean = await evaluate(trained.classifier, await testData({ dataset: "mnist" }));
  const subset = await testData({ dataset: "mnist", testSize: opts.evalSize, seed: 0 });
  const measured = opts.autoAttackSize === 0
    ? await measureRobust(trained.classifier, subset, opts)
    : await withOrtForward(trained.model, ({ forward, name, fallback }) => {
      if (fallback) console.error(`robust: ${fallback}; the forward-only passes use tfjs`);
      return measureRobust(trained.classifier, subset, opts, { forward, forwardName: name });
    });
  const { robust } = measured;
  const summary = {
    job: robustJob(opts),
    backend: describeBackend(backend),
    trainSeconds: trained.fromCache ? undefined : Math.round(trainSeconds),
    fromCache: trained.fromCache,
    cleanAccuracyFullTest: clean.accuracy,
    evalSize: robust.n,
    cleanAccuracySubset: robust.clean,
    attacks: robust.attacks.map((a) => ({
      name: a.name,
      accuracy: a.accuracy,
      seconds: Math.round(a.seconds),
    })),
    robustAccuracy: robust.robustAccuracy,
    autoAttack: autoAttackSummary(measured),
  };
  const path = await saveResults("robust-cnn", `${opts.epochs}ep-pgd${opts.pgdTrainSteps}`, summary);
  console.log(JSON.stringify(summary));
  console.error(
    `robust_cnn: ${
      (clean.accuracy * 100).toFixed(2)
    }% clean on the 10,000 test images; on ${robust.n} of them ` +
      robust.attacks.map((a) => `${((a.accuracy ?? 0) * 100).toFixed(1)}% under ${a.name}`).join(", ") +
      (measured.autoAttack ? `; ${autoAttackLine(measured)}` : "") + `; results in ${path}`,
  );
}
