/**
 * Chapter 7, "Ensemble adversarial training" (lecture section 5.3, Figures 11 and 12; Tramer et al. 2018):
 * the settings schema of its notebook, the training jobs of the static, held-out and trained models, and the
 * evaluation behind Figure 12: error on clean data, under white-box FGSM (crafted on the model itself) and
 * under black-box FGSM (crafted on held-out models that no trained model saw).
 * @module
 */
import { type AttackSpec, describeAttack, makeAttack } from "../attacks/make.ts";
import { transferAttack } from "../eval/transfer.ts";
import { bool, int, list, num, obj, optional, str } from "../config/schema.ts";
import type { Infer } from "../config/schema.ts";
import {
  backendSchema,
  modelJobFields,
  modelSpecSchema,
  trainDataSchema,
  trainSchema,
} from "../config/specs.ts";
import type { Dataset } from "../data/dataset.ts";
import { selfFgsmJob } from "../defenses/single_step.ts";
import { evaluate } from "../eval/evaluate.ts";
import type { Classifier } from "../models/classifier.ts";
import { trainDataOf, type TrainJob } from "../train/cached.ts";
import type { ProgressMode } from "../util/progress.ts";
import { assertUniqueNames } from "../util/names.ts";

const namedModelSchema = obj({
  /** A short name shown in tables, e.g. "B". */
  name: str(),
  ...modelJobFields,
});

/** Settings of notebook 07 (configs/07-ensemble-adversarial-training.yaml). */
export const notebook07Schema = obj({
  backend: backendSchema,
  data: trainDataSchema,
  /** Radius (l-inf) of the training FGSM and of every evaluation attack. */
  eps: num({ min: 0 }),
  /** Model A: trained once against its own FGSM, once with the ensemble. */
  target: obj({
    model: modelSpecSchema,
    initSeed: int({ min: 0 }),
    train: trainSchema,
    /** Weight of the clean loss in the mixed objective. */
    alpha: optional(num({ min: 0, max: 1 }), 0.5),
  }),
  /**
   * Seeds of A: each seed is A's initial seed and the seed of its minibatches, and A is trained both ways
   * once per seed, so that a difference between the two trainings can be set beside the spread between
   * seeds. Default: one run, with the target's own `initSeed` and `train.seed`.
   */
  seeds: optional(list(int({ min: 0 }), { minLength: 1 }), undefined as unknown as number[]),
  /** Whether A itself takes its turn among the ensemble's sources (as in Tramer et al.). */
  includeSelf: optional(bool(), true),
  /** The static pretrained models the ensemble crafts on (B, C, D). */
  static: list(namedModelSchema, { minLength: 1 }),
  /** Standard models that neither A saw: the black-box attacker's sources. */
  heldOut: list(namedModelSchema, { minLength: 1 }),
  evaluation: obj({
    /** Test examples for clean, white-box and black-box FGSM (0: all). */
    testSize: int({ min: 0 }),
    /** White-box PGD on a smaller subset, to show what neither training buys. */
    pgdSteps: int({ min: 1 }),
    pgdStepSize: num({ min: 0 }),
    pgdTestSize: int({ min: 1 }),
  }),
});

/** The typed settings of notebook 07. */
export type Notebook07Config = Infer<typeof notebook07Schema>;

/** A named training job. */
export interface NamedJob {
  name: string;
  job: TrainJob;
}

/** A's FGSM-training job for one seed. */
export interface SeededJob {
  seed: number;
  job: TrainJob;
}

/**
 * The training jobs of the chapter: A (its FGSM training; `targets` has one job per seed of `seeds`, and
 * `target` is the first), the static sources and the held-out models.
 */
export function ensembleJobs(
  cfg: Notebook07Config,
): { target: TrainJob; targets: SeededJob[]; static: NamedJob[]; heldOut: NamedJob[] } {
  const data = trainDataOf(cfg.data);
  const job = (m: { model: TrainJob["model"]; initSeed: number; train: TrainJob["train"] }): TrainJob => ({
    data,
    model: m.model,
    initSeed: m.initSeed,
    train: m.train,
  });
  assertUniqueNames([...cfg.static, ...cfg.heldOut].map((m) => m.name), "ensembleJobs", "model");
  const seeds = cfg.seeds ?? [cfg.target.initSeed];
  if (new Set(seeds).size !== seeds.length) {
    throw new RangeError(`ensembleJobs: seeds must differ from each other, got ${seeds.join(", ")}`);
  }
  const targets = seeds.map((seed) => {
    // Without `seeds`, the target's own seeds (its job is then chapter 4's self-FGSM network at course).
    const seeded = cfg.seeds
      ? { ...cfg.target, initSeed: seed, train: { ...cfg.target.train, seed } }
      : cfg.target;
    return { seed, job: selfFgsmJob(job(seeded), { eps: cfg.eps, alpha: cfg.target.alpha }) };
  });
  return {
    target: targets[0].job,
    targets,
    static: cfg.static.map((m) => ({ name: m.name, job: job(m) })),
    heldOut: cfg.heldOut.map((m) => ({ name: m.name, job: job(m) })),
  };
}

/** A model that crafts black-box examples. */
export interface AttackSource {
  name: string;
  classifier: Classifier;
  /** "held-out": no trained model saw it; "static": a source of the ensemble's training examples. */
  role: "held-out" | "static";
}

/** Options of {@linkcode ensembleEvaluation}. */
export interface EnsembleEvaluationOptions {
  /** Seed of the attacks. Default 0. */
  seed?: number;
  /** Examples per batch. Default 250. */
  batchSize?: number;
  progress?: ProgressMode;
}

/** Error rates of one trained model. */
export interface EnsembleErrors {
  model: string;
  clean: number;
  /** Under FGSM crafted on the model itself. */
  whiteBox: number;
  /** Under FGSM crafted on each source, by source name. */
  bySource: Record<string, number>;
  /** The largest error over the held-out sources: Tramer et al.'s "max. black-box". */
  blackBox: number;
  /** The mean error over the held-out sources. */
  blackBoxMean: number;
}

/**
 * Evaluates each trained model on `data`: clean error, error under white-box `fgsm` and under `fgsm` crafted
 * on each source (every source attacks all models with the same examples).
 */
export async function ensembleEvaluation(
  models: Record<string, Classifier>,
  sources: AttackSource[],
  data: Dataset,
  fgsm: AttackSpec,
  options: EnsembleEvaluationOptions = {},
): Promise<EnsembleErrors[]> {
  if (!sources.some((s) => s.role === "held-out")) {
    throw new RangeError("ensembleEvaluation: at least one held-out source is needed");
  }
  const seed = options.seed ?? 0;
  const common = { batchSize: options.batchSize ?? 250, progress: options.progress };
  const names = Object.keys(models);
  const out: EnsembleErrors[] = [];
  for (const [k, name] of names.entries()) {
    const clean = await evaluate(models[name], data, { ...common, label: `${name}: clean` });
    const white = await evaluate(models[name], data, {
      ...common,
      attack: makeAttack(fgsm, seed + k),
      label: `${name}: white-box ${describeAttack(fgsm)}`,
    });
    out.push({
      model: name,
      clean: 1 - clean.accuracy,
      whiteBox: 1 - white.accuracy,
      bySource: {},
      blackBox: 0,
      blackBoxMean: 0,
    });
  }
  for (const [k, source] of sources.entries()) {
    const report = await transferAttack(source.classifier, models, data, makeAttack(fgsm, seed + 100 + k), {
      ...common,
      label: `black-box ${describeAttack(fgsm)} from ${source.name}`,
    });
    for (const t of report.targets) {
      out.find((e) => e.model === t.name)!.bySource[source.name] = 1 - t.adversarialAccuracy;
    }
  }
  const heldOut = sources.filter((s) => s.role === "held-out").map((s) => s.name);
  for (const e of out) {
    const errors = heldOut.map((n) => e.bySource[n]);
    e.blackBox = Math.max(...errors);
    e.blackBoxMean = errors.reduce((a, b) => a + b, 0) / errors.length;
  }
  return out;
}

/**
 * Figure 12's bars: per model, the error on clean data, under white-box FGSM and under black-box FGSM (the
 * worst held-out source).
 */
export function figure12Rows(
  errors: EnsembleErrors[],
): { evaluation: string; model: string; error: number }[] {
  return errors.flatMap((e) => [
    { evaluation: "clean data", model: e.model, error: e.clean },
    { evaluation: "white-box FGSM", model: e.model, error: e.whiteBox },
    { evaluation: "black-box FGSM", model: e.model, error: e.blackBox },
  ]);
}

/** The table of {@linkcode ensembleEvaluation}: one row per model, one column per evaluation and source. */
export function ensembleTableRows(
  errors: EnsembleErrors[],
  sources: AttackSource[],
): Record<string, unknown>[] {
  return errors.map((e) => ({
    model: e.model,
    clean: e.clean,
    "white-box FGSM": e.whiteBox,
    ...Object.fromEntries(
      sources.map((
        s,
      ) => [`from ${s.name} (${s.role === "held-out" ? "held out" : "static"})`, e.bySource[s.name]]),
    ),
    "black-box (worst held-out)": e.blackBox,
  }));
}

/**
 * Whether the errors show the lecture's ordering (Tramer et al.'s Figure 12): the self-trained model has
 * the lower white-box error and the ensemble-trained model the lower black-box error.
 */
export function showsLectureOrdering(selfTrained: EnsembleErrors, ensembleTrained: EnsembleErrors): boolean {
  return selfTrained.whiteBox < ensembleTrained.whiteBox && ensembleTrained.blackBox < selfTrained.blackBox;
}

/**
 * How many times a model's black-box error exceeds its white-box error, or `undefined` when it does not
 * exceed it: a transferred attack that beats the white-box one is the signature of a masked gradient.
 */
export function blackBoxOverWhiteBox(errors: EnsembleErrors): number | undefined {
  return errors.blackBox > errors.whiteBox ? errors.blackBox / Math.max(errors.whiteBox, 1e-9) : undefined;
}

/** The mean of each error rate over runs of the same model (one per seed); the name is the first run's. */
export function meanErrors(runs: EnsembleErrors[]): EnsembleErrors {
  if (runs.length === 0) throw new RangeError("meanErrors: no runs");
  const avg = (f: (e: EnsembleErrors) => number) => runs.reduce((a, e) => a + f(e), 0) / runs.length;
  const sources = Object.keys(runs[0].bySource);
  return {
    model: runs[0].model,
    clean: avg((e) => e.clean),
    whiteBox: avg((e) => e.whiteBox),
    bySource: Object.fromEntries(sources.map((k) => [k, avg((e) => e.bySource[k])])),
    blackBox: avg((e) => e.blackBox),
    blackBoxMean: avg((e) => e.blackBoxMean),
  };
}

/** The two trainings of A compared over seeds (see {@linkcode seedComparison}). */
export interface SeedComparison {
  seeds: number;
  /** Mean white-box error of the ensemble-trained model minus the self-trained one's (> 0: self wins). */
  whiteBoxWin: number;
  /** Mean black-box error of the self-trained model minus the ensemble-trained one's (> 0: ensemble wins). */
  blackBoxWin: number;
  /** The largest range (max - min over seeds) of either model's white-box error. */
  whiteBoxSpread: number;
  /** The largest range over seeds of either model's black-box error. */
  blackBoxSpread: number;
  /** Each training wins its side by more than the spread between seeds (and with one seed: wins at all). */
  holds: boolean;
}

/**
 * Compares the self-trained and the ensemble-trained A over seeds (`runs[i]`: both models of seed i): each
 * side's mean win against the spread between seeds of the same training, Figure 12's claim with its noise.
 */
export function seedComparison(runs: { self: EnsembleErrors; ensemble: EnsembleErrors }[]): SeedComparison {
  if (runs.length === 0) throw new RangeError("seedComparison: no runs");
  const range = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const pick = (side: "self" | "ensemble", f: (e: EnsembleErrors) => number) => runs.map((r) => f(r[side]));
  const white = (e: EnsembleErrors) => e.whiteBox, black = (e: EnsembleErrors) => e.blackBox;
  const whiteBoxWin = mean(pick("ensemble", white)) - mean(pick("self", white));
  const blackBoxWin = mean(pick("self", black)) - mean(pick("ensemble", black));
  const whiteBoxSpread = Math.max(range(pick("self", white)), range(pick("ensemble", white)));
  const blackBoxSpread = Math.max(range(pick("self", black)), range(pick("ensemble", black)));
  return {
    seeds: runs.length,
    whiteBoxWin,
    blackBoxWin,
    whiteBoxSpread,
    blackBoxSpread,
    holds: whiteBoxWin > whiteBoxSpread && blackBoxWin > blackBoxSpread,
  };
}
