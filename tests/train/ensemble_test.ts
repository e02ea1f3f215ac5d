import type * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertNotEquals, assertRejects, assertThrows } from "@std/assert";
import type { Classifier } from "../../lib/models/mod.ts";
import { buildModel } from "../../lib/models/mod.ts";
import {
  alternatingSource,
  ensembleSources,
  sourceShares,
  train,
  trainCached,
  type TrainedModel,
  trainEnsembleAdversarial,
  trainingData,
  type TrainJob,
  type TrainOptions,
} from "../../lib/train/mod.ts";
import { setupBackend } from "../_helpers.ts";

await setupBackend();
const shape = { inputShape: [28, 28, 1] as [number, number, number], classes: 10 };
const data = await trainingData({ dataset: "mnist", trainSize: 300, seed: 3 });

function weightsOf(model: tf.LayersModel): number[] {
  return model.getWeights().flatMap((w) => Array.from(w.dataSync()));
}

/** Calls an attack makes once per model function to learn its class count (validateAttackInput). */
const PROBE = 1;

/** A classifier that counts its calls. */
function counted(classifier: Classifier): { classifier: Classifier; calls: () => number } {
  let calls = 0;
  return {
    classifier: (x) => {
      calls++;
      return classifier(x);
    },
    calls: () => calls,
  };
}

/** A trained model whose classifier counts its calls. */
function instrumented(model: TrainedModel): { model: TrainedModel; calls: () => number } {
  const c = counted(model.classifier);
  return { model: { ...model, classifier: c.classifier }, calls: c.calls };
}

async function withCache<T>(f: () => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir();
  Deno.env.set("ADVEX_CACHE_DIR", dir);
  try {
    return await f();
  } finally {
    Deno.env.delete("ADVEX_CACHE_DIR");
    await Deno.remove(dir, { recursive: true });
  }
}

const job = (hidden: number[], initSeed: number): TrainJob => ({
  data: { dataset: "mnist", trainSize: 300, seed: 3 },
  model: { kind: "mlp", hidden },
  initSeed,
  train: { epochs: 1, batchSize: 50, optimizer: { name: "adam", learningRate: 3e-3 }, seed: initSeed },
});
const adversarialJob: TrainJob = {
  ...job([16], 1),
  train: { ...job([16], 1).train, adversarial: { attack: { kind: "fgsm", eps: 0.3 }, alpha: 0.5 } },
};

Deno.test("alternatingSource() rotates through the model itself and each static source in turn", () => {
  const withSelf = alternatingSource(3);
  assertEquals([0, 1, 2, 3, 4, 5, 6, 8].map(withSelf), [undefined, 0, 1, 2, undefined, 0, 1, undefined]);
  const without = alternatingSource(3, { includeSelf: false });
  assertEquals([0, 1, 2, 3, 4].map(without), [0, 1, 2, 0, 1]);
  assertEquals([0, 1, 2].map(alternatingSource(0)), [undefined, undefined, undefined]);
  assertThrows(() => alternatingSource(0, { includeSelf: false }), RangeError, "static source");
  assertThrows(() => withSelf(-1), RangeError, "step");
});

Deno.test("sourceShares() counts the steps each source crafts, the model itself first", () => {
  assertEquals(sourceShares(alternatingSource(3), 3, 10), [3, 3, 2, 2]);
  assertEquals(sourceShares(alternatingSource(2, { includeSelf: false }), 2, 5), [0, 3, 2]);
});

Deno.test("train() runs each step's attack on the model craftOn names, and on itself where it names none", async () => {
  const sources = [0, 1].map((i) => {
    const m = buildModel({ kind: "mlp", hidden: [8] }, shape, 10 + i);
    return { model: m, ...counted((x) => m.apply(x, { training: false }) as tf.Tensor2D) };
  });
  const options: TrainOptions = {
    epochs: 1,
    batchSize: 50,
    optimizer: { name: "adam", learningRate: 3e-3 },
    seed: 4,
    progress: "silent",
    adversarial: { attack: { kind: "fgsm", eps: 0.3 }, alpha: 0.5 },
  };
  // Steps 0..5: self, source 0, source 1, self, source 0, source 1.
  const pick = (step: number) => [undefined, 0, 1][step % 3];
  const model = buildModel({ kind: "mlp", hidden: [16] }, shape, 1);
  await train(model, data, {
    ...options,
    adversarial: {
      ...options.adversarial!,
      craftOn: (step) => {
        const i = pick(step);
        return i === undefined ? undefined : sources[i].classifier;
      },
    },
  });
  // One more call per model function: the attacks' one-image probe of the class count, made once per function.
  const perStep = (sources[0].calls() - PROBE) / 2;
  assert(Number.isInteger(perStep) && perStep >= 1, `source 0 was called ${sources[0].calls()} times`);
  assertEquals(sources[1].calls(), 2 * perStep + PROBE);

  const plain = buildModel({ kind: "mlp", hidden: [16] }, shape, 1);
  const viaSelf = buildModel({ kind: "mlp", hidden: [16] }, shape, 1);
  await train(plain, data, options);
  await train(viaSelf, data, {
    ...options,
    adversarial: { ...options.adversarial!, craftOn: () => undefined },
  });
  assertEquals(weightsOf(viaSelf), weightsOf(plain));
  assertNotEquals(weightsOf(model), weightsOf(plain));
  [model, plain, viaSelf, ...sources.map((s) => s.model)].forEach((m) => m.dispose());
});

Deno.test("trainEnsembleAdversarial() draws its adversarial examples from the configured sources only", async () => {
  await withCache(async () => {
    const trained = await Promise.all(
      [[8], [12], [10]].map((h, i) => trainCached(job(h, 20 + i), { progress: "silent", data })),
    );
    const [b, c, decoy] = trained.map(instrumented);
    // Six steps, rotating self, b, c: each static source crafts two minibatches.
    await trainEnsembleAdversarial(adversarialJob, [b.model, c.model], { progress: "silent", data });
    const perStep = (b.calls() - PROBE) / 2;
    assert(Number.isInteger(perStep) && perStep >= 1, `b was called ${b.calls()} times`);
    assertEquals(c.calls(), 2 * perStep + PROBE);
    assertEquals(decoy.calls(), 0);

    // Without the model itself in the rotation, the sources craft every one of the six minibatches.
    const [b2, c2] = trained.map(instrumented);
    await trainEnsembleAdversarial(adversarialJob, [b2.model, c2.model], {
      progress: "silent",
      data,
      includeSelf: false,
    });
    assertEquals([b2.calls(), c2.calls()], [3 * perStep + PROBE, 3 * perStep + PROBE]);
    trained.forEach((t) => t.model.dispose());
  });
});

Deno.test("trainCached() keys an ensemble job by its sources' own cache keys and resumes it exactly", async () => {
  await withCache(async () => {
    const [b, c, c2] = await Promise.all(
      [[[8], 20], [[12], 21], [[12], 22]].map(([h, s]) =>
        trainCached(job(h as number[], s as number), { progress: "silent", data })
      ),
    );
    const first = await trainEnsembleAdversarial(adversarialJob, [b, c], { progress: "silent", data });
    const again = await trainEnsembleAdversarial(adversarialJob, [b, c], { progress: "silent", data });
    assertEquals([first.fromCache, again.fromCache, again.dir], [false, true, first.dir]);
    const otherSource = await trainEnsembleAdversarial(adversarialJob, [b, c2], { progress: "silent", data });
    const selfOnly = await trainCached(adversarialJob, { progress: "silent", data });
    const dirs = new Set([first.dir, otherSource.dir, selfOnly.dir]);
    assertEquals(dirs.size, 3);
    const described = JSON.parse(await Deno.readTextFile(`${first.dir}/job.json`));
    assertEquals(described.craftSources.keys, [b.dir, c.dir].map((d) => d.split("/").at(-1)));

    // Interrupted after three of six steps, then resumed: the same weights as the uninterrupted run.
    const resumedJob = { ...adversarialJob, initSeed: 5 };
    const part = await trainEnsembleAdversarial(resumedJob, [b, c2], {
      progress: "silent",
      data,
      stopAfterStep: 3,
    });
    assertEquals([part.report.steps, part.report.finished], [3, false]);
    const rest = await trainEnsembleAdversarial(resumedJob, [b, c2], { progress: "silent", data });
    assertEquals([rest.report.resumedFrom, rest.report.finished], [3, true]);
    const straightDir = await Deno.makeTempDir();
    Deno.env.set("ADVEX_CACHE_DIR", straightDir);
    const straight = await trainEnsembleAdversarial(resumedJob, [b, c2], { progress: "silent", data });
    assertEquals(straight.report.resumedFrom, 0);
    assertEquals(weightsOf(rest.model), weightsOf(straight.model));
    await Deno.remove(straightDir, { recursive: true });
    [b, c, c2, first, again, otherSource, selfOnly, part, rest, straight].forEach((t) => t.model.dispose());
  });
});

Deno.test("trainCached() refuses craft sources without adversarial training and a craftOn inside the job", async () => {
  await withCache(async () => {
    const b = await trainCached(job([8], 20), { progress: "silent", data });
    await assertRejects(
      () => trainCached(job([16], 1), { craftSources: ensembleSources([b]), progress: "silent", data }),
      TypeError,
      "adversarial",
    );
    const withFunction: TrainJob = {
      ...adversarialJob,
      train: {
        ...adversarialJob.train,
        adversarial: { ...adversarialJob.train.adversarial!, craftOn: () => undefined },
      },
    };
    await assertRejects(
      () => trainCached(withFunction, { progress: "silent", data }),
      TypeError,
      "cache key",
    );
    await assertRejects(() => trainEnsembleAdversarial(job([16], 1), [b]), TypeError, "adversarial");
    b.model.dispose();
  });
});
