import * as tf from "@tensorflow/tfjs";
import { assertEquals, assertGreater, assertRejects, assertThrows } from "@std/assert";
import { makeAttack } from "../../lib/attacks/make.ts";
import { loadDataset, stratifiedSubset } from "../../lib/data/mod.ts";
import { evaluate } from "../../lib/eval/mod.ts";
import { asClassifier, buildModel } from "../../lib/models/mod.ts";
import {
  relativeTrainingCost,
  train,
  trainAdversarial,
  trainCached,
  trainingAttack,
  type TrainJob,
  type TrainOptions,
  warmedUp,
} from "../../lib/train/mod.ts";
import { setupBackend } from "../_helpers.ts";

await setupBackend();
const shape = { inputShape: [28, 28, 1] as [number, number, number], classes: 10 };
const data = stratifiedSubset(await loadDataset("mnist", "train"), 1000, { seed: 21 });
const test = stratifiedSubset(await loadDataset("mnist", "test"), 300, { seed: 22 });

const base: TrainOptions = {
  epochs: 1,
  batchSize: 50,
  optimizer: { name: "adam", learningRate: 3e-3 },
  seed: 6,
  progress: "silent",
};

function weightsOf(model: tf.LayersModel): number[] {
  return model.getWeights().flatMap((w) => Array.from(w.dataSync()));
}

Deno.test("trainAdversarial() with alpha = 1 ends with exactly the weights of standard training", async () => {
  const standard = buildModel({ kind: "mlp", hidden: [16] }, shape, 4);
  const mixed = buildModel({ kind: "mlp", hidden: [16] }, shape, 4);
  await train(standard, data, base);
  await trainAdversarial(mixed, data, {
    ...base,
    attack: trainingAttack("pgd", 0.3, { steps: 2 }),
    alpha: 1,
  });
  assertEquals(weightsOf(mixed), weightsOf(standard));
  // And alpha < 1 really changes the result.
  const adversarial = buildModel({ kind: "mlp", hidden: [16] }, shape, 4);
  await trainAdversarial(adversarial, data, { ...base, attack: trainingAttack("fgsm", 0.3), alpha: 0.5 });
  const reference = weightsOf(standard);
  assertGreater(weightsOf(adversarial).reduce((m, v, i) => Math.max(m, Math.abs(v - reference[i])), 0), 1e-3);
  tf.dispose([standard, mixed, adversarial].flatMap((m) => m.getWeights()));
});

Deno.test("trainAdversarial() raises robust accuracy over standard training on a small MNIST problem", async () => {
  // Goodfellow et al.'s mixed objective (alpha = 0.5) with PGD-3 at eps = 0.1: on 1,000 images and 60 steps
  // pure adversarial training (alpha = 0) would still sit on its plateau at the uniform prediction.
  const eps = 0.1;
  const options = { ...base, epochs: 3 };
  const standard = buildModel({ kind: "mlp", hidden: [32] }, shape, 5);
  const robust = buildModel({ kind: "mlp", hidden: [32] }, shape, 5);
  await train(standard, data, options);
  await trainAdversarial(robust, data, {
    ...options,
    attack: trainingAttack("pgd", eps, { steps: 3 }),
    alpha: 0.5,
  });
  const pgd = makeAttack({ kind: "pgd", eps, steps: 10, stepSize: 2.5 * eps / 10 }, 1);
  const underAttack = async (m: tf.LayersModel) =>
    (await evaluate(asClassifier(m), test, { attack: pgd })).accuracy;
  const [stdRobust, advRobust] = [await underAttack(standard), await underAttack(robust)];
  assertGreater(advRobust, stdRobust + 0.15, `PGD accuracy: standard ${stdRobust}, adversarial ${advRobust}`);
  assertGreater((await evaluate(asClassifier(robust), test)).accuracy, 0.7);
  standard.dispose();
  robust.dispose();
});

Deno.test("trainAdversarial() interrupted and resumed ends with the weights of an uninterrupted run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const options = { ...base, attack: trainingAttack("pgd", 0.2, { steps: 2 }), alpha: 0.3, warmup: 0.5 };
    const straight = buildModel({ kind: "mlp", hidden: [8] }, shape, 6);
    await trainAdversarial(straight, data, options);
    const first = buildModel({ kind: "mlp", hidden: [8] }, shape, 6);
    const part = await trainAdversarial(first, data, { ...options, checkpointDir: dir, stopAfterStep: 9 });
    assertEquals([part.steps, part.finished], [9, false]);
    const resumed = buildModel({ kind: "mlp", hidden: [8] }, shape, 6);
    const rest = await trainAdversarial(resumed, data, { ...options, checkpointDir: dir });
    assertEquals([rest.resumedFrom, rest.finished], [9, true]);
    assertEquals(weightsOf(resumed), weightsOf(straight));
    [straight, first, resumed].forEach((m) => m.dispose());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainAdversarial() rejects alpha outside [0, 1]", async () => {
  const model = buildModel({ kind: "mlp", hidden: [4] }, shape, 1);
  for (const alpha of [-0.1, 1.5, NaN]) {
    await assertRejects(
      () => trainAdversarial(model, data, { ...base, attack: trainingAttack("fgsm", 0.1), alpha }),
      RangeError,
      "alpha",
    );
  }
  model.dispose();
});

Deno.test("trainingAttack() names the training attacks of the literature with their step rules", () => {
  assertEquals(trainingAttack("fgsm", 0.3), { kind: "fgsm", eps: 0.3, norm: "linf" });
  assertEquals(trainingAttack("fgsm-rs", 0.3), {
    kind: "fgsm",
    eps: 0.3,
    norm: "linf",
    randomStart: true,
    stepSize: 1.25 * 0.3,
  });
  assertEquals(trainingAttack("rfgsm", 0.3), { kind: "rfgsm", eps: 0.3, alpha: 0.15 });
  assertEquals(trainingAttack("pgd", 0.3, { steps: 40, stepSize: 0.01 }), {
    kind: "pgd",
    eps: 0.3,
    norm: "linf",
    steps: 40,
    stepSize: 0.01,
  });
  assertEquals(
    trainingAttack("pgd", 0.3, { steps: 10 }).kind === "pgd" && trainingAttack("pgd", 0.3, { steps: 10 }),
    {
      kind: "pgd",
      eps: 0.3,
      norm: "linf",
      steps: 10,
      stepSize: 0.075,
    },
  );
  assertThrows(() => trainingAttack("rfgsm", 1, { norm: "l2" }), RangeError, "l-inf");
  // deno-lint-ignore no-explicit-any
  assertThrows(() => trainingAttack("bim" as any, 0.3), RangeError, "unknown");
});

Deno.test("relativeTrainingCost() counts one gradient per attack step on top of the training step", () => {
  assertEquals(relativeTrainingCost(undefined), 1);
  assertEquals(relativeTrainingCost(trainingAttack("fgsm", 0.3)), 2);
  assertEquals(relativeTrainingCost(trainingAttack("rfgsm", 0.3)), 2);
  assertEquals(relativeTrainingCost(trainingAttack("pgd", 0.3, { steps: 40 })), 41);
  assertEquals(relativeTrainingCost({ kind: "pgd", eps: 0.3, steps: 10, restarts: 2 }), 21);
});

Deno.test("warmedUp() scales eps and every step length of an attack, and nothing else", () => {
  assertEquals(warmedUp(trainingAttack("pgd", 0.3, { steps: 10, stepSize: 0.1 }), 0.5), {
    kind: "pgd",
    eps: 0.15,
    norm: "linf",
    steps: 10,
    stepSize: 0.05,
  });
  assertEquals(warmedUp({ kind: "fgsm", eps: 0.2 }, 0.25), { kind: "fgsm", eps: 0.05 });
  assertEquals(warmedUp(trainingAttack("rfgsm", 0.2), 0.5), { kind: "rfgsm", eps: 0.1, alpha: 0.05 });
});

Deno.test("trainAdversarial() with a warm-up trains differently from one without", async () => {
  const attack = trainingAttack("fgsm", 0.3);
  const plain = buildModel({ kind: "mlp", hidden: [8] }, shape, 7);
  const warmed = buildModel({ kind: "mlp", hidden: [8] }, shape, 7);
  await trainAdversarial(plain, data, { ...base, attack });
  await trainAdversarial(warmed, data, { ...base, attack, warmup: 0.5 });
  const reference = weightsOf(plain);
  assertGreater(weightsOf(warmed).reduce((m, v, i) => Math.max(m, Math.abs(v - reference[i])), 0), 1e-3);
  plain.dispose();
  warmed.dispose();
});

Deno.test("trainCached() of an adversarial job, interrupted, resumes to the weights of an uninterrupted run", async () => {
  const job: TrainJob = {
    data: { dataset: "mnist", trainSize: 300, seed: 2 },
    model: { kind: "mlp", hidden: [8] },
    initSeed: 3,
    train: {
      ...base,
      adversarial: { attack: trainingAttack("pgd", 0.3, { steps: 2 }), alpha: 0, warmup: 0.5 },
    },
  };
  const weights: number[][] = [];
  for (const interrupt of [false, true]) {
    const dir = await Deno.makeTempDir();
    Deno.env.set("ADVEX_CACHE_DIR", dir);
    try {
      if (interrupt) {
        const part = await trainCached(job, { progress: "silent", stopAfterStep: 2 });
        assertEquals([part.report.steps, part.report.finished, part.fromCache], [2, false, false]);
        part.model.dispose();
      }
      const done = await trainCached(job, { progress: "silent" });
      assertEquals([done.report.resumedFrom, done.report.steps], [interrupt ? 2 : 0, 6]);
      weights.push(weightsOf(done.model));
      done.model.dispose();
    } finally {
      Deno.env.delete("ADVEX_CACHE_DIR");
      await Deno.remove(dir, { recursive: true });
    }
  }
  assertEquals(weights[1], weights[0]);
});
