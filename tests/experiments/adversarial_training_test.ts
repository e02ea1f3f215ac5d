import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertGreater,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { loadExperiment, SCALES } from "../../lib/config/mod.ts";
import { stratifiedSubset, take } from "../../lib/data/mod.ts";
import { robustEvaluate, type RobustEvaluation } from "../../lib/eval/robust.ts";
import {
  autoAttackBesidePgd,
  autoAttackBesidePgdRows,
  autoAttackedScale,
  autoAttackSettings,
  autoAttackVerdict,
  capacityGrid,
  capacityJob,
  type CapacityResult,
  capacityRows,
  evaluationAttacks,
  fgsmAboveClean,
  fgsmTrainingVerdict,
  gapPoints,
  halvingPoint,
  nearestPoint,
  notebook05Schema,
  PAPER_LARGEST_SCALE,
  paperComparison,
  pgdTrainingVerdict,
  reachesPaperScale,
  robustCnnJob,
  sweepAttack,
  sweepShape,
  sweptScale,
} from "../../lib/experiments/adversarial_training.ts";
import { relativeTrainingCost } from "../../lib/train/adversarial.ts";
import { trainCacheConfig } from "../../lib/train/cached.ts";
import { artifactRef } from "../../lib/store/mod.ts";
import { smallTrainedModel } from "../_helpers.ts";

const CONFIG = new URL("../../configs/05-adversarial-training.yaml", import.meta.url);

Deno.test("configs/05-adversarial-training.yaml loads at every scale with standard, FGSM and PGD modes", async () => {
  for (const scale of SCALES) {
    const cfg = await loadExperiment(CONFIG, notebook05Schema, scale);
    assertEquals(cfg.eps, 0.3, scale);
    assertEquals(cfg.modes.map((m) => m.attack?.kind ?? "none"), ["none", "fgsm", "pgd"], scale);
    assertGreater(cfg.scales.length, 1, scale);
    assert(cfg.sweep.linf.includes(cfg.eps), `${scale}: the l-inf sweep includes the training radius`);
  }
});

Deno.test("the paper scale of configs/05 uses Madry et al.'s settings", async () => {
  const cfg = await loadExperiment(CONFIG, notebook05Schema, "paper");
  assertEquals(cfg.scales.map((s) => s.scale), [1, 2, 4, 8, 16]);
  const pgd = cfg.modes[2];
  assertEquals(pgd.attack, {
    kind: "pgd",
    eps: 0.3,
    norm: "linf",
    steps: 40,
    stepSize: 0.01,
    restarts: 1,
    randomStart: true,
  });
  assertEquals([pgd.alpha, pgd.warmup], [0, undefined]);
  assertEquals(cfg.train.batchSize, 50);
  // About 100k steps of 50 examples over the 60k training images.
  const steps = cfg.train.epochs * Math.ceil(60_000 / cfg.train.batchSize);
  assert(Math.abs(steps - 100_000) < 1_500, `${steps} steps`);
  assertEquals([cfg.eval.pgdSteps, cfg.eval.restarts, cfg.eval.testSize], [100, 20, 0]);
});

Deno.test("the smoke scale of configs/05 is small enough for the test suite", async () => {
  const cfg = await loadExperiment(CONFIG, notebook05Schema, "smoke");
  let work = 0;
  for (const { job } of capacityGrid(cfg)) {
    assert(job.data.trainSize! > 0 && job.data.trainSize! <= 1000);
    work += job.data.trainSize! * job.train.epochs * relativeTrainingCost(job.train.adversarial?.attack) *
      (job.model.kind === "madry-cnn" ? job.model.scale : 1);
  }
  assert(work < 60_000, `smoke training work ${work}`);
  assert(cfg.data.testSize > 0 && cfg.data.testSize <= 200);
});

Deno.test("capacityJob() builds a cached job per mode and scale, with per-scale sizes and epochs", async () => {
  const cfg = await loadExperiment(CONFIG, notebook05Schema, "smoke");
  cfg.scales = [{ scale: 2 }, { scale: 8, trainSize: 123, epochs: 3 }] as typeof cfg.scales;
  const [standard, fgsm, pgd] = cfg.modes;
  const a = capacityJob(cfg, standard, cfg.scales[0]);
  assertEquals(a.model, { kind: "madry-cnn", scale: 2 });
  assertEquals([a.data.trainSize, a.train.epochs, a.train.adversarial], [
    cfg.data.trainSize,
    cfg.train.epochs,
    undefined,
  ]);
  const b = capacityJob(cfg, pgd, cfg.scales[1]);
  assertEquals([b.data.trainSize, b.train.epochs], [123, 3]);
  assertEquals(b.train.adversarial, { attack: pgd.attack!, alpha: 0, warmup: pgd.warmup });
  assertEquals(capacityJob(cfg, fgsm, cfg.scales[1]).train.adversarial?.attack, fgsm.attack);
  assertEquals(capacityGrid(cfg).map((g) => `${g.mode.name}/${g.entry.scale}`), [
    "standard/2",
    "standard/8",
    "FGSM/2",
    "FGSM/8",
    "PGD/2",
    "PGD/8",
  ]);
  assertEquals(sweptScale(cfg), 8);
});

Deno.test("evaluationAttacks() and sweepAttack() follow the config and the 2.5 eps / steps rule", async () => {
  const cfg = await loadExperiment(CONFIG, notebook05Schema, "smoke");
  const [fgsm, pgd] = evaluationAttacks(cfg);
  assertEquals(fgsm, { kind: "fgsm", eps: 0.3 });
  assertEquals(pgd.kind === "pgd" && [pgd.steps, pgd.restarts, pgd.stepSize], [
    cfg.eval.pgdSteps,
    cfg.eval.restarts,
    2.5 * 0.3 / cfg.eval.pgdSteps,
  ]);
  assertEquals(sweepAttack(cfg, "l2", 2), {
    kind: "pgd",
    eps: 2,
    norm: "l2",
    steps: cfg.sweep.pgdSteps,
    stepSize: 5 / cfg.sweep.pgdSteps,
  });
});

Deno.test("capacityRows() gives one row per model and evaluation for the faceted figure", () => {
  const evaluation = (clean: number, f: number, p: number, worst: number) =>
    ({
      clean,
      robustAccuracy: worst,
      attacks: [{ accuracy: f }, { accuracy: p }],
    }) as unknown as RobustEvaluation;
  const rows = capacityRows([
    { mode: "PGD", scale: 4, evaluation: evaluation(0.9, 0.7, 0.6, 0.55), trainSeconds: 1 },
  ], { pgd: "PGD-20", worst: "worst" });
  assertEquals(rows, [
    { mode: "PGD", scale: 4, evaluation: "clean", accuracy: 0.9 },
    { mode: "PGD", scale: 4, evaluation: "FGSM", accuracy: 0.7 },
    { mode: "PGD", scale: 4, evaluation: "PGD-20", accuracy: 0.6 },
    { mode: "PGD", scale: 4, evaluation: "worst", accuracy: 0.55 },
  ]);
});

Deno.test("configs/05: AutoAttack on a handful of images at smoke, the authors' budget at course and paper", async () => {
  const smoke = await loadExperiment(CONFIG, notebook05Schema, "smoke");
  assert(smoke.autoAttack.testSize <= 20 && smoke.autoAttack.squareQueries <= 500, "smoke stays seconds");
  for (const scale of ["course", "paper"] as const) {
    const cfg = await loadExperiment(CONFIG, notebook05Schema, scale);
    const a = cfg.autoAttack;
    assertEquals([a.steps, a.targetClasses, a.squareQueries], [100, 9, 5000], scale);
  }
});

Deno.test("autoAttackBesidePgd() runs AutoAttack on the first images and reads PGD's record on the same ones", async () => {
  const { classifier, test } = await smallTrainedModel();
  const data = stratifiedSubset(test, 30, { seed: 8 });
  const cfg = {
    ...(await loadExperiment(CONFIG, notebook05Schema, "smoke")),
    eps: 0.06,
    autoAttack: { testSize: 12, scales: undefined, steps: 5, targetClasses: 2, squareQueries: 100 },
  };
  const evaluation = await robustEvaluate(classifier, data, { attacks: evaluationAttacks(cfg), seed: 3 });
  const settings = autoAttackSettings(cfg);
  assertEquals(settings, { eps: 0.06, testSize: 12, steps: 5, targetClasses: 2, squareQueries: 100 });
  const c = await autoAttackBesidePgd(classifier, data, evaluation, {
    ...settings,
    seed: 1,
    progress: "silent",
  });
  assertEquals([c.n, c.result.n, c.result.eps], [12, 12, 0.06]);
  const pgdFirst = Array.from(evaluation.attacks[1].correct.subarray(0, 12)).reduce((a, b) => a + b, 0) / 12;
  assertEquals(c.pgd, pgdFirst);
  assertEquals(c.autoAttack, c.result.robustAccuracy);
  assertAlmostEquals(c.gap, c.pgd - c.autoAttack, 1e-12);
  assert(c.worstCase <= Math.min(c.pgd, c.autoAttack), `worst ${c.worstCase}`);
  assert(c.autoAttack < c.clean, "AutoAttack finds adversarial examples at eps 0.06");
  const [row] = autoAttackBesidePgdRows([{ model: "mlp", comparison: c }], "PGD-5");
  assertEquals([row.model, row.images, row["PGD-5"], row.AutoAttack, row["gap (points)"]], [
    "mlp",
    12,
    c.pgd,
    c.autoAttack,
    gapPoints(c.gap),
  ]);
  assertEquals(row["failed checks"], "none", "a normally trained network raises no flag");
  assertEquals(
    c.result.perAttack.map((s) => row[`broken by ${s.name}`]),
    c.result.perAttack.map((s) => s.broken),
  );
  await assertRejects(
    () => autoAttackBesidePgd(classifier, take(data, [0, 1, 2]), evaluation, settings),
    RangeError,
    "30 images",
  );
  await assertRejects(
    () => autoAttackBesidePgd(classifier, data, evaluation, { ...settings, testSize: 0 }),
    RangeError,
    "testSize",
  );
  const fgsmOnly = { ...evaluation, attacks: evaluation.attacks.slice(0, 1) };
  await assertRejects(() => autoAttackBesidePgd(classifier, data, fgsmOnly, settings), RangeError, "no PGD");
});

Deno.test("autoAttackVerdict() says agrees within the tolerance, lower or higher outside it", () => {
  assertEquals(autoAttackVerdict({ gap: 0.01 }), "agrees");
  assertEquals(autoAttackVerdict({ gap: -0.02 }), "agrees");
  assertEquals(autoAttackVerdict({ gap: 0.05 }), "lower");
  assertEquals(autoAttackVerdict({ gap: -0.05 }), "higher");
  assertEquals(autoAttackVerdict({ gap: 0.05 }, 0.1), "agrees");
  assertThrows(() => autoAttackVerdict({ gap: 0 }, -1), RangeError, "tolerance");
  assertThrows(() => autoAttackVerdict({ gap: NaN }), RangeError, "gap");
  assertEquals([gapPoints(0.015), gapPoints(-0.005), gapPoints(0)], ["+1.5", "−0.5", "0.0"]);
});

/** A capacity result with the given clean, FGSM, PGD and worst-case accuracies. */
function capacityResult(
  scale: number,
  clean: number,
  fgsm: number,
  pgd: number,
  worst = pgd,
): CapacityResult {
  const evaluation = { clean, robustAccuracy: worst, attacks: [{ accuracy: fgsm }, { accuracy: pgd }] };
  return { mode: "m", scale, evaluation: evaluation as unknown as RobustEvaluation, trainSeconds: 0 };
}

Deno.test("reachesPaperScale() is false for the smoke grid and true for the paper's 1 to 16", async () => {
  assertEquals(PAPER_LARGEST_SCALE, 16);
  assert(!reachesPaperScale(await loadExperiment(CONFIG, notebook05Schema, "smoke")));
  assert(reachesPaperScale(await loadExperiment(CONFIG, notebook05Schema, "paper")));
});

Deno.test("fgsmTrainingVerdict() reads FGSM minus PGD accuracy against 30 and 10 points", () => {
  assertEquals(fgsmTrainingVerdict(capacityResult(8, 0.95, 0.9, 0.5)), "fgsm-only");
  assertEquals(fgsmTrainingVerdict(capacityResult(8, 0.95, 0.9, 0.7)), "fgsm-above-pgd");
  assertEquals(fgsmTrainingVerdict(capacityResult(8, 0.95, 0.9, 0.85)), "close");
  // A gap of exactly 25 points is not above a wide margin of 25 points.
  assertEquals(fgsmTrainingVerdict(capacityResult(8, 0.95, 0.5, 0.25), 0.25), "fgsm-above-pgd");
  assertEquals(fgsmTrainingVerdict(capacityResult(8, 0.95, 0.9, 0.85), 0.3, 0.01), "fgsm-above-pgd");
  assertThrows(() => fgsmTrainingVerdict(capacityResult(8, 0.9, 0.9, 0.5), 2), RangeError, "wide");
  const cascade = { ...capacityResult(8, 0.9, 0.9, 0.5) };
  cascade.evaluation = {
    ...cascade.evaluation,
    attacks: [{ accuracy: undefined }],
  } as unknown as RobustEvaluation;
  assertThrows(() => fgsmTrainingVerdict(cascade), RangeError, "no accuracy");
});

Deno.test("fgsmAboveClean() needs FGSM accuracy more than two points above the clean accuracy", () => {
  assert(fgsmAboveClean(capacityResult(1, 0.5, 0.53, 0)));
  assert(!fgsmAboveClean(capacityResult(1, 0.5, 0.51, 0)));
  assert(!fgsmAboveClean(capacityResult(1, 0.5, 0.4, 0)));
  assert(fgsmAboveClean(capacityResult(1, 0.5, 0.51, 0), 0));
  assertThrows(() => fgsmAboveClean(capacityResult(1, 0.5, 0.5, 0), -0.1), RangeError, "margin");
});

Deno.test("pgdTrainingVerdict() tells a run too short from one that needs capacity and one that fits", () => {
  const fits = [capacityResult(1, 0.9, 0.6, 0.5), capacityResult(8, 0.95, 0.7, 0.6)];
  assertEquals(pgdTrainingVerdict(fits), "fits");
  const shortRun = [capacityResult(1, 0.5, 0.2, 0.1), capacityResult(8, 0.9, 0.2, 0.15)];
  assertEquals(pgdTrainingVerdict(shortRun), "too-short", "the largest keeps 15% under attack");
  assertEquals(pgdTrainingVerdict(shortRun, 0.1), "needs-capacity", "scale 1 fits 40 points worse");
  const small = [capacityResult(1, 0.7, 0.5, 0.4), capacityResult(8, 0.95, 0.7, 0.6)];
  assertEquals(pgdTrainingVerdict(small), "needs-capacity");
  assertEquals(pgdTrainingVerdict(small, 0.2, 0.3), "fits");
  assertThrows(() => pgdTrainingVerdict([]), RangeError, "no results");
  assertThrows(() => pgdTrainingVerdict(fits, 1.2), RangeError, "minRobust");
});

Deno.test("nearestPoint(), halvingPoint() and sweepShape() read the accuracy-against-eps curve", () => {
  const point = (eps: number, accuracy: number) => ({ eps, accuracy, loss: 0 });
  const curve = [point(0, 0.9), point(0.1, 0.8), point(0.3, 0.44), point(0.4, 0.1)];
  assertEquals(nearestPoint(curve, 0.26), curve[2]);
  assertEquals(nearestPoint(curve, 1), curve[3]);
  assertEquals(halvingPoint(curve), curve[2], "44% is the first below half of 90%");
  assertEquals(halvingPoint(curve.slice(0, 2)), undefined);
  assertThrows(() => nearestPoint([], 0.3), RangeError, "empty");
  assertThrows(() => halvingPoint([]), RangeError, "empty");
  assertEquals(sweepShape(point(0.3, 0.9), point(0.4, 0.6)), { fallsPastRadius: true, robustAtRadius: true });
  assertEquals(sweepShape(point(0.3, 0.9), point(0.4, 0.75)), {
    fallsPastRadius: false,
    robustAtRadius: true,
  });
  assertEquals(sweepShape(point(0.3, 0.25), point(0.4, 0)), { fallsPastRadius: true, robustAtRadius: false });
  assertEquals(sweepShape(point(0.3, 0.25), point(0.4, 0), 0.5, 0.2), {
    fallsPastRadius: false,
    robustAtRadius: true,
  });
  assertThrows(() => sweepShape(point(0.3, 0.9), point(0.4, 0.6), 2), RangeError, "fall");
});

Deno.test("chapter 5's PGD-trained scale-16 network at full scale is deno task robust's job: one cached model", async () => {
  const cfg = await loadExperiment(CONFIG, notebook05Schema, "full");
  const pgd = cfg.modes.find((m) => m.attack?.kind === "pgd")!;
  const largest = cfg.scales.find((s) => s.scale === 16)!;
  const job = capacityJob(cfg, pgd, largest);
  assertEquals(job, robustCnnJob());
  assertEquals(
    (await artifactRef("models", trainCacheConfig(job))).key,
    (await artifactRef("models", trainCacheConfig(robustCnnJob()))).key,
  );
  assertEquals(cfg.scales.map((s) => s.scale), [1, 2, 4, 8, 16]);
  assertEquals([cfg.eval.pgdSteps, cfg.eval.pgdStepSize, cfg.eval.restarts], [100, 0.01, 20]);
  assertEquals(cfg.data.testSize, 1000);
});

Deno.test("paperComparison() states Madry et al.'s settings and, at full, each departure from them", async () => {
  const at = async (scale: "course" | "full" | "paper") =>
    paperComparison(await loadExperiment(CONFIG, notebook05Schema, scale), scale).markdown;
  const full = await at("full");
  assert(full.includes("89.3%"), full);
  assert(
    full.includes(
      "all 60,000 training images for\n7 epochs (standard training 3, FGSM training 3, for time) at batch 100",
    ),
    full,
  );
  assert(full.includes("10 steps of 0.05"), full);
  assert(full.includes("PGD-100×20, on 1,000 test images"), full);
  assert(full.includes("`deno task robust`"), full);
  assert((await at("course")).includes("`course` scale trains each network for a small"));
  assert((await at("paper")).includes("uses their training settings"));
});

Deno.test("a mode's own epochs replace the schedule's, and a scale's own epochs replace both", async () => {
  const cfg = await loadExperiment(CONFIG, notebook05Schema, "full");
  const [std, fgsm, pgd] = cfg.modes;
  const x16 = cfg.scales.find((s) => s.scale === 16)!;
  assertEquals([std, fgsm, pgd].map((m) => capacityJob(cfg, m, x16).train.epochs), [3, 3, 7]);
  assertEquals(capacityJob(cfg, std, { ...x16, epochs: 5 }).train.epochs, 5);
  // Epochs are part of the job: the same network for fewer epochs is another cached model.
  assertNotEquals(
    capacityJob(cfg, std, x16),
    capacityJob(cfg, { ...std, epochs: undefined as unknown as number }, x16),
  );
});

Deno.test("autoAttackedScale() picks the scales autoAttack.scales lists (every one without it) and names a stray one", async () => {
  const full = await loadExperiment(CONFIG, notebook05Schema, "full");
  assertEquals(full.scales.map((s) => autoAttackedScale(full, s.scale)), [false, false, false, false, true]);
  const course = await loadExperiment(CONFIG, notebook05Schema, "course");
  assert(course.scales.every((s) => autoAttackedScale(course, s.scale)));
  const stray = { ...full, autoAttack: { ...full.autoAttack, scales: [16, 32] } };
  assertThrows(() => autoAttackedScale(stray, 16), RangeError, "32");
  assert(!("scales" in autoAttackSettings(full)), "the budget handed to AutoAttack has no scales");
});
