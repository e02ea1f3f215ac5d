/**
 * Sanity checks that flag gradient masking (lecture section 5.1; Athalye et al.'s checklist): a defence that
 * only hides its gradients looks robust to gradient attacks while it is not. Three symptoms are checked:
 *
 * 1. accuracy must fall as eps grows (under FGSM and under PGD): a flat or rising curve means the attack
 *    does not find the larger perturbations that must exist;
 * 2. PGD must not be weaker than FGSM: an iterative attack that does worse than its own first step is
 *    being misled by the gradient;
 * 3. an unbounded attack (a ball that holds the whole pixel range, where any image can be reached) must
 *    bring the accuracy to 0%.
 *
 * {@linkcode judgeMasking} applies the checks to measurements; {@linkcode checkGradientMasking} measures
 * them on a model.
 * @module
 */
import type { AttackSpec } from "../attacks/make.ts";
import { makeAttack } from "../attacks/make.ts";
import type { Norm } from "../attacks/threat.ts";
import type { Dataset } from "../data/dataset.ts";
import type { Classifier } from "../models/classifier.ts";
import type { ProgressMode } from "../util/progress.ts";
import { evaluate } from "./evaluate.ts";
import { pct } from "../report/format.ts";

/** Accuracy under FGSM and PGD at one radius. */
export interface MaskingPoint {
  eps: number;
  fgsm: number;
  pgd: number;
}

/** What the checks look at. */
export interface MaskingMeasurements {
  /** Clean accuracy. */
  clean: number;
  /** Accuracy under FGSM and PGD at increasing radii (eps > 0). */
  curve: MaskingPoint[];
  /** The radius of the unbounded attack. */
  unboundedEps: number;
  /** Accuracy under PGD at `unboundedEps`. */
  unbounded: number;
}

/** Thresholds of the checks. */
export interface MaskingTolerances {
  /** Allowed rise of accuracy from one radius to the next, and allowed lead of PGD over FGSM. Default 0.02. */
  tolerance?: number;
  /** Smallest fall from clean accuracy to the accuracy at the largest radius of the curve. Default 0.05. */
  minimumDrop?: number;
  /** Highest accuracy the unbounded attack may leave. Default 0.01. */
  unboundedMax?: number;
}

/** The outcome of one check. */
export interface MaskingCheck {
  /** Short identifier: "falls-with-eps", "pgd-not-weaker" or "unbounded-reaches-zero". */
  id: "falls-with-eps" | "pgd-not-weaker" | "unbounded-reaches-zero";
  /** What the check asks, in words. */
  name: string;
  passed: boolean;
  /** The numbers behind the verdict. */
  detail: string;
}

/** The checks on one model. */
export interface MaskingReport {
  checks: MaskingCheck[];
  /** True when any check failed: the model's robustness should not be trusted. */
  flagged: boolean;
  measurements: MaskingMeasurements;
}

/** Applies the three gradient-masking checks to `m`. */
export function judgeMasking(m: MaskingMeasurements, options: MaskingTolerances = {}): MaskingReport {
  const tol = options.tolerance ?? 0.02;
  const minimumDrop = options.minimumDrop ?? 0.05;
  const unboundedMax = options.unboundedMax ?? 0.01;
  if (m.curve.length === 0) throw new RangeError("judgeMasking: the curve needs at least one radius");
  const curve = [...m.curve].sort((a, b) => a.eps - b.eps);

  const rises: string[] = [];
  for (const attack of ["fgsm", "pgd"] as const) {
    let prev = { eps: 0, acc: m.clean };
    for (const p of curve) {
      if (p[attack] > prev.acc + tol) {
        rises.push(
          `${attack.toUpperCase()} ${pct(prev.acc)} at eps ${prev.eps} -> ${pct(p[attack])} at eps ${p.eps}`,
        );
      }
      prev = { eps: p.eps, acc: p[attack] };
    }
  }
  const last = curve[curve.length - 1];
  const drop = m.clean - Math.min(last.fgsm, last.pgd);
  const falls: MaskingCheck = {
    id: "falls-with-eps",
    name: "accuracy falls as eps grows",
    passed: rises.length === 0 && drop >= minimumDrop,
    detail: rises.length > 0
      ? `accuracy rises with eps: ${rises.join("; ")}`
      : `from ${pct(m.clean)} clean to ${pct(Math.min(last.fgsm, last.pgd))} at eps ${last.eps} (a fall of ${
        pct(drop)
      }; at least ${pct(minimumDrop)} required)`,
  };

  const weaker = curve.filter((p) => p.pgd > p.fgsm + tol);
  const pgdNotWeaker: MaskingCheck = {
    id: "pgd-not-weaker",
    name: "PGD is not weaker than FGSM",
    passed: weaker.length === 0,
    detail: weaker.length > 0
      ? `PGD leaves more accuracy than FGSM at ${
        weaker.map((p) => `eps ${p.eps} (${pct(p.pgd)} vs ${pct(p.fgsm)})`).join(", ")
      }`
      : `PGD accuracy ≤ FGSM accuracy + ${pct(tol)} at every radius (${
        curve.map((p) => `eps ${p.eps}: ${pct(p.pgd)} vs ${pct(p.fgsm)}`).join(", ")
      })`,
  };

  const unbounded: MaskingCheck = {
    id: "unbounded-reaches-zero",
    name: "an unbounded attack reaches 0%",
    passed: m.unbounded <= unboundedMax,
    detail: `PGD at eps ${m.unboundedEps} leaves ${pct(m.unbounded)} (at most ${pct(unboundedMax)} allowed)`,
  };

  const checks = [falls, pgdNotWeaker, unbounded];
  return { checks, flagged: checks.some((c) => !c.passed), measurements: m };
}

/** Options of {@linkcode checkGradientMasking}. */
export interface MaskingCheckOptions extends MaskingTolerances {
  /** Radii of the curve, increasing. Default [eps / 3, 2 eps / 3, eps] for `eps`. */
  epsList?: number[];
  /** The model's nominal radius (used for the default `epsList`). Default 0.3. */
  eps?: number;
  /** Norm of the balls. Default "linf". */
  norm?: Norm;
  /** PGD steps at each radius (step 2.5 eps / steps, random start). Default 20. */
  pgdSteps?: number;
  /** Radius of the unbounded attack. Default: the width of the pixel range [0, 1] in the norm (1 for l-inf, 28 for l2 on MNIST). */
  unboundedEps?: number;
  /** Seed of the random starts. Default 0. */
  seed?: number;
  /** Examples per batch. Default 256. */
  batchSize?: number;
  /** Progress label; progress is shown only when given. */
  label?: string;
  progress?: ProgressMode;
}

/**
 * Measures clean accuracy, FGSM and PGD accuracy at each radius of `epsList`, and PGD accuracy with an
 * unbounded radius, on `data`, then judges them with {@linkcode judgeMasking}.
 *
 * @example
 * ```ts
 * import type { Classifier } from "../models/classifier.ts";
 * import type { Dataset } from "../data/dataset.ts";
 * import { checkGradientMasking } from "./sanity.ts";
 * declare const classifier: Classifier, testSubset: Dataset;
 * const report = await checkGradientMasking(classifier, testSubset, { eps: 0.3 });
 * if (report.flagged) console.log(report.checks.filter((c) => !c.passed));
 * ```
 */
export async function checkGradientMasking(
  model: Classifier,
  data: Dataset,
  options: MaskingCheckOptions = {},
): Promise<MaskingReport> {
  const eps = options.eps ?? 0.3;
  const norm = options.norm ?? "linf";
  const epsList = options.epsList ?? [eps / 3, 2 * eps / 3, eps];
  const steps = options.pgdSteps ?? 20;
  const pixels = data.shape[0] * data.shape[1] * data.shape[2];
  const unboundedEps = options.unboundedEps ?? (norm === "linf" ? 1 : Math.sqrt(pixels));
  const seed = options.seed ?? 0;
  const common = { batchSize: options.batchSize, progress: options.progress };
  const label = (what: string) => (options.label ? `${options.label}: ${what}` : undefined);
  const pgdAt = (e: number): AttackSpec => ({ kind: "pgd", eps: e, norm, steps, stepSize: 2.5 * e / steps });

  const clean = (await evaluate(model, data, { ...common, label: label("clean") })).accuracy;
  const curve: MaskingPoint[] = [];
  for (const [i, e] of epsList.entries()) {
    const fgsm = await evaluate(model, data, {
      ...common,
      attack: makeAttack({ kind: "fgsm", eps: e, norm }, seed + 2 * i),
      label: label(`FGSM eps ${e}`),
    });
    const pgd = await evaluate(model, data, {
      ...common,
      attack: makeAttack(pgdAt(e), seed + 2 * i + 1),
      label: label(`PGD eps ${e}`),
    });
    curve.push({ eps: e, fgsm: fgsm.accuracy, pgd: pgd.accuracy });
  }
  const unbounded = await evaluate(model, data, {
    ...common,
    attack: makeAttack(pgdAt(unboundedEps), seed + 2 * epsList.length),
    label: label(`PGD eps ${unboundedEps}`),
  });
  return judgeMasking({ clean, curve, unboundedEps, unbounded: unbounded.accuracy }, options);
}
