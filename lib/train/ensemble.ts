/**
 * Ensemble adversarial training (Tramer et al. 2018; lecture section 5.3): the model A being trained sees
 * adversarial examples crafted, minibatch by minibatch, either on itself or on one of several static,
 * already trained models (B, C, D, often of other architectures), in turn. Crafting on static models
 * decouples the perturbations from A's own parameters, so A cannot pass its training by masking its own
 * gradient; the perturbations it learns to resist are the transferable ones a black-box attacker uses.
 *
 * The training loop is train()'s, through {@linkcode trainCached}: checkpoints, exact resume and
 * the mixed objective alpha * J(x) + (1 - alpha) * J(x_adv) are the same as for standard adversarial
 * training; only the model each minibatch's attack runs against changes.
 * @module
 */
import {
  type CraftSources,
  trainCached,
  type TrainCachedOptions,
  type TrainedModel,
  type TrainJob,
} from "./cached.ts";

/** Options of {@linkcode alternatingSource}. */
export interface AlternatingOptions {
  /** Let the model being trained take its turn in the rotation (as in Tramer et al.). Default true. */
  includeSelf?: boolean;
}

/**
 * The rotation of attack sources: with `includeSelf`, step 0 crafts on the model being trained (undefined),
 * step 1 on source 0, ..., step k on source k - 1, then again from the model being trained; without it, the
 * static sources 0, 1, ..., k - 1 in turn.
 */
export function alternatingSource(
  sources: number,
  options: AlternatingOptions = {},
): (step: number) => number | undefined {
  if (!Number.isInteger(sources) || sources < 0) {
    throw new RangeError(`alternatingSource: sources must be an integer >= 0, got ${sources}`);
  }
  const includeSelf = options.includeSelf ?? true;
  if (!includeSelf && sources === 0) {
    throw new RangeError("alternatingSource: without the model itself, at least one static source is needed");
  }
  const cycle = sources + (includeSelf ? 1 : 0);
  return (step: number) => {
    if (!Number.isInteger(step) || step < 0) {
      throw new RangeError(`alternatingSource: step must be an integer >= 0, got ${step}`);
    }
    const slot = step % cycle;
    if (!includeSelf) return slot;
    return slot === 0 ? undefined : slot - 1;
  };
}

/** The craft sources of ensemble adversarial training over `models`, in the rotation of {@linkcode alternatingSource}. */
export function ensembleSources(
  models: readonly TrainedModel[],
  options: AlternatingOptions = {},
): CraftSources {
  const includeSelf = options.includeSelf ?? true;
  return {
    models,
    pick: alternatingSource(models.length, { includeSelf }),
    rule: includeSelf ? "alternate: self, then each static model" : "alternate: each static model",
  };
}

/**
 * How many of the first `steps` steps each source crafts under `pick`: `[self, source 0, source 1, ...]`
 * for `sources` static sources.
 */
export function sourceShares(
  pick: (step: number) => number | undefined,
  sources: number,
  steps: number,
): number[] {
  const counts = new Array<number>(sources + 1).fill(0);
  for (let s = 0; s < steps; s++) {
    const i = pick(s);
    counts[i === undefined ? 0 : i + 1]++;
  }
  return counts;
}

/** Options of {@linkcode trainEnsembleAdversarial}. */
export interface EnsembleTrainOptions extends Omit<TrainCachedOptions, "craftSources">, AlternatingOptions {}

/**
 * Ensemble adversarial training as a cached job: `job` (which must be adversarial: its attack and alpha are
 * used as they are) trained with each minibatch's attack crafted in turn on the model itself and on the
 * static `sources`. The sources' own cache keys are part of the job's key, so retraining a source retrains
 * the model.
 *
 * @example
 * ```ts
 * import { trainCached, type TrainJob } from "./cached.ts";
 * import { trainEnsembleAdversarial } from "./ensemble.ts";
 * declare const jobA: TrainJob, jobB: TrainJob, jobC: TrainJob, jobD: TrainJob;
 * const b = await trainCached(jobB), c = await trainCached(jobC), d = await trainCached(jobD);
 * const a = await trainEnsembleAdversarial(
 *   { ...jobA, train: { ...jobA.train, adversarial: { attack: { kind: "fgsm", eps: 0.3 }, alpha: 0.5 } } },
 *   [b, c, d],
 * );
 * ```
 */
export function trainEnsembleAdversarial(
  job: TrainJob,
  sources: readonly TrainedModel[],
  options: EnsembleTrainOptions = {},
): Promise<TrainedModel> {
  if (!job.train.adversarial) {
    throw new TypeError("trainEnsembleAdversarial: the job must be adversarial (job.train.adversarial)");
  }
  if (sources.length === 0) throw new RangeError("trainEnsembleAdversarial: give at least one static source");
  const { includeSelf, ...rest } = options;
  return trainCached(job, { ...rest, craftSources: ensembleSources(sources, { includeSelf }) });
}
