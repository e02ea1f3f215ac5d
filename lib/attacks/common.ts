/**
 * Pieces shared by the attacks: resolving the threat model and random source from options, judging success
 * on the final images, the config fields several kinds share, and {@linkcode defineAttack}, which turns an
 * attack function and its option schemas into the descriptor the registry lists.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { num, obj, optional, type Schema, str } from "../util/schema.ts";
import type { Classifier } from "../models/classifier.ts";
import { createPrng, type Prng } from "../random/prng.ts";
import { predictLabels } from "./loss.ts";
import { ball, type Norm, type ThreatModel } from "./threat.ts";
import type { AttackDescriptor, AttackFields, AttackResult, CommonAttackOptions, SpecOf } from "./types.ts";

/**
 * The threat model the options describe: `options.threat`, else the `norm` ball of radius `eps` with the
 * options' pixel range. A bad norm or eps is a RangeError prefixed with the attack's `name`.
 */
export function threatFrom(options: CommonAttackOptions, name = "attack"): ThreatModel {
  if (options.threat) return options.threat;
  const norm = options.norm ?? "linf";
  if (norm !== "linf" && norm !== "l2") {
    throw new RangeError(`${name}: norm must be "linf" or "l2", got ${JSON.stringify(norm)}`);
  }
  if (typeof options.eps !== "number" || !(Number.isFinite(options.eps) && options.eps >= 0)) {
    throw new RangeError(`${name}: eps must be a finite number >= 0, got ${options.eps}`);
  }
  return ball(norm, options.eps, options);
}

/** The random source the options describe. */
export function prngFrom(options: CommonAttackOptions): Prng {
  return options.prng ?? createPrng(options.seed ?? 0);
}

/**
 * Checks only the batch shapes an attack receives. Attacks call the complete check,
 * `validateAttackInput` (`lib/attacks/validate.ts`), which also checks labels, radius, steps and pixels.
 */
export function checkBatch(x: tf.Tensor4D, y: tf.Tensor1D, name: string): void {
  if (x.rank !== 4) throw new RangeError(`${name}: images must be [N, H, W, C], got shape [${x.shape}]`);
  if (y.rank !== 1 || y.shape[0] !== x.shape[0]) {
    throw new RangeError(`${name}: labels must be [${x.shape[0]}], got shape [${y.shape}]`);
  }
}

/**
 * Runs the model on `adversarial` and packages the result. Takes ownership of `adversarial` (disposed if
 * the model throws). With `judge` false the model does not run, and `success` and `predictions` are empty.
 */
export function finish(
  model: Classifier,
  adversarial: tf.Tensor4D,
  y: tf.Tensor1D,
  targeted: boolean,
  gradientSteps: number,
  judge = true,
): AttackResult {
  if (!judge) {
    return { adversarial, success: new Uint8Array(0), predictions: new Int32Array(0), gradientSteps };
  }
  let predictions: Int32Array;
  try {
    predictions = predictLabels(model, adversarial);
  } catch (e) {
    adversarial.dispose();
    throw e;
  }
  return resultOf(adversarial, predictions, y, targeted, gradientSteps);
}

/**
 * Packages an attack's result from predictions it already has (the logits of the search's own forward
 * passes), without running the model again: success is judged from `predictions` against `y`.
 */
export function resultOf(
  adversarial: tf.Tensor4D,
  predictions: Int32Array,
  y: tf.Tensor1D,
  targeted: boolean,
  gradientSteps: number,
): AttackResult {
  const labels = y.dataSync();
  const success = new Uint8Array(predictions.length);
  for (let i = 0; i < predictions.length; i++) {
    success[i] = (targeted ? predictions[i] === labels[i] : predictions[i] !== labels[i]) ? 1 : 0;
  }
  return { adversarial, success, predictions, gradientSteps };
}

/** The `norm` field of a spec: "linf" or "l2", default "linf". */
export const normField = optional(str(["linf", "l2"]), "linf" as Norm);

/** The pixel-range fields of a spec, `clipMin` and `clipMax` (absent: the attack's defaults 0 and 1). */
export const rangeFields = {
  clipMin: optional(num(), undefined as unknown as number),
  clipMax: optional(num(), undefined as unknown as number),
};

/** What {@linkcode defineAttack} needs to know about a kind of attack. */
export interface AttackDefinition<K extends string, F extends AttackFields> {
  /** The `kind` of its specs. */
  kind: K;
  /** Schemas of the spec's fields other than `kind`; wrap optional ones in `optional(...)`. */
  options: F;
  /** A readable name such as "PGD-40 (l-inf, eps 0.3)". */
  describe(spec: SpecOf<K, F>): string;
  /** Input-gradient evaluations per example one call costs. */
  gradients(spec: SpecOf<K, F>): number;
  /** The fields other than `eps` measured in pixel units (step sizes), which warm-up scales with `eps`. */
  stepLengths: readonly (keyof F & string)[];
  /** The attack itself, called with the spec's fields and the random source. */
  run(
    model: Classifier,
    x: tf.Tensor4D,
    y: tf.Tensor1D,
    options: SpecOf<K, F> & { prng: Prng; judge?: boolean },
  ): AttackResult;
}

/**
 * The descriptor of a kind of attack. Its schema is `kind` plus `options`; a field that is absent and has no
 * default stays absent in the validated spec (so adding an optional field changes no cache key).
 *
 * @example
 * ```ts ignore
 * export const fgsmAttack = defineAttack({
 *   kind: "fgsm",
 *   options: { eps: num({ min: 0 }), norm: normField, ...rangeFields },
 *   describe: (spec) => `FGSM (eps ${spec.eps})`,
 *   gradients: () => 1,
 *   stepLengths: [],
 *   run: fgsm,
 * });
 * ```
 */
export function defineAttack<const K extends string, F extends AttackFields>(
  definition: AttackDefinition<K, F>,
): AttackDescriptor<SpecOf<K, F>> {
  type S = SpecOf<K, F>;
  const { kind, options, run, stepLengths } = definition;
  const fields = obj({ kind: str([kind]), ...options });
  const schema: Schema<S> = {
    describe: fields.describe,
    validate(value, path) {
      const out = fields.validate(value, path) as Record<string, unknown>;
      for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
      return out as S;
    },
  };
  return {
    kind: kind as S["kind"],
    schema,
    describe: (spec) => definition.describe(spec),
    gradients: (spec) => definition.gradients(spec),
    warmedUp(spec, factor) {
      const scaled: Record<string, unknown> = { ...spec };
      for (const key of ["eps", ...stepLengths]) {
        const v = scaled[key];
        if (typeof v === "number") scaled[key] = v * factor;
      }
      return scaled as S;
    },
    bind: (spec, prng, extra) => (model, x, y) => run(model, x, y, { ...spec, prng, ...extra }),
  };
}
