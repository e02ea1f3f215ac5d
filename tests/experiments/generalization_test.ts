import { assertEquals, assertThrows } from "@std/assert";
import { loadExperiment, SCALES } from "../../lib/config/mod.ts";
import {
  chapterAttacks,
  epsWhereAccuracyHalves,
  notebook01Schema,
  sweepPgd,
} from "../../lib/experiments/generalization.ts";

const CONFIG = new URL("../../configs/01-generalization-vs-robustness.yaml", import.meta.url).pathname;

Deno.test("notebook01Schema accepts the shipped config at every scale, and chapterAttacks() uses its radius", async () => {
  for (const scale of SCALES) {
    const cfg = await loadExperiment(CONFIG, notebook01Schema, scale);
    const { fgsm, pgd } = chapterAttacks(cfg);
    assertEquals(fgsm, { kind: "fgsm", eps: cfg.attack.eps }, scale);
    assertEquals(pgd.kind, "pgd", scale);
    assertEquals(pgd.eps, cfg.attack.eps, scale);
    const sweep = sweepPgd(cfg, 0.2);
    assertEquals(sweep.eps, 0.2, scale);
    assertEquals(sweep.kind === "pgd" && sweep.stepSize, 2.5 * 0.2 / cfg.sweep.pgdSteps, scale);
  }
});

Deno.test("epsWhereAccuracyHalves() finds the first radius below half the clean accuracy, on either side of it", () => {
  const curve = [
    { eps: 0, accuracy: 0.98 },
    { eps: 0.1, accuracy: 0.6 },
    { eps: 0.2, accuracy: 0.48 },
    { eps: 0.3, accuracy: 0.1 },
  ];
  assertEquals(epsWhereAccuracyHalves(curve, 0.98), 0.2);
  // Exactly half is not below half.
  assertEquals(epsWhereAccuracyHalves([{ eps: 0.1, accuracy: 0.5 }, { eps: 0.2, accuracy: 0.4 }], 1), 0.2);
  const near = [{ eps: 0.1, accuracy: 0.4 }, { eps: 0.2, accuracy: 0.3 }];
  assertEquals(epsWhereAccuracyHalves(near, 0.8), 0.2);
  assertEquals(epsWhereAccuracyHalves(near, 0.81), 0.1);
  // A curve that never falls below half: undefined, which the notebook writes as "> the largest radius".
  assertEquals(epsWhereAccuracyHalves(curve.slice(0, 2), 0.98), undefined);
  assertEquals(epsWhereAccuracyHalves(curve, 0.1), undefined);
  assertThrows(() => epsWhereAccuracyHalves(curve, 1.5), RangeError, "cleanAccuracy");
  assertThrows(() => epsWhereAccuracyHalves(curve, NaN), RangeError, "cleanAccuracy");
});
