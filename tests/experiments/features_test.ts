import { assert, assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { ConfigError, loadExperiment, SCALES } from "../../lib/config/mod.ts";
import { makeDataset } from "../../lib/data/mod.ts";
import {
  constructedDifferenceRow,
  constructedRow,
  detHarderThanRand,
  featuresAdversarialJob,
  featuresAttack,
  featuresBars,
  featuresBinaryTask,
  featuresTenClassTasks,
  meanImageL2Norm,
  type Notebook02Config,
  notebook02Schema,
  readRobustFeatures,
  runNonRobust,
  swappedLabelsLearned,
} from "../../lib/experiments/mod.ts";
import { setupBackend } from "../_helpers.ts";

const CONFIG = new URL("../../configs/02-robust-and-non-robust-features.yaml", import.meta.url);

Deno.test("notebook02Schema accepts the shipped config at every scale", async () => {
  for (const scale of SCALES) {
    const cfg = await loadExperiment(CONFIG, notebook02Schema, scale);
    assertEquals(cfg.nonRobust.binary.classes.length, 2, scale);
    assert(cfg.robust.size >= 1 && cfg.nonRobust.size >= 1, scale);
    const job = featuresAdversarialJob(cfg);
    assertEquals(job.train.adversarial?.alpha, 0);
    assertEquals((job.train.adversarial?.attack as { norm: string }).norm, "l2");
    assertEquals(featuresAttack(cfg).kind, "pgd");
  }
  const course = await loadExperiment(CONFIG, notebook02Schema, "course");
  assertEquals(course.evaluation.eps, 1, "one robust-accuracy radius for the whole chapter");
  assertEquals(featuresTenClassTasks(course).map((t) => t.id), ["mnist", "fashion-mnist"]);
});

Deno.test("notebook02Schema names the key of a wrong setting", async () => {
  const text = await Deno.readTextFile(CONFIG);
  const { parseExperiment } = await import("../../lib/config/mod.ts");
  let error: unknown;
  try {
    parseExperiment(
      text.replace("attack: { eps: 3.0, steps: 10 }", "attack: { eps: -1, steps: 10 }"),
      notebook02Schema,
      "smoke",
    );
  } catch (e) {
    error = e;
  }
  assert(error instanceof ConfigError && /nonRobust\.attack\.eps/.test(error.message), String(error));
});

Deno.test("featuresAdversarialJob() uses the adversarial epochs when given, else those of standard training", async () => {
  const cfg = await loadExperiment(CONFIG, notebook02Schema, "smoke");
  assertEquals(featuresAdversarialJob(cfg).train.epochs, cfg.robust.train.epochs);
  const longer = { ...cfg, robust: { ...cfg.robust, adversarial: { ...cfg.robust.adversarial, epochs: 9 } } };
  assertEquals(featuresAdversarialJob(longer).train.epochs, 9);
});

Deno.test("featuresBinaryTask() names the two classes and rejects a pair that is not two different classes", async () => {
  const cfg = await loadExperiment(CONFIG, notebook02Schema, "smoke");
  const task = await featuresBinaryTask(cfg);
  assertEquals(task.classes, [2, 4]);
  assertEquals(task.title, "Fashion-MNIST Pullover vs Coat");
  const same = {
    ...cfg,
    nonRobust: { ...cfg.nonRobust, binary: { ...cfg.nonRobust.binary, classes: [3, 3] } },
  };
  await assertRejects(() => featuresBinaryTask(same), RangeError, "two different classes");
});

Deno.test("constructedRow(), constructedDifferenceRow(), featuresBars() and meanImageL2Norm() shape what the notebook shows", () => {
  const a = makeDataset("a", Float32Array.from([0, 0, 0, 1, 0.6, 0.8, 0, 0]), Int32Array.from([0, 1]), [
    2,
    2,
    1,
  ], ["x", "y"]);
  const b = makeDataset("b", Float32Array.from([0.5, 0, 0, 1, 0.6, 0.8, 0, 0.25]), Int32Array.from([1, 0]), [
    2,
    2,
    1,
  ], ["x", "y"]);
  const row = constructedRow("r", b, 5, "labelled ");
  assertEquals(row.captions, ["labelled y", "labelled x"]);
  assertEquals((row.images as Float32Array[]).length, 2);
  const diff = constructedDifferenceRow("d", b, a, 2);
  assertEquals(Array.from((diff.images as Float32Array[])[0]), [0.5, 0, 0, 0]);
  assertEquals(Array.from((diff.images as Float32Array[])[1]), [0, 0, 0, 0.25]);
  assertAlmostEquals(meanImageL2Norm(a), 1, 1e-6);
  const fake = { label: "m", clean: 0.9, robust: 0.1 } as Parameters<typeof featuresBars>[0][number];
  assertEquals(featuresBars([fake], ["D"]), [
    { model: "D", accuracy: "clean", value: 0.9 },
    { model: "D", accuracy: "robust", value: 0.1 },
  ]);
});

Deno.test("runNonRobust() relabels D_det with (y + 1) mod C, caches the set, and scores every model", async () => {
  await setupBackend();
  const dir = await Deno.makeTempDir();
  Deno.env.set("ADVEX_CACHE_DIR", dir);
  Deno.env.set("ADVEX_PROGRESS", "silent");
  try {
    const smoke = await loadExperiment(CONFIG, notebook02Schema, "smoke");
    const cfg: Notebook02Config = {
      ...smoke,
      evaluation: { ...smoke.evaluation, testSize: 50, steps: 2 },
      nonRobust: {
        ...smoke.nonRobust,
        trainSize: 300,
        size: 60,
        chunkSize: 25,
        attack: { ...smoke.nonRobust.attack, eps: 2, steps: 3 },
        train: { ...smoke.nonRobust.train, epochs: 1 },
        freshTrain: { ...smoke.nonRobust.freshTrain, epochs: 1 },
      },
    };
    const task = featuresTenClassTasks(cfg)[0];
    const run = await runNonRobust(cfg, task, ["det"]);
    const set = run.sets[0];
    assertEquals(set.name, "D_det");
    assertEquals(Array.from(set.built.dataset.labels), Array.from(set.original.labels, (y) => (y + 1) % 10));
    for (const m of [run.source, set.fresh]) {
      assert(m.clean >= 0 && m.clean <= 1 && m.robust >= 0 && m.robust <= m.clean + 0.2);
    }
    assert(set.shifted >= 0 && set.shifted <= 1);
    const again = await runNonRobust(cfg, task, ["det"]);
    assert(
      again.sets[0].built.fromCache && again.sets[0].fresh.trained.fromCache &&
        again.source.trained.fromCache,
    );
    assertEquals(Array.from(again.sets[0].built.dataset.images), Array.from(set.built.dataset.images));
  } finally {
    Deno.env.delete("ADVEX_CACHE_DIR");
    Deno.env.delete("ADVEX_PROGRESS");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("swappedLabelsLearned() asks for more than 55% on the two-class test set, not just above chance", () => {
  assert(swappedLabelsLearned({ clean: 0.9 }));
  assert(swappedLabelsLearned({ clean: 0.56 }));
  assert(!swappedLabelsLearned({ clean: 0.55 }));
  assert(!swappedLabelsLearned({ clean: 0.52 }));
});

Deno.test("detHarderThanRand() holds only when D_det's model is below D_rand's on every task", () => {
  const run = (rand: number, det: number) => ({
    sets: [{ rule: "rand" as const, fresh: { clean: rand } }, {
      rule: "det" as const,
      fresh: { clean: det },
    }],
  });
  const runs = (pairs: [number, number][]) => pairs.map(([r, d]) => run(r, d));
  assert(detHarderThanRand(runs([[0.6, 0.3], [0.5, 0.2]])));
  assert(!detHarderThanRand(runs([[0.6, 0.3], [0.2, 0.5]])));
  assert(!detHarderThanRand(runs([[0.4, 0.4]])));
  assertThrows(() => detHarderThanRand([{ sets: [run(0.1, 0.2).sets[1]] }]), RangeError, "D_rand");
});

Deno.test("readRobustFeatures() measures gain and cost against standard training and flags each side of its thresholds", () => {
  const score = (clean: number, robust: number) => ({ clean, robust });
  const standard = score(0.99, 0.2);
  const r = readRobustFeatures({ standard, onRobust: score(0.95, 0.4), onNonRobust: score(0.98, 0.1) });
  assertAlmostEquals(r.gain, 0.2, 1e-12);
  assertAlmostEquals(r.cost, 0.04, 1e-12);
  assertEquals([r.moreRobust, r.costsClean, r.nonRobustAsBrittle, r.standardKeepsSome], [
    true,
    true,
    true,
    true,
  ]);
  const s = readRobustFeatures({
    standard: score(0.9, 0.08),
    onRobust: score(0.9, 0.12),
    onNonRobust: score(0.9, 0.09),
  });
  assertEquals([s.moreRobust, s.costsClean, s.nonRobustAsBrittle, s.standardKeepsSome], [
    false,
    false,
    false,
    false,
  ]);
  // Equal robust accuracy on D_NR and D counts as "no more robust".
  assert(
    readRobustFeatures({ standard, onRobust: standard, onNonRobust: score(0.9, 0.2) }).nonRobustAsBrittle,
  );
});
