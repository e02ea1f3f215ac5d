/**
 * The registry of attack kinds: the one list that `makeAttack`, `describeAttack`, the config schema
 * (`attackSpecSchema`), adversarial training's warm-up and its cost count read. Adding a kind of attack is
 * one file that exports its descriptor (see `defineAttack` in `common.ts`) and one line in this list.
 * @module
 */
import type { Schema } from "../util/schema.ts";
import { apgdAttack, apgdTargetedAttack } from "./apgd.ts";
import { fabTargetedAttack } from "./fab.ts";
import { fgsmAttack } from "./fgsm.ts";
import { pgdAttack } from "./pgd.ts";
import { rfgsmAttack } from "./rfgsm.ts";
import { squareAttack } from "./square.ts";
import type { AttackDescriptor } from "./types.ts";

/** Every kind of attack a spec (in code or in a config file) can name. */
export const attackKinds = [
  fgsmAttack,
  pgdAttack,
  rfgsmAttack,
  apgdAttack,
  apgdTargetedAttack,
  fabTargetedAttack,
  squareAttack,
] as const;

type SpecOfDescriptor<D> = D extends AttackDescriptor<infer S> ? S : never;

/**
 * An attack as written in a config, e.g. `{ kind: "pgd", eps: 0.3, steps: 40 }`: the union of the registered
 * kinds' specs, inferred from their schemas. `clipMin`/`clipMax` (default 0 and 1) bound the pixel range;
 * the infinite range lets the attack leave [0, 1] (e.g. for the closed form of adversarial logistic
 * regression).
 */
export type AttackSpec = SpecOfDescriptor<typeof attackKinds[number]>;

/** The names of the registered kinds. */
export type AttackKind = AttackSpec["kind"];

/** The descriptor of `kind`; a RangeError naming the registered kinds for an unknown one. */
export function attackKind(kind: string, caller = "attackKind"): AttackDescriptor<AttackSpec> {
  const found = attackKinds.find((d) => d.kind === kind);
  if (!found) {
    throw new RangeError(
      `${caller}: unknown attack kind ${JSON.stringify(kind)}; registered: ${
        attackKinds.map((d) => d.kind).join(", ")
      }`,
    );
  }
  return found as unknown as AttackDescriptor<AttackSpec>;
}

/** The config schema of each registered kind, by kind (what `attackSpecSchema` dispatches on). */
export function attackSchemas(): Record<AttackKind, Schema<AttackSpec>> {
  return Object.fromEntries(attackKinds.map((d) => [d.kind, d.schema])) as Record<
    AttackKind,
    Schema<AttackSpec>
  >;
}
