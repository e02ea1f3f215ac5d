import { assert, assertAlmostEquals, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { makeAttack } from "../../lib/attacks/mod.ts";
import { transferAttack } from "../../lib/eval/mod.ts";
import { loadExperiment, SCALES } from "../../lib/config/mod.ts";
import { constructedSpec, slice } from "../../lib/data/mod.ts";
import { specKey as configKey } from "../../lib/store/mod.ts";
import {
  aboveChanceTargets,
  allBelowChance,
  bootstrapCorrelation,
  buildSourceSet,
  correlationStrength,
  loadPretrainedConfig,
  notebook03Schema,
  pearson,
  shiftedShare,
  spearman,
  transferPoints,
  transferTargetJobs,
} from "../../lib/experiments/mod.ts";
import { describeModel } from "../../lib/models/mod.ts";
import { trainCacheConfig } from "../../lib/train/mod.ts";
import { setupBackend, smallTrainedModel } from "../_helpers.ts";

await setupBackend();
const CONFIG = new URL("../../configs/03-transferability.yaml", import.meta.url).pathname;

Deno.test("notebook03Schema accepts the shipped config at every scale, with five or more distinct families", async () => {
  for (const scale of SCALES) {
    const cfg = await loadExperiment(CONFIG, notebook03Schema, scale);
    const families = new Set(cfg.targets.map((t) => t.model.kind));
    assert(families.size >= 5, `${scale}: only ${families.size} families`);
    const source = await loadPretrainedConfig(cfg, CONFIG, scale);
    assertEquals(source.model.kind, "resnet50", scale);
    assertEquals(cfg.transfer.attack.kind === "pgd" || cfg.transfer.attack.kind === "fgsm", true);
  }
});

Deno.test("transferTargetJobs() trains each target on D and on D_det alike, keyed apart by the construction", async () => {
  const cfg = await loadExperiment(CONFIG, notebook03Schema, "course");
  const det = (source: string) =>
    constructedSpec("non-robust", source, { from: "x", size: 10 }, { rule: "det" });
  const jobs = transferTargetJobs(cfg, "mnist", det("abc123"));
  assertEquals(jobs.map((j) => j.name), cfg.targets.map((t) => t.name));
  for (const j of jobs) {
    assertEquals({ ...j.constructed, data: undefined }, { ...j.standard, data: undefined });
    assertEquals(j.standard.data, { dataset: "mnist", trainSize: cfg.nonRobust.size, seed: cfg.seed });
    assertEquals(j.constructed.data, det("abc123"));
    assertNotEquals(
      await configKey(trainCacheConfig(j.constructed)),
      await configKey(trainCacheConfig(j.standard)),
    );
  }
  const other = transferTargetJobs(cfg, "mnist", det("def456"));
  assertNotEquals(
    await configKey(trainCacheConfig(other[0].constructed)),
    await configKey(trainCacheConfig(jobs[0].constructed)),
  );
  const twice = { ...cfg, targets: [cfg.targets[0], { ...cfg.targets[1], name: cfg.targets[0].name }] };
  assertThrows(() => transferTargetJobs(twice, "mnist", det("k")), RangeError, "used twice");
});

Deno.test("shiftedShare() counts predictions equal to the label moved by an offset, modulo the classes", () => {
  const labels = [0, 1, 2, 9, 9];
  assertEquals(shiftedShare([1, 2, 3, 0, 5], labels, 10, 1), 4 / 5);
  assertEquals(shiftedShare([0, 1, 0, 9, 0], labels, 10), 3 / 5);
  assertThrows(() => shiftedShare([1], labels, 10, 1), RangeError);
});

Deno.test("pearson() and spearman() match hand-computed values and reject bad input", () => {
  assertAlmostEquals(pearson([1, 2, 3], [2, 4, 6]), 1, 1e-12);
  assertAlmostEquals(pearson([1, 2, 3], [3, 2, 1]), -1, 1e-12);
  // x = 1..4, y = 1, 3, 2, 4: sxy = 4, sxx = syy = 5.
  assertAlmostEquals(pearson([1, 2, 3, 4], [1, 3, 2, 4]), 0.8, 1e-12);
  // Monotone but not linear: Spearman 1, Pearson below 1.
  assertAlmostEquals(spearman([1, 2, 3, 4], [1, 8, 27, 1000]), 1, 1e-12);
  assert(pearson([1, 2, 3, 4], [1, 8, 27, 1000]) < 0.9);
  // Ties share their average rank: ranks of [5, 5, 1] are [2.5, 2.5, 1].
  assertAlmostEquals(spearman([5, 5, 1], [2, 3, 1]), pearson([2.5, 2.5, 1], [2, 3, 1]), 1e-12);
  assert(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
  assertThrows(() => pearson([1, 2], [1]), RangeError);
  assertThrows(() => pearson([1], [1]), RangeError);
});

Deno.test("aboveChanceTargets() and allBelowChance() compare each D_det model with chance, 1 / classes, on both sides", () => {
  const info = {
    A: { setAccuracy: 0.09 },
    B: { setAccuracy: 0.3 },
    C: { setAccuracy: 0.11 },
    D: { setAccuracy: 0.1 },
  };
  // Above chance only, the most accurate first; exactly chance is not above it.
  assertEquals(aboveChanceTargets(info, 10), ["B", "C"]);
  assertEquals(aboveChanceTargets(info, 2), []);
  assertEquals(aboveChanceTargets(info, 20), ["B", "C", "D", "A"]);
  assert(allBelowChance([{ setAccuracy: 0.02 }, { setAccuracy: 0.099 }], 10));
  assert(!allBelowChance([{ setAccuracy: 0.02 }, { setAccuracy: 0.1 }], 10));
  assert(!allBelowChance([{ setAccuracy: 0.02 }, { setAccuracy: 0.099 }], 20));
  assertThrows(() => aboveChanceTargets(info, 1), RangeError, "classes");
  assertThrows(() => allBelowChance([], 2.5), RangeError, "classes");
});

Deno.test("correlationStrength() reads r above 0.5 as strong, above 0 as weak, and anything else as none", () => {
  assertEquals(correlationStrength(0.98), "strong");
  assertEquals(correlationStrength(0.51), "strong");
  assertEquals(correlationStrength(0.5), "weak");
  assertEquals(correlationStrength(0.01), "weak");
  assertEquals(correlationStrength(0), "none");
  assertEquals(correlationStrength(-0.8), "none");
  assertEquals(correlationStrength(NaN), "none");
});

Deno.test("buildSourceSet() relabels every image (y + 1) mod 10, is cached, and transferPoints() joins the numbers", async () => {
  const dir = await Deno.makeTempDir();
  const old = Deno.env.get("ADVEX_CACHE_DIR");
  Deno.env.set("ADVEX_CACHE_DIR", dir);
  try {
    const cfg = await loadExperiment(CONFIG, notebook03Schema, "smoke");
    const small = {
      ...cfg,
      nonRobust: { ...cfg.nonRobust, size: 40, steps: 10, chunkSize: 20, batchSize: 20 },
    };
    const { classifier, test } = await smallTrainedModel();
    const images = slice(test, 0, 40);
    const first = await buildSourceSet(small, classifier, images, { sourceKey: "mlp", progress: "silent" });
    assertEquals(first.built.fromCache, false);
    for (let i = 0; i < 40; i++) assertEquals(first.built.dataset.labels[i], (images.labels[i] + 1) % 10);
    assert(first.built.successRate > 0.5, `success ${first.built.successRate}`);
    for (const d of first.built.perturbation) assert(d <= small.nonRobust.eps + 1e-4);
    const again = await buildSourceSet(small, classifier, images, { sourceKey: "mlp", progress: "silent" });
    assertEquals([again.built.fromCache, again.key], [true, first.key]);
    assertEquals(again.data, first.data);
    assertEquals(first.built.dataset.origin, first.key);
    const otherSource = await buildSourceSet(small, classifier, images, {
      sourceKey: "other",
      progress: "silent",
    });
    assertNotEquals(otherSource.key, first.key);
    // D_rand: every label a wrong class, not always the next one; keyed apart from D_det.
    const rand = { ...small, nonRobust: { ...small.nonRobust, rule: "rand" as const } };
    const r = await buildSourceSet(rand, classifier, images, { sourceKey: "mlp", progress: "silent" });
    assertNotEquals(r.key, first.key);
    for (let i = 0; i < 40; i++) assertNotEquals(r.built.dataset.labels[i], images.labels[i]);
    const next = Array.from(
      { length: 40 },
      (_, i) => r.built.dataset.labels[i] === (images.labels[i] + 1) % 10,
    );
    assert(next.filter(Boolean).length < 20, "D_rand's targets are not the (y + 1) rule");

    // transferPoints() on a report whose targets are the source itself and a constant model.
    const zero = { predict: (x: { shape: number[] }) => new Int32Array(x.shape[0]) };
    const report = await transferAttack(
      classifier,
      { A: classifier, B: zero },
      images,
      makeAttack({ kind: "fgsm", eps: 0.2 }),
    );
    const jobs = transferTargetJobs(small, "mnist", first.data).slice(0, 2)
      .map((j, i) => ({ ...j, name: ["A", "B"][i] }));
    const acc = (setAccuracy: number) => ({
      model: describeModel(jobs[0].standard.model),
      parameters: 1,
      setAccuracy,
      setShifted: 0.5,
      standardAccuracy: 0.9,
    });
    const points = transferPoints(jobs, { A: acc(0.3), B: acc(0.1) }, report);
    assertEquals(points.map((p) => p.transferRate), [1, report.targets[1].transferRate]);
    assertEquals([points[0].setAccuracy, points[1].setAccuracy, points[0].standardAccuracy], [0.3, 0.1, 0.9]);
    assertThrows(() => transferPoints(jobs, { A: acc(0.3) }, report), Error, "no accuracies for B");
  } finally {
    if (old === undefined) Deno.env.delete("ADVEX_CACHE_DIR");
    else Deno.env.set("ADVEX_CACHE_DIR", old);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bootstrapCorrelation() brackets r, narrows with more points, and is the same for the same seed", () => {
  // Seven points on a noisy line, and seventy drawn the same way.
  const line = (n: number) => {
    const x = Array.from({ length: n }, (_, i) => i / n);
    return { x, y: x.map((v, i) => v + 0.15 * Math.sin(7 * i)) };
  };
  const few = line(7), many = line(70);
  const a = bootstrapCorrelation(few.x, few.y, { resamples: 2000, seed: 1 });
  assertAlmostEquals(a.estimate, pearson(few.x, few.y), 1e-12);
  assert(a.lo <= a.estimate && a.estimate <= a.hi, `${a.lo} ${a.estimate} ${a.hi}`);
  assert(a.hi <= 1 && a.lo >= -1);
  assertEquals(a.level, 0.95);
  const b = bootstrapCorrelation(many.x, many.y, { resamples: 2000, seed: 1 });
  assert(b.hi - b.lo < a.hi - a.lo, "more points, a narrower interval");
  assertEquals(bootstrapCorrelation(few.x, few.y, { resamples: 2000, seed: 1 }), a);
  // Two points: most resamples repeat one point, where r is undefined; those are counted, not used.
  const two = bootstrapCorrelation([0, 1], [0, 1], { resamples: 200, seed: 2 });
  assert(two.undefinedResamples > 50 && two.undefinedResamples < 200);
  assertThrows(() => bootstrapCorrelation(few.x, few.y, { level: 1 }), RangeError, "level");
  assertThrows(() => bootstrapCorrelation(few.x, few.y, { resamples: 0 }), RangeError, "resamples");
});
