import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertLessOrEqual, assertRejects } from "@std/assert";
import type { AttackSpec } from "../../lib/attacks/make.ts";
import { evaluate, robustEvaluate, strongAttacks } from "../../lib/eval/mod.ts";
import { smallTrainedModel } from "../_helpers.ts";

const { classifier, test } = await smallTrainedModel();

// Deterministic attacks (no random start), so that a cascade sees exactly what a full run sees.
const deterministic: AttackSpec[] = [
  { kind: "fgsm", eps: 0.05 },
  { kind: "pgd", eps: 0.05, steps: 5, stepSize: 0.02, randomStart: false },
];

Deno.test("strongAttacks() is FGSM then PGD-100 with 20 restarts and steps of 2.5 eps / 100 by default", () => {
  assertEquals(strongAttacks(0.3), [
    { kind: "fgsm", eps: 0.3, norm: "linf" },
    { kind: "pgd", eps: 0.3, norm: "linf", steps: 100, stepSize: 2.5 * 0.3 / 100, restarts: 20 },
  ]);
  const l2 = strongAttacks(2, { norm: "l2", steps: 10, restarts: 3, stepSize: 0.5 });
  assertEquals(l2[1], { kind: "pgd", eps: 2, norm: "l2", steps: 10, stepSize: 0.5, restarts: 3 });
});

Deno.test("robustEvaluate() counts an example as robust only if it is correct clean and under every attack", async () => {
  const r = await robustEvaluate(classifier, test, { attacks: deterministic, seed: 3 });
  assertEquals(r.n, test.labels.length);
  assertEquals(r.attacks.length, 2);
  const clean = await evaluate(classifier, test);
  assertEquals(r.clean, clean.accuracy);
  let both = 0;
  for (let i = 0; i < r.n; i++) {
    const expected = clean.correct[i] & r.attacks[0].correct[i] & r.attacks[1].correct[i];
    assertEquals(r.robust[i], expected);
    both += expected;
  }
  assertEquals(r.robustAccuracy, both / r.n);
  for (const a of r.attacks) assertLessOrEqual(r.robustAccuracy, a.accuracy!);
  assertLessOrEqual(r.robustAccuracy, r.clean);
  assertEquals(r.attacks.at(-1)!.cumulativeAccuracy, r.robustAccuracy);
  // The attacks really bite at this radius: the worst case is below the clean accuracy.
  assert(r.robustAccuracy < r.clean - 0.05, `robust ${r.robustAccuracy} vs clean ${r.clean}`);
});

Deno.test("robustEvaluate() in cascade mode finds the same worst case while attacking fewer examples", async () => {
  const full = await robustEvaluate(classifier, test, { attacks: deterministic });
  const cascade = await robustEvaluate(classifier, test, { attacks: deterministic, cascade: true });
  assertEquals(Array.from(cascade.robust), Array.from(full.robust));
  assertEquals(cascade.attacks[0].attacked, Math.round(full.clean * full.n));
  assert(cascade.attacks[1].attacked < cascade.attacks[0].attacked);
  assertEquals(cascade.attacks[1].accuracy, undefined);
});

Deno.test("robustEvaluate() with eps = 0 attacks leaves the clean accuracy", async () => {
  const r = await robustEvaluate(classifier, test, {
    attacks: [{ kind: "fgsm", eps: 0 }, { kind: "pgd", eps: 0, steps: 2 }],
  });
  assertEquals(r.robustAccuracy, r.clean);
});

Deno.test("robustEvaluate() needs attacks or eps, and does not leak tensors", async () => {
  await assertRejects(() => robustEvaluate(classifier, test), RangeError, "attacks or eps");
  await robustEvaluate(classifier, test, { attacks: deterministic.slice(0, 1) });
  const before = tf.memory().numTensors;
  await robustEvaluate(classifier, test, { attacks: deterministic, cascade: true });
  await robustEvaluate(classifier, test, { attacks: deterministic });
  assertEquals(tf.memory().numTensors, before);
});
