import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertGreater, assertRejects, assertThrows } from "@std/assert";
import { join } from "node:path";
import { loadDataset, stratifiedSubset } from "../../lib/data/mod.ts";
import { evaluate } from "../../lib/eval/mod.ts";
import { asClassifier, buildModel } from "../../lib/models/mod.ts";
import {
  createOptimizer,
  epochOrder,
  learningRateAt,
  mixedObjective,
  shiftImage,
  standardObjective,
  train,
  type TrainOptions,
} from "../../lib/train/mod.ts";
import { setupBackend } from "../_helpers.ts";

await setupBackend();
const shape = { inputShape: [28, 28, 1] as [number, number, number], classes: 10 };
const data = stratifiedSubset(await loadDataset("mnist", "train"), 600, { seed: 1 });
const test = stratifiedSubset(await loadDataset("mnist", "test"), 500, { seed: 2 });

function weightsOf(model: tf.LayersModel): number[] {
  return model.getWeights().flatMap((w) => Array.from(w.dataSync()));
}

const base: TrainOptions = {
  epochs: 2,
  batchSize: 50,
  optimizer: { name: "adam", learningRate: 3e-3 },
  seed: 4,
  progress: "silent",
};

Deno.test("train() fits a model that beats chance by far on held-out data", async () => {
  const model = buildModel({ kind: "madry-cnn", scale: 1 }, shape, 1);
  const report = await train(model, data, { ...base, epochs: 3 });
  assertEquals(report.steps, 36);
  assert(report.finished);
  assert(report.epochLoss[2] < report.epochLoss[0], `loss did not fall: ${report.epochLoss}`);
  const acc = (await evaluate(asClassifier(model), test)).accuracy;
  assertGreater(acc, 0.5, `accuracy ${acc} should be far above chance (0.1)`);
  model.dispose();
});

Deno.test("train() interrupted and resumed from its checkpoint ends with the same weights", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (
      const optimizer of [{ name: "adam", learningRate: 3e-3 }, {
        name: "sgd",
        learningRate: 0.05,
        momentum: 0.9,
      }] as const
    ) {
      const straight = buildModel({ kind: "mlp", hidden: [16] }, shape, 2);
      await train(straight, data, { ...base, optimizer, schedule: "cosine" });
      const ckpt = join(dir, optimizer.name);
      const first = buildModel({ kind: "mlp", hidden: [16] }, shape, 2);
      const part = await train(first, data, {
        ...base,
        optimizer,
        schedule: "cosine",
        checkpointDir: ckpt,
        stopAfterStep: 7,
      });
      assertEquals([part.steps, part.finished], [7, false]);
      first.dispose();
      const resumed = buildModel({ kind: "mlp", hidden: [16] }, shape, 2);
      const rest = await train(resumed, data, {
        ...base,
        optimizer,
        schedule: "cosine",
        checkpointDir: ckpt,
      });
      assertEquals([rest.resumedFrom, rest.steps, rest.finished], [7, 24, true]);
      assertEquals(weightsOf(resumed), weightsOf(straight), optimizer.name);
      straight.dispose();
      resumed.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shiftImage() moves an image by whole pixels and fills with zeros", () => {
  // A 3x4 image with 2 channels holding 1..24.
  const src = Float32Array.from({ length: 24 }, (_, i) => i + 1);
  const at = (img: Float32Array, r: number, c: number, ch: number) => img[(r * 4 + c) * 2 + ch];
  const dst = new Float32Array(24).fill(-1);
  for (const [dy, dx] of [[0, 0], [1, -2], [-2, 3], [0, 4], [3, 0]]) {
    shiftImage(src, dst, [3, 4, 2], dy, dx);
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 4; c++) {
        for (let ch = 0; ch < 2; ch++) {
          const [sr, sc] = [r - dy, c - dx];
          const expected = sr >= 0 && sr < 3 && sc >= 0 && sc < 4 ? at(src, sr, sc, ch) : 0;
          assertEquals(at(dst, r, c, ch), expected, `shift (${dy}, ${dx}) at (${r}, ${c}, ${ch})`);
        }
      }
    }
  }
});

Deno.test("train() with shift augmentation differs from plain training and still resumes bit-identically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const options = { ...base, augment: { shift: 2 } };
    const plain = buildModel({ kind: "mlp", hidden: [16] }, shape, 2);
    await train(plain, data, base);
    const straight = buildModel({ kind: "mlp", hidden: [16] }, shape, 2);
    await train(straight, data, options);
    assert(weightsOf(straight).some((v, i) => v !== weightsOf(plain)[i]), "augmentation changed nothing");
    const first = buildModel({ kind: "mlp", hidden: [16] }, shape, 2);
    await train(first, data, { ...options, checkpointDir: dir, stopAfterStep: 5 });
    first.dispose();
    const resumed = buildModel({ kind: "mlp", hidden: [16] }, shape, 2);
    const rest = await train(resumed, data, { ...options, checkpointDir: dir });
    assertEquals(rest.resumedFrom, 5);
    assertEquals(weightsOf(resumed), weightsOf(straight));
    await assertRejects(
      () => train(buildModel({ kind: "logistic" }, shape, 1), data, { ...base, augment: { shift: -1 } }),
      RangeError,
      "augment.shift",
    );
    [plain, straight, resumed].forEach((m) => m.dispose());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train() adversarial with alpha = 1 is exactly standard training", async () => {
  const a = buildModel({ kind: "mlp", hidden: [16] }, shape, 3);
  const b = buildModel({ kind: "mlp", hidden: [16] }, shape, 3);
  await train(a, data, { ...base, epochs: 1 });
  await train(b, data, { ...base, epochs: 1, adversarial: { attack: { kind: "fgsm", eps: 0.3 }, alpha: 1 } });
  assertEquals(weightsOf(a), weightsOf(b));
  a.dispose();
  b.dispose();
});

Deno.test("train() does not leak tensors across steps", async () => {
  const model = buildModel({ kind: "madry-cnn", scale: 1 }, shape, 1);
  await train(model, data, { ...base, epochs: 1 });
  const before = tf.memory().numTensors;
  await train(model, data, {
    ...base,
    epochs: 1,
    adversarial: { attack: { kind: "pgd", eps: 0.1, steps: 2 }, alpha: 0.5 },
  });
  assertEquals(tf.memory().numTensors, before);
  model.dispose();
});

Deno.test("train() rejects bad settings and a checkpoint of another schedule", async () => {
  const model = buildModel({ kind: "mlp", hidden: [4] }, shape, 1);
  await assertRejects(() => train(model, data, { ...base, epochs: 0 }), RangeError, "epochs");
  await assertRejects(() => train(model, data, { ...base, batchSize: 0 }), RangeError, "batchSize");
  const dir = await Deno.makeTempDir();
  try {
    await train(model, data, { ...base, epochs: 1, checkpointDir: dir, stopAfterStep: 2 });
    await assertRejects(
      () => train(model, data, { ...base, epochs: 3, checkpointDir: dir }),
      Error,
      "is for 12 steps, this run has 36",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  model.dispose();
});

Deno.test("learningRateAt() decays from the base rate to 0 along a cosine and rejects unknown schedules", () => {
  assertEquals(learningRateAt(0.1, 5, 10), 0.1);
  assertEquals(learningRateAt(0.1, 0, 10, "cosine"), 0.1);
  assert(Math.abs(learningRateAt(0.1, 5, 10, "cosine") - 0.05) < 1e-12);
  assert(learningRateAt(0.1, 10, 10, "cosine") < 1e-12);
  // deno-lint-ignore no-explicit-any
  assertThrows(() => learningRateAt(0.1, 1, 10, "step" as any), RangeError, "schedule");
});

Deno.test("epochOrder() is a seeded permutation that differs between epochs", () => {
  const a = epochOrder(100, 1, 0), b = epochOrder(100, 1, 0), c = epochOrder(100, 1, 1);
  assertEquals(Array.from(a), Array.from(b));
  assert(Array.from(a).some((v, i) => v !== c[i]));
});

Deno.test("createOptimizer() rejects a non-positive learning rate and unknown names", () => {
  const v = tf.variable(tf.zeros([2]));
  let threw = 0;
  try {
    createOptimizer({ name: "adam", learningRate: 0 }, [v]);
  } catch {
    threw++;
  }
  try {
    // deno-lint-ignore no-explicit-any
    createOptimizer({ name: "rmsprop", learningRate: 1 } as any, [v]);
  } catch {
    threw++;
  }
  assertEquals(threw, 2);
  v.dispose();
});

Deno.test("train() minimises the objective it is given; the standard objective is the default", async () => {
  const run = async (objective?: TrainOptions["objective"]) => {
    const model = buildModel({ kind: "mlp", hidden: [8] }, shape, 3);
    const report = await train(model, data, { ...base, epochs: 1, objective });
    const w = weightsOf(model);
    model.dispose();
    return { w, loss: report.epochLoss[0] };
  };
  const plain = await run();
  assertEquals((await run(standardObjective)).w, plain.w);
  // Cross-entropy plus a large l2 penalty on every weight: other steps, smaller weights.
  const penalised = await run((batch) =>
    tf.add(
      standardObjective(batch),
      tf.mul(tf.addN(batch.model.trainableWeights.map((v) => tf.sum(tf.square(v.read())))), 0.1),
    ) as tf.Scalar
  );
  assert(penalised.w.some((v, i) => v !== plain.w[i]));
  const norm = (w: number[]) => Math.sqrt(w.reduce((a, b) => a + b * b, 0));
  assert(norm(penalised.w) < norm(plain.w), `${norm(penalised.w)} >= ${norm(plain.w)}`);
  assertGreater(penalised.loss, plain.loss);
});

Deno.test("mixedObjective() is alpha * J(x) + (1 - alpha) * J(x_adv), and J(x) without adversarial examples", () => {
  const model = buildModel({ kind: "mlp", hidden: [4] }, shape, 1);
  const x = tf.randomUniform([4, 28, 28, 1], 0, 1, "float32", 1) as tf.Tensor4D;
  const xAdv = tf.randomUniform([4, 28, 28, 1], 0, 1, "float32", 2) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 2, 3], "int32");
  const value = (t: tf.Scalar) => {
    const v = t.dataSync()[0];
    t.dispose();
    return v;
  };
  const clean = value(standardObjective({ model, x, y, step: 0 }));
  const adv = value(standardObjective({ model, x: xAdv, y, step: 0 }));
  const mixed = value(mixedObjective(0.25)({ model, x, y, xAdv, step: 0 }));
  assert(Math.abs(mixed - (0.25 * clean + 0.75 * adv)) < 1e-5);
  assertEquals(value(mixedObjective(0)({ model, x, y, xAdv, step: 0 })), adv);
  assertEquals(value(mixedObjective(0.5)({ model, x, y, step: 0 })), clean);
  tf.dispose([x, xAdv, y]);
  model.dispose();
});
