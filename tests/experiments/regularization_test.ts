import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertGreater,
  assertLess,
  assertThrows,
} from "@std/assert";
import { loadExperiment, SCALES } from "../../lib/config/mod.ts";
import { loadDataset, stratifiedSubset, twoClassSubset } from "../../lib/data/mod.ts";
import {
  compareWeights,
  fgsmAccuracyRises,
  mixedObjectiveJob,
  notebook06Schema,
  trainLogisticClosedForm,
  weightsDiffer,
  weightStats,
} from "../../lib/experiments/regularization.ts";
import { binaryLogistic, binaryWeights } from "../../lib/models/logistic_binary.ts";
import { train, trainAdversarial } from "../../lib/train/mod.ts";
import { setupBackend } from "../_helpers.ts";

await setupBackend();
const CONFIG = new URL("../../configs/06-regularization.yaml", import.meta.url);
const pairs = stratifiedSubset(twoClassSubset(await loadDataset("mnist", "train"), [3, 7]), 600, { seed: 5 });
const schedule = {
  epochs: 2,
  batchSize: 50,
  optimizer: { name: "adam" as const, learningRate: 0.01 },
  seed: 3,
  progress: "silent" as const,
};

Deno.test("configs/06-regularization.yaml loads at every scale, with a small smoke scale", async () => {
  for (const scale of SCALES) {
    const cfg = await loadExperiment(CONFIG, notebook06Schema, scale);
    assertEquals(cfg.logistic.digits.length, 2);
    assertEquals(cfg.mixed.alphas.includes(1) && cfg.mixed.alphas.includes(0), true, scale);
  }
  const smoke = await loadExperiment(CONFIG, notebook06Schema, "smoke");
  assert(smoke.data.trainSize > 0 && smoke.data.trainSize <= 2000, "smoke trains on a small subset");
  assert(smoke.logistic.trainSize > 0 && smoke.logistic.trainSize <= 2000);
});

Deno.test("mixedObjectiveJob() trains alpha = 1 without an attack and other alphas with FGSM at eps", async () => {
  const cfg = await loadExperiment(CONFIG, notebook06Schema, "smoke");
  assertEquals(mixedObjectiveJob(cfg, 1).train.adversarial, undefined);
  assertEquals(mixedObjectiveJob(cfg, 0.5).train.adversarial, {
    attack: { kind: "fgsm", eps: cfg.mixed.eps },
    alpha: 0.5,
  });
  assertEquals(mixedObjectiveJob(cfg, 0).model, cfg.mixed.model);
});

Deno.test("trainLogisticClosedForm() takes the same steps as FGSM adversarial training without clipping", async () => {
  const eps = 0.2;
  const adversarial = binaryLogistic([28, 28, 1]);
  await trainAdversarial(adversarial, pairs, {
    ...schedule,
    attack: { kind: "fgsm", eps, clipMin: -Infinity, clipMax: Infinity },
    alpha: 0,
  });
  const closed = binaryLogistic([28, 28, 1]);
  const report = await trainLogisticClosedForm(closed, pairs, { ...schedule, eps });
  assertEquals(report.epochLoss.length, 2);
  const standard = binaryLogistic([28, 28, 1]);
  await train(standard, pairs, schedule);
  const [a, c, s] = [adversarial, closed, standard].map(binaryWeights);
  const same = compareWeights(a.w, c.w);
  const other = compareWeights(s.w, c.w);
  assertLess(same.relative, 0.01, `adversarial vs closed form: ${same.relative}`);
  assertGreater(other.relative, 1, `standard vs closed form: ${other.relative}`);
  assertAlmostEquals(a.b, c.b, 1e-2);
  // The l1 penalty inside the softplus: far smaller l1 norm than standard training.
  assertLess(weightStats(c.w).l1, weightStats(s.w).l1 / 3);
  [adversarial, closed, standard].forEach((m) => m.dispose());
});

Deno.test("trainLogisticClosedForm() with eps = 0 is standard logistic regression", async () => {
  const closed = binaryLogistic([28, 28, 1]);
  await trainLogisticClosedForm(closed, pairs, { ...schedule, eps: 0 });
  const standard = binaryLogistic([28, 28, 1]);
  await train(standard, pairs, schedule);
  assertLess(compareWeights(binaryWeights(closed).w, binaryWeights(standard).w).relative, 1e-3);
  closed.dispose();
  standard.dispose();
});

Deno.test("trainLogisticClosedForm() does not leak tensors", async () => {
  const model = binaryLogistic([28, 28, 1]);
  await trainLogisticClosedForm(model, pairs, { ...schedule, epochs: 1, eps: 0.1 });
  const before = tf.memory().numTensors;
  await trainLogisticClosedForm(model, pairs, { ...schedule, epochs: 1, eps: 0.1 });
  assertEquals(tf.memory().numTensors, before);
  model.dispose();
});

Deno.test("weightStats() and compareWeights() summarise weight vectors", () => {
  const s = weightStats([3, -4, 0, 0.0001]);
  assertAlmostEquals(s.l1, 7.0001, 1e-12);
  assertAlmostEquals(s.l2, Math.sqrt(25 + 1e-8), 1e-12);
  assertEquals([s.maxAbs, s.nearZero], [4, 0.5]);
  assertEquals(compareWeights([1, 0], [1, 0]), { relative: 0, cosine: 1 });
  assertAlmostEquals(compareWeights([0, 1], [1, 0]).cosine, 0, 1e-12);
  assertAlmostEquals(compareWeights([2, 0], [1, 0]).relative, 1, 1e-12);
  assertThrows(() => compareWeights([1], [1, 2]), RangeError, "differ");
});

Deno.test("fgsmAccuracyRises() needs the FGSM accuracy to rise by more than ten points", () => {
  assert(fgsmAccuracyRises(0.1, 0.5));
  assert(!fgsmAccuracyRises(0.1, 0.15), "five points");
  assert(!fgsmAccuracyRises(0.5, 0.1), "a fall");
  assert(fgsmAccuracyRises(0.1, 0.15, 0.01));
  assertThrows(() => fgsmAccuracyRises(0.1, 0.5, 1.5), RangeError, "by");
  assertThrows(() => fgsmAccuracyRises(Number.NaN, 0.5), RangeError, "from");
});

Deno.test("weightsDiffer() tells weights apart above a relative distance of 1e-3", () => {
  assert(weightsDiffer(0.01));
  assert(!weightsDiffer(1e-3), "exactly the tolerance");
  assert(!weightsDiffer(0));
  assert(weightsDiffer(1e-4, 1e-5));
  assertThrows(() => weightsDiffer(-1), RangeError, "relativeDistance");
  assertThrows(() => weightsDiffer(0.1, -1), RangeError, "tolerance");
});
