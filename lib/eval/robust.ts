/**
 * A strong robust evaluation: several attacks run on the same examples, and an example counts as robust only
 * if it is classified correctly clean and survives every one of them (the worst case per example). The
 * default suite is FGSM plus PGD with many steps and random restarts, the evaluation Madry et al. report
 * (PGD-100 with 20 restarts at eps = 0.3 on MNIST).
 * @module
 */
import { type AttackSpec, describeAttack, makeAttack } from "../attacks/make.ts";
import type { Norm } from "../attacks/threat.ts";
import { type Dataset, size, take } from "../data/dataset.ts";
import type { Classifier } from "../models/classifier.ts";
import type { ProgressMode } from "../util/progress.ts";
import { evaluate } from "./evaluate.ts";

/** Options of {@linkcode strongAttacks}. */
export interface StrongAttackOptions {
  /** Norm of the ball. Default "linf". */
  norm?: Norm;
  /** PGD steps. Default 100. */
  steps?: number;
  /** PGD runs from independent random starts; the worst per example is kept. Default 20. */
  restarts?: number;
  /** PGD step length. Default 2.5 eps / steps. */
  stepSize?: number;
}

/** The evaluation suite at radius `eps`: FGSM (FGM for l2), then PGD-`steps` with `restarts` random restarts. */
export function strongAttacks(eps: number, options: StrongAttackOptions = {}): AttackSpec[] {
  const norm = options.norm ?? "linf";
  const steps = options.steps ?? 100;
  return [
    { kind: "fgsm", eps, norm },
    {
      kind: "pgd",
      eps,
      norm,
      steps,
      stepSize: options.stepSize ?? 2.5 * eps / steps,
      restarts: options.restarts ?? 20,
    },
  ];
}

/**
 * The attacks `options` ask for: `attacks`, else the strong suite at `eps`; neither is a RangeError naming
 * `caller`.
 */
export function suiteOf(options: RobustEvaluateOptions, caller: string): AttackSpec[] {
  if (options.attacks) return options.attacks;
  if (options.eps === undefined) {
    throw new RangeError(`${caller}: give either attacks or eps (for the default strong suite)`);
  }
  return strongAttacks(options.eps);
}

/** Options of {@linkcode robustEvaluate}. */
export interface RobustEvaluateOptions {
  /** The attacks, run in order. Default: {@linkcode strongAttacks} at `eps`. */
  attacks?: AttackSpec[];
  /** Radius of the default suite (ignored when `attacks` is given). */
  eps?: number;
  /**
   * Attack only the examples every earlier attack (and the clean pass) left correct. The worst case is the
   * same and much cheaper on weak models, but an attack's own accuracy is then unknown. Default false.
   */
  cascade?: boolean;
  /** Seed of the attacks' random starts (attack i draws from seed + i). Default 0. */
  seed?: number;
  /** Examples per batch. Default 256. */
  batchSize?: number;
  /** Progress label; progress is shown only when given. */
  label?: string;
  progress?: ProgressMode;
}

/** What one attack of the suite did. */
export interface AttackOutcome {
  /** Readable name, e.g. "PGD-100x20 (l-inf, eps 0.3)". */
  name: string;
  spec: AttackSpec;
  /** Accuracy under this attack alone, over all examples (undefined in cascade mode). */
  accuracy: number | undefined;
  /** Mean cross-entropy at the adversarial points (undefined in cascade mode). */
  loss: number | undefined;
  /** Accuracy once this attack and all before it (and the clean pass) are counted: the running worst case. */
  cumulativeAccuracy: number;
  /** Examples this attack was run on. */
  attacked: number;
  /** 1 where the example was correct at this attack's output (0 where it was not attacked in cascade mode). */
  correct: Uint8Array;
  seconds: number;
}

/** A robust evaluation: clean accuracy, each attack's accuracy, and the worst case per example. */
export interface RobustEvaluation {
  n: number;
  /** Clean accuracy. */
  clean: number;
  /** Clean risk (mean cross-entropy). */
  cleanLoss: number;
  attacks: AttackOutcome[];
  /** Share of examples correct clean and under every attack. */
  robustAccuracy: number;
  /** 1 where the example is correct clean and under every attack. */
  robust: Uint8Array;
  seconds: number;
}

function mean(bits: Uint8Array): number {
  let s = 0;
  for (const b of bits) s += b;
  return bits.length ? s / bits.length : 0;
}

/**
 * Evaluates `model` on `data` clean and under every attack of the suite, and counts an example as robust
 * only if it survives them all.
 *
 * @example
 * ```ts
 * import type { Classifier } from "../models/classifier.ts";
 * import type { Dataset } from "../data/dataset.ts";
 * import { robustEvaluate, strongAttacks } from "./robust.ts";
 * declare const classifier: Classifier, testSet: Dataset;
 * const r = await robustEvaluate(classifier, testSet, { attacks: strongAttacks(0.3, { steps: 100, restarts: 20 }) });
 * console.log(r.clean, r.attacks.map((a) => a.accuracy), r.robustAccuracy);
 * ```
 */
export async function robustEvaluate(
  model: Classifier,
  data: Dataset,
  options: RobustEvaluateOptions = {},
): Promise<RobustEvaluation> {
  const t0 = performance.now();
  const n = size(data);
  const attacks = suiteOf(options, "robustEvaluate");
  const seed = options.seed ?? 0;
  const common = { batchSize: options.batchSize, progress: options.progress };
  const clean = await evaluate(model, data, {
    ...common,
    label: options.label ? `${options.label}: clean` : undefined,
  });
  const robust = Uint8Array.from(clean.correct);
  const outcomes: AttackOutcome[] = [];
  for (let i = 0; i < attacks.length; i++) {
    const spec = attacks[i];
    const name = describeAttack(spec);
    const label = options.label ? `${options.label}: ${name}` : undefined;
    const attack = makeAttack(spec, seed + i);
    const correct = new Uint8Array(n);
    let attacked = n;
    let accuracy: number | undefined;
    let loss: number | undefined;
    let seconds = 0;
    if (options.cascade) {
      const alive: number[] = [];
      for (let j = 0; j < n; j++) if (robust[j]) alive.push(j);
      attacked = alive.length;
      if (alive.length > 0) {
        const e = await evaluate(model, take(data, alive), { ...common, attack, label });
        alive.forEach((j, k) => (correct[j] = e.correct[k]));
        seconds = e.seconds;
      }
    } else {
      const e = await evaluate(model, data, { ...common, attack, label });
      correct.set(e.correct);
      accuracy = e.accuracy;
      loss = e.loss;
      seconds = e.seconds;
    }
    for (let j = 0; j < n; j++) robust[j] &= correct[j];
    outcomes.push({
      name,
      spec,
      accuracy,
      loss,
      cumulativeAccuracy: mean(robust),
      attacked,
      correct,
      seconds,
    });
  }
  return {
    n,
    clean: clean.accuracy,
    cleanLoss: clean.loss,
    attacks: outcomes,
    robustAccuracy: mean(robust),
    robust,
    seconds: (performance.now() - t0) / 1000,
  };
}
