/**
 * Attacks described as data (as in a config file), bound into an {@linkcode Attack} closure that keeps one
 * random source across batches.
 * @module
 */
import { createPrng } from "../random/prng.ts";
import { fgsm } from "./fgsm.ts";
import { pgd } from "./pgd.ts";
import { rfgsm } from "./rfgsm.ts";
import type { BallOptions, Norm } from "./threat.ts";
import type { Attack } from "./types.ts";

/**
 * An attack as written in a config. `clipMin`/`clipMax` (default 0 and 1) bound the pixel range; the
 * infinite range lets the attack leave [0, 1] (e.g. for the closed form of adversarial logistic regression).
 */
export type AttackSpec =
  | { kind: "fgsm"; eps: number; norm?: Norm; randomStart?: boolean; stepSize?: number } & BallOptions
  | {
    kind: "pgd";
    eps: number;
    norm?: Norm;
    steps: number;
    stepSize?: number;
    restarts?: number;
    randomStart?: boolean;
  } & BallOptions
  | { kind: "rfgsm"; eps: number; alpha?: number };

/** A readable name such as "PGD-40 (l-inf, eps 0.3)". */
export function describeAttack(spec: AttackSpec): string {
  const norm = "norm" in spec && spec.norm === "l2" ? "l2" : "l-inf";
  switch (spec.kind) {
    case "fgsm":
      return `${spec.randomStart ? "FGSM+RS" : norm === "l2" ? "FGM" : "FGSM"} (${norm}, eps ${spec.eps})`;
    case "pgd":
      return `PGD-${spec.steps}${
        (spec.restarts ?? 1) > 1 ? `x${spec.restarts}` : ""
      } (${norm}, eps ${spec.eps})`;
    case "rfgsm":
      return `R+FGSM (l-inf, eps ${spec.eps})`;
  }
}

/** Binds a spec into an attack; random starts draw from one generator seeded with `seed`. */
export function makeAttack(spec: AttackSpec, seed = 0): Attack {
  const prng = createPrng(seed);
  switch (spec.kind) {
    case "fgsm":
      return (m, x, y) => fgsm(m, x, y, { ...spec, prng });
    case "pgd":
      return (m, x, y) => pgd(m, x, y, { ...spec, prng });
    case "rfgsm":
      return (m, x, y) => rfgsm(m, x, y, { ...spec, prng });
    default:
      throw new RangeError(
        `makeAttack: unknown attack kind ${JSON.stringify((spec as { kind: unknown }).kind)}`,
      );
  }
}
