/**
 * What every attack returns, the options they share, and the descriptor each kind of attack exports.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Infer, Schema } from "../util/schema.ts";
import type { Classifier } from "../models/classifier.ts";
import type { Prng } from "../random/prng.ts";
import type { BallOptions, Norm, ThreatModel } from "./threat.ts";

/** The outcome of an attack on a batch. The caller owns (and disposes) `adversarial`. */
export interface AttackResult {
  /** The adversarial images, same shape as the input. */
  adversarial: tf.Tensor4D;
  /** 1 where the attack succeeded: the prediction differs from the label (untargeted) or equals the target. */
  success: Uint8Array;
  /** The model's predictions on `adversarial`. */
  predictions: Int32Array;
  /** How many input-gradient evaluations the attack used (per example). */
  gradientSteps: number;
}

/** An attack bound to its settings: what evaluation loops and adversarial training call per batch. */
export type Attack = (model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D) => AttackResult;

/** Options every attack takes. */
export interface CommonAttackOptions extends BallOptions {
  /** Radius of the threat model. */
  eps: number;
  /** Norm of the threat model. Default "linf". */
  norm?: Norm;
  /** A ready threat model (overrides eps/norm/clip options). */
  threat?: ThreatModel;
  /** Targeted attack: `y` then holds the target classes. Default false. */
  targeted?: boolean;
  /** Random source for random starts. Default: a generator seeded with `seed`. */
  prng?: Prng;
  /** Seed used when no `prng` is given. Default 0. */
  seed?: number;
  /**
   * Classify the final images to fill `success` and `predictions` (one forward pass). Default true. Callers
   * that read only the images (adversarial training) pass false: both arrays are then empty.
   */
  judge?: boolean;
}

/** The option fields of an attack kind as config schemas; a field wrapped in `optional(...)` may be absent. */
export type AttackFields = Record<string, Schema<unknown>>;

type OptionalKeys<F> = { [K in keyof F]: F[K] extends { optional: true } ? K : never }[keyof F];
type Flatten<T> = { [K in keyof T]: T[K] } & unknown;

/**
 * The spec type of kind `K` with option fields `F`, inferred from the schemas: `{ kind: K }`, the required
 * fields, and the `optional(...)` fields as optional keys.
 */
export type SpecOf<K extends string, F extends AttackFields> = Flatten<
  & { kind: K }
  & { [P in Exclude<keyof F, OptionalKeys<F> | "kind">]: Infer<F[P]> }
  & { [P in Exclude<OptionalKeys<F>, "kind">]?: Infer<F[P]> }
>;

/**
 * Everything advex knows about one kind of attack, in one place: each attack file exports one, and the
 * registry (`lib/attacks/registry.ts`) lists them. `makeAttack`, `describeAttack`, the config schema
 * `attackSpecSchema`, adversarial training's warm-up (`warmedUp`) and cost count (`relativeTrainingCost`)
 * all read it. Build one with `defineAttack` (`lib/attacks/common.ts`).
 */
export interface AttackDescriptor<S extends { kind: string } = { kind: string }> {
  /** The `kind` of its specs, e.g. "pgd". */
  readonly kind: S["kind"];
  /** Validates a spec written in a config (unknown keys, types, ranges; defaults filled in). */
  readonly schema: Schema<S>;
  /** A readable name such as "PGD-40 (l-inf, eps 0.3)". */
  describe(spec: S): string;
  /** Input-gradient evaluations per example that one call of the attack costs (PGD-k: k per restart). */
  gradients(spec: S): number;
  /**
   * The spec at a fraction `factor` of its strength, for the warm-up of adversarial training: eps and every
   * length measured in pixel units (step sizes) multiplied by `factor`, everything else unchanged.
   */
  warmedUp(spec: S, factor: number): S;
  /**
   * The spec bound into an attack drawing its random starts from `prng`; `options.judge` as in
   * {@linkcode CommonAttackOptions}.
   */
  bind(spec: S, prng: Prng, options?: { judge?: boolean }): Attack;
}
