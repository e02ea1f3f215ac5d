/**
 * Chapter 1, "Generalization vs. Robustness": the settings schema of its notebook and the small pieces that
 * turn library results into the chapter's tables.
 * @module
 */
import type { AttackSpec } from "../attacks/make.ts";
import { int, list, num, obj, optional } from "../config/schema.ts";
import { backendSchema, modelSpecSchema, trainDataSchema, trainSchema } from "../config/specs.ts";
import type { Infer } from "../config/schema.ts";
import { type SubsetDataSpec, trainDataOf, type TrainJob } from "../train/cached.ts";

/** Settings of notebook 01 (configs/01-generalization-vs-robustness.yaml). */
export const notebook01Schema = obj({
  backend: backendSchema,
  data: trainDataSchema,
  model: modelSpecSchema,
  initSeed: int({ min: 0 }),
  train: trainSchema,
  attack: obj({
    eps: num({ min: 0 }),
    pgdSteps: int({ min: 1 }),
    pgdStepSize: num({ min: 0 }),
    restarts: optional(int({ min: 1 }), 1),
    /** Test examples attacked for the robust risk (0: the whole evaluation set). */
    testSize: optional(int({ min: 0 }), 0),
  }),
  sweep: obj({
    eps: list(num({ min: 0 }), { minLength: 2 }),
    testSize: int({ min: 1 }),
    pgdSteps: int({ min: 1 }),
  }),
});

/** The typed settings of notebook 01. */
export type Notebook01Config = Infer<typeof notebook01Schema>;

/** The training job (the cache key) of the chapter's standard model. */
export function notebook01Job(cfg: Notebook01Config): TrainJob<SubsetDataSpec> {
  return {
    data: trainDataOf(cfg.data),
    model: cfg.model,
    initSeed: cfg.initSeed,
    train: cfg.train,
  };
}

/** The FGSM and PGD attacks of the chapter at radius `eps`. */
export function chapterAttacks(
  cfg: Notebook01Config,
  eps = cfg.attack.eps,
): { fgsm: AttackSpec; pgd: AttackSpec } {
  return {
    fgsm: { kind: "fgsm", eps },
    pgd: {
      kind: "pgd",
      eps,
      steps: cfg.attack.pgdSteps,
      stepSize: cfg.attack.pgdStepSize,
      restarts: cfg.attack.restarts,
    },
  };
}

/** The PGD of the accuracy-versus-epsilon sweep at `eps`: `sweep.pgdSteps` steps of 2.5 eps / steps. */
export function sweepPgd(cfg: Notebook01Config, eps: number): AttackSpec {
  return { kind: "pgd", eps, steps: cfg.sweep.pgdSteps, stepSize: 2.5 * eps / cfg.sweep.pgdSteps };
}

/** The gallery of adversarial examples the chapter shows (clean, adversarial and perturbation rows). */
export { adversarialGallery } from "./gallery.ts";

/**
 * The first radius of an accuracy-versus-epsilon curve at which the accuracy is below half of
 * `cleanAccuracy`, or `undefined` when it never falls that far on the radii measured.
 */
export function epsWhereAccuracyHalves(
  curve: readonly { eps: number; accuracy: number }[],
  cleanAccuracy: number,
): number | undefined {
  if (!Number.isFinite(cleanAccuracy) || cleanAccuracy < 0 || cleanAccuracy > 1) {
    throw new RangeError(`epsWhereAccuracyHalves: cleanAccuracy must be in [0, 1], got ${cleanAccuracy}`);
  }
  return curve.find((r) => r.accuracy < cleanAccuracy / 2)?.eps;
}
