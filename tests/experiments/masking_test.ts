import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { SCALES } from "../../lib/config/mod.ts";
import { stratifiedSubset } from "../../lib/data/mod.ts";
import { bpda, quantizer, withTransform } from "../../lib/defenses/mod.ts";
import { evaluate, type LossSurface } from "../../lib/eval/mod.ts";
import {
  accuracyOf,
  autoAttackCheckRows,
  autoAttackStageRows,
  GRADIENT_FREE_ROWS,
  MASKING_ATTACKS,
  maskingAttacks,
  maskingChartRows,
  maskingFlags,
  maskingJobs,
  maskingTable,
  maskingTableRows,
  meanSummary,
  type Notebook04Config,
  notebook04Schema,
  splitMaskingRows,
  squareBreaksMasking,
  surfaceSummary,
} from "../../lib/experiments/mod.ts";
import {
  fellBy,
  fgsmLeavesMostOfClean,
  fgsmPointShare,
  type MaskingAccuracy,
  type MaskingAttackId,
  pgdFromXGetsThrough,
  surfaceShape,
  waysThrough,
} from "../../lib/experiments/masking.ts";
import { loadExperiment } from "../../lib/config/mod.ts";
import { setupBackend, smallTrainedModel } from "../_helpers.ts";

await setupBackend();
const CONFIG = new URL("../../configs/04-gradient-masking.yaml", import.meta.url).pathname;

Deno.test("notebook04Schema accepts the shipped config at every scale, with an odd loss-surface grid", async () => {
  for (const scale of SCALES) {
    const cfg = await loadExperiment(CONFIG, notebook04Schema, scale);
    assertEquals(cfg.eps, 0.3, scale);
    assert(cfg.surface.points % 2 === 1, `${scale}: surface.points must be odd`);
    assert(cfg.quantizer.levels >= 2);
    const jobs = maskingJobs(cfg);
    assertEquals(jobs.undefended.train.adversarial, undefined);
    assertEquals(jobs.source.train.adversarial, undefined);
    assert(
      JSON.stringify(jobs.source) !== JSON.stringify(jobs.undefended),
      `${scale}: the source must differ`,
    );
  }
});

Deno.test("maskingJobs() trains the self-FGSM network on its own FGSM from the data point at the chapter's radius", async () => {
  const cfg = await loadExperiment(CONFIG, notebook04Schema, "course");
  const { selfFgsm } = maskingJobs(cfg);
  assertEquals(selfFgsm.train.adversarial, {
    attack: { kind: "fgsm", eps: cfg.eps, norm: "linf" },
    alpha: cfg.selfFgsm.alpha,
  });
  assertEquals(selfFgsm.model, cfg.selfFgsm.model);
});

Deno.test("maskingAttacks() starts FGSM and one PGD at x, R+FGSM and the other PGD at a random point", async () => {
  const cfg = await loadExperiment(CONFIG, notebook04Schema, "course");
  const a = maskingAttacks(cfg);
  assertEquals(a.fgsm, { kind: "fgsm", eps: cfg.eps });
  assertEquals(a.pgdFromX.kind === "pgd" && a.pgdFromX.randomStart, false);
  assertEquals(a.pgd.kind === "pgd" && a.pgd.randomStart, true);
  assertEquals(a.rfgsm, { kind: "rfgsm", eps: cfg.eps, alpha: cfg.eps / 2 });
});

Deno.test("notebook04Schema: smoke runs Square and AutoAttack on a small budget, course on the authors' for AutoAttack", async () => {
  const smoke = await loadExperiment(CONFIG, notebook04Schema, "smoke");
  assert(
    smoke.autoAttack.testSize <= 20 && smoke.autoAttack.squareQueries <= 500 && smoke.square.queries <= 500,
  );
  const course = await loadExperiment(CONFIG, notebook04Schema, "course");
  assertEquals([course.autoAttack.steps, course.autoAttack.targetClasses, course.autoAttack.squareQueries], [
    100,
    9,
    5000,
  ]);
  assert(course.autoAttack.testSize <= course.attack.testSize);
});

Deno.test("maskingTable() runs every attack on every model, with BPDA only where a model has a BPDA view", async () => {
  const { classifier, test } = await smallTrainedModel();
  const cfg: Notebook04Config = {
    ...(await loadExperiment(CONFIG, notebook04Schema, "smoke")),
    attack: { pgdSteps: 3, pgdStepSize: 0.1, rfgsmAlpha: undefined as unknown as number, testSize: 40 },
    square: { queries: 300 },
    autoAttack: { testSize: 20, steps: 5, targetClasses: 2, squareQueries: 300 },
  };
  const data = stratifiedSubset(test, 40, { seed: 1 });
  const models = {
    plain: { classifier },
    quantised: {
      classifier: withTransform(classifier, quantizer(8)),
      bpda: withTransform(classifier, bpda(quantizer(8))),
    },
  };
  const rows = await maskingTable(models, classifier, data, cfg, { progress: "silent" });
  assertEquals(rows.map((r) => r.way), [
    "no attack",
    "none: from the data point",
    "none: from the data point",
    "random step first",
    "random step first",
    "BPDA",
    "BPDA",
    "transfer",
    "no gradient",
    "ensemble, worst case",
  ]);
  const clean = (await evaluate(models.quantised.classifier, data)).accuracy;
  assertEquals(rows[0].accuracy.quantised, clean);
  // A zero gradient moves nothing: FGSM and PGD from x leave the quantised model's accuracy as it was.
  assertEquals([rows[1].accuracy.quantised, rows[2].accuracy.quantised], [clean, clean]);
  assertEquals([rows[5].accuracy.plain, rows[6].accuracy.plain], [null, null]);
  assert((rows[5].accuracy.quantised as number) < clean - 0.3, "BPDA should break the quantised model");
  // Transferring from the plain model to itself is its white-box FGSM.
  assertAlmostEquals(rows[7].accuracy.plain as number, rows[1].accuracy.plain as number, 0.05);
  assertEquals(maskingTableRows(rows)[5].plain, "n/a");
  assertEquals(rows.map((r) => r.id), [...MASKING_ATTACKS]);
  const q = accuracyOf(rows, "quantised");
  assertEquals([q.clean, q["bpda-fgsm"], accuracyOf(rows, "plain")["bpda-pgd"]], [
    clean,
    rows[5].accuracy.quantised,
    null,
  ]);
  assertEquals(maskingChartRows(rows).length, 2 * 10 - 2);
  assertEquals(rows.map((r) => r.n), [...Array(9).fill(40), 20]);

  // Square uses no gradient: it breaks the quantiser that FGSM and PGD from x cannot move.
  assert(q.square! < clean - 0.3, `Square leaves the quantised model ${q.square} (clean ${clean})`);
  assert(squareBreaksMasking(q));
  assert(!squareBreaksMasking(accuracyOf(rows, "plain")), "FGSM already breaks the plain model");
  // AutoAttack ends with Square, so it is at least as strong on the quantised model, and its checks fire there.
  const aa = rows[9].autoAttack!;
  assertEquals(rows[9].accuracy.quantised, aa.quantised.robustAccuracy);
  assertEquals(aa.quantised.n, 20);
  const ids = maskingFlags(aa.quantised).map((f) => f.id);
  assert(ids.includes("zero-gradients") && ids.includes("square-beats-gradients"), ids.join(", "));
  assertEquals(maskingFlags(aa.plain), []);
  const checks = autoAttackCheckRows(rows);
  assertEquals(checks.length, aa.plain.checks.length + aa.quantised.checks.length);
  assert(checks.some((c) => c.model === "quantised" && c.verdict === "FIRED"));
  const stages = autoAttackStageRows(rows);
  assertEquals(stages.map((r) => r.model), ["plain", "quantised"]);
  assertEquals(stages[1]["after Square"], aa.quantised.robustAccuracy);
  assertEquals(stages[1]["broken by Square"], aa.quantised.perAttack[3].broken);
  const { ways, gradientFree } = splitMaskingRows(rows);
  assertEquals(ways.map((r) => r.id), MASKING_ATTACKS.slice(0, 8));
  assertEquals(gradientFree.map((r) => r.id), [...GRADIENT_FREE_ROWS]);
});

Deno.test("squareBreaksMasking() needs Square more than the drop below both attacks from x", () => {
  const acc = (fgsm: number | null, fromX: number | null, square: number | null) =>
    ({
      ...Object.fromEntries(MASKING_ATTACKS.map((id) => [id, 0.9])),
      fgsm,
      "pgd-from-x": fromX,
      square,
    }) as Record<
      (typeof MASKING_ATTACKS)[number],
      number | null
    >;
  assert(squareBreaksMasking(acc(0.9, 0.85, 0.2)));
  assert(!squareBreaksMasking(acc(0.9, 0.4, 0.2)), "PGD from x already got through");
  assert(!squareBreaksMasking(acc(0.9, 0.85, 0.6)));
  assert(squareBreaksMasking(acc(0.9, 0.85, 0.6), 0.2));
  assert(!squareBreaksMasking(acc(0.9, 0.85, null)));
  assertThrows(() => squareBreaksMasking(acc(0.9, 0.85, 0.2), -0.1), RangeError, "drop");
});

Deno.test("autoAttackCheckRows() and autoAttackStageRows() refuse rows without an AutoAttack result", () => {
  assertThrows(() => autoAttackCheckRows([]), RangeError, "AutoAttack");
  assertThrows(() => autoAttackStageRows([]), RangeError, "AutoAttack");
});

function surface(values: number[][]): LossSurface {
  const xs = [-0.3, 0, 0.3];
  return {
    xs,
    ys: xs,
    values: values.map((r) => Float32Array.from(r)),
    centre: values[1][1],
    max: { value: Math.max(...values.flat()), e1: 0, e2: 0 },
    gradientNorm: 1,
    gradientDirection: true,
  };
}

Deno.test("surfaceSummary() reads the loss at x, at the FGSM point, along each half-axis and on the grid", () => {
  const s = surfaceSummary(surface([[1, 2, 3], [4, 0.5, 2.5], [7, 8, 9]]));
  assertEquals(s, {
    centre: 0.5,
    fgsmPoint: 2.5,
    maxAlongGradient: 2.5,
    maxAgainstGradient: 4,
    maxAlongRandom: 8,
    max: 9,
  });
  const mean = meanSummary([s, { ...s, centre: 1.5, max: 7 }]);
  assertEquals([mean.centre, mean.max, mean.fgsmPoint], [1, 8, 2.5]);
});

/** Accuracies of every attack of the table at `base`, with the given ones replaced. */
function accuracies(values: Partial<Record<MaskingAttackId, number | null>>, base = 0.9): MaskingAccuracy {
  return { ...Object.fromEntries(MASKING_ATTACKS.map((id) => [id, base])), ...values } as MaskingAccuracy;
}

Deno.test("fgsmLeavesMostOfClean() is true from three quarters of the clean accuracy on", () => {
  assert(fgsmLeavesMostOfClean(accuracies({ clean: 1, fgsm: 0.75 })), "exactly 75% of clean");
  assert(!fgsmLeavesMostOfClean(accuracies({ clean: 1, fgsm: 0.74 })));
  assert(fgsmLeavesMostOfClean(accuracies({ clean: 0.8, fgsm: 0.5 }), 0.6));
  assert(!fgsmLeavesMostOfClean(accuracies({ clean: 0.8, fgsm: null })));
  assertThrows(() => fgsmLeavesMostOfClean(accuracies({}), 1.5), RangeError, "keep");
});

Deno.test("pgdFromXGetsThrough() needs PGD from x below half of FGSM's accuracy", () => {
  assert(pgdFromXGetsThrough(accuracies({ fgsm: 0.8, "pgd-from-x": 0.39 })));
  assert(!pgdFromXGetsThrough(accuracies({ fgsm: 0.8, "pgd-from-x": 0.4 })), "exactly half");
  assert(!pgdFromXGetsThrough(accuracies({ fgsm: 0.8, "pgd-from-x": 0.5 })));
  assert(pgdFromXGetsThrough(accuracies({ fgsm: 0.8, "pgd-from-x": 0.5 }), 0.7));
  assert(!pgdFromXGetsThrough(accuracies({ fgsm: null, "pgd-from-x": 0 })));
  assertThrows(() => pgdFromXGetsThrough(accuracies({}), -1), RangeError, "ratio");
});

Deno.test("fellBy() counts a fall of more than 30 points, and nothing that was not measured", () => {
  assert(fellBy(0.9, 0.5));
  assert(!fellBy(0.9, 0.61), "a fall of 29 points");
  assert(!fellBy(0.9, 0.7));
  assert(fellBy(0.9, 0.7, 0.1));
  assert(!fellBy(null, 0), "from not measured");
  assert(!fellBy(0.9, null), "to not measured");
  assertThrows(() => fellBy(0.9, 0.5, Number.NaN), RangeError, "drop");
});

Deno.test("waysThrough() judges each way against FGSM from x, and all only when every way gets through", () => {
  const self = accuracies({ fgsm: 0.8, rfgsm: 0.1, transfer: 0.2 });
  const quantised = accuracies({ fgsm: 0.9, "bpda-fgsm": 0.05, transfer: 0.3 });
  const all = waysThrough(self, quantised);
  assertEquals(all, {
    selfFgsm: { rfgsm: true, transfer: true },
    quantised: { bpda: true, transfer: true },
    all: true,
  });
  const some = waysThrough(accuracies({ fgsm: 0.8, rfgsm: 0.7, transfer: 0.2 }), quantised);
  assertEquals(some.selfFgsm, { rfgsm: false, transfer: true });
  assertEquals(some.all, false);
  // The quantised model's transfer row falls by 60 points: not enough for a drop of 0.7.
  assertEquals(waysThrough(self, quantised, 0.7).quantised, { bpda: true, transfer: false });
});

Deno.test("surfaceShape() calls a surface curved when its FGSM point reaches under half the undefended share", () => {
  const summary = (fgsmPoint: number, max: number, along = fgsmPoint, against = 0, random = 0) => ({
    centre: 0,
    fgsmPoint,
    maxAlongGradient: along,
    maxAgainstGradient: against,
    maxAlongRandom: random,
    max,
  });
  const undefended = summary(9, 10); // share 0.9
  assertAlmostEquals(fgsmPointShare(undefended), 0.9);
  assertEquals(fgsmPointShare(summary(0, 0)), 0, "a flat zero surface");
  assertEquals(surfaceShape(summary(4, 10, 4, 6, 3), undefended), {
    curved: true,
    higherAgainstGradient: true,
    higherAlongRandom: false,
  });
  const flat = surfaceShape(summary(4.5, 10, 4.5, 1, 5), undefended);
  assertEquals(
    flat,
    { curved: false, higherAgainstGradient: false, higherAlongRandom: true },
    "exactly half",
  );
  assert(surfaceShape(summary(4.5, 10), undefended, 0.6).curved);
  assertThrows(() => surfaceShape(undefended, undefended, 2), RangeError, "ratio");
});
