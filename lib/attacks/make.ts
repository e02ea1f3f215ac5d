/**
 * Attacks described as data (as in a config file), bound into an {@linkcode Attack} closure that keeps one
 * random source across batches; their names and costs. Each reads the kind's descriptor in the registry
 * (`registry.ts`).
 * @module
 */
import { createPrng } from "../random/prng.ts";
import { attackKind, type AttackSpec } from "./registry.ts";
import type { Attack } from "./types.ts";

export type { AttackKind, AttackSpec } from "./registry.ts";

function kindOf(spec: AttackSpec, caller: string) {
  return attackKind((spec as { kind: string } | undefined)?.kind as string, caller);
}

/** A readable name such as "PGD-40 (l-inf, eps 0.3)". */
export function describeAttack(spec: AttackSpec): string {
  return kindOf(spec, "describeAttack").describe(spec);
}

/**
 * Binds a spec into an attack; random starts draw from one generator seeded with `seed`. With `judge` false
 * the attack returns only its images (`success` and `predictions` empty), saving the forward pass that
 * classifies them: what adversarial training needs.
 */
export function makeAttack(spec: AttackSpec, seed = 0, options: { judge?: boolean } = {}): Attack {
  return kindOf(spec, "makeAttack").bind(spec, createPrng(seed), options);
}

/** Input-gradient evaluations per example that one call of the attack `spec` costs (PGD-k: k per restart). */
export function attackGradients(spec: AttackSpec): number {
  return kindOf(spec, "attackGradients").gradients(spec);
}

/**
 * `spec` with its eps and step lengths multiplied by `factor` (everything else unchanged): the attack at a
 * fraction of its strength, for the warm-up of adversarial training.
 */
export function scaleAttack(spec: AttackSpec, factor: number): AttackSpec {
  return kindOf(spec, "scaleAttack").warmedUp(spec, factor);
}
