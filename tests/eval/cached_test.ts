import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { loadDataset, take } from "../../lib/data/mod.ts";
import {
  cachedAutoAttack,
  cachedRobustEvaluate,
  datasetFingerprint,
  packResult,
  unpackResult,
} from "../../lib/eval/cached.ts";
import { trainCached, type TrainJob } from "../../lib/train/mod.ts";
import type { AttackSpec } from "../../lib/attacks/make.ts";
import { inCache, quietly, setupBackend } from "../_helpers.ts";

await setupBackend();

const job: TrainJob = {
  data: { dataset: "mnist", trainSize: 300, seed: 1 },
  model: { kind: "mlp", hidden: [16] },
  initSeed: 1,
  train: { epochs: 2, batchSize: 50, optimizer: { name: "adam", learningRate: 3e-3 }, seed: 1 },
};

const attacks: AttackSpec[] = [
  { kind: "fgsm", eps: 0.1 },
  { kind: "pgd", eps: 0.1, steps: 3, stepSize: 0.05, restarts: 2 },
];

const testImages = async (n: number, from = 0) => {
  const test = await loadDataset("mnist", "test");
  return take(test, Array.from({ length: n }, (_, i) => from + i));
};

Deno.test("packResult and unpackResult round-trip typed arrays of every kind and length", () => {
  const value = {
    a: Uint8Array.from([1, 0, 1]),
    nested: [{ f: Float32Array.from([0.5, -1e-7, Infinity, NaN, 3]) }, { i: Int32Array.from([-2, 7]) }],
    empty: new Float32Array(0),
    text: "x",
    n: 3,
    none: null,
  };
  const { json, blob } = packResult(value);
  assertEquals(blob.byteLength % 4, 0);
  const back = unpackResult<typeof value>(json, blob);
  assert(back.a instanceof Uint8Array && back.nested[0].f instanceof Float32Array);
  assertEquals(back, value);
  const bad = json.replace(/"\$array":\d+/, '"$array":1000');
  assertThrows(() => unpackResult(bad, blob), RangeError, "outside the results file");
});

Deno.test("datasetFingerprint follows the images and labels, not the name", async () => {
  const a = await testImages(20);
  const b = await testImages(20, 1);
  const fa = await datasetFingerprint(a);
  assertEquals(await datasetFingerprint({ ...a, name: "other" }), fa);
  assertNotEquals(await datasetFingerprint(b), fa);
  const relabelled = { ...a, labels: Int32Array.from(a.labels, (l) => (l + 1) % 10) };
  assertNotEquals(await datasetFingerprint(relabelled), fa);
});

Deno.test("cachedRobustEvaluate computes once, then loads the same result; any change of key computes", async () => {
  await inCache(async () => {
    const trained = await trainCached(job, { progress: "silent" });
    const data = await testImages(40);
    const first = await cachedRobustEvaluate(trained, data, { attacks, seed: 3 });
    assertEquals(first.fromCache, false);
    const again = await cachedRobustEvaluate(trained, data, { attacks, seed: 3, label: "with progress" });
    assertEquals(again.fromCache, true, "a progress label is not part of the key");
    assertEquals(again.cacheKey, first.cacheKey);
    const { fromCache: _a, ...x } = first;
    const { fromCache: _b, ...y } = again;
    assertEquals(y, x, "every number and per-example bit is the same");
    assert(y.robust instanceof Uint8Array && y.attacks[1].correct instanceof Uint8Array);

    for (
      const [what, changed] of [
        ["the seed", () => cachedRobustEvaluate(trained, data, { attacks, seed: 4 })],
        ["the attacks", () => cachedRobustEvaluate(trained, data, { attacks: attacks.slice(0, 1), seed: 3 })],
        [
          "the images",
          async () => cachedRobustEvaluate(trained, await testImages(40, 1), { attacks, seed: 3 }),
        ],
        [
          "the model",
          () => cachedRobustEvaluate({ ...trained, key: "0123456789abcdef" }, data, { attacks, seed: 3 }),
        ],
      ] as const
    ) {
      const r = await changed();
      assertEquals(r.fromCache, false, `another ${what}, another result`);
      assertNotEquals(r.cacheKey, first.cacheKey);
    }
    trained.model.dispose();
  });
});

Deno.test("cachedRobustEvaluate: a damaged result is reported, removed and computed again", async () => {
  await inCache(async (dir) => {
    const trained = await trainCached(job, { progress: "silent" });
    const data = await testImages(30);
    const first = await cachedRobustEvaluate(trained, data, { attacks, seed: 1 });
    const file = `${dir}/v2/results/${first.cacheKey}/result.json`;
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(file, text.replace(/"clean":[0-9.]+/, '"clean":0.123'));
    const { value, messages } = await quietly(() =>
      cachedRobustEvaluate(trained, data, { attacks, seed: 1 })
    );
    assertEquals(value.fromCache, false);
    assert(
      messages.some((m) => m.includes(first.cacheKey) && m.includes("removing it")),
      messages.join("\n"),
    );
    assertEquals(value.clean, first.clean);
    trained.model.dispose();
  });
});

Deno.test("cachedAutoAttack loads the same robust bits and adversarial images", async () => {
  await inCache(async () => {
    const trained = await trainCached(job, { progress: "silent" });
    const data = await testImages(12);
    const options = { eps: 0.1, steps: 3, targetClasses: 2, squareQueries: 10, seed: 2 } as const;
    const first = await cachedAutoAttack(trained, data, options);
    const again = await cachedAutoAttack(trained, data, { ...options, progress: "silent" });
    assertEquals([first.fromCache, again.fromCache], [false, true]);
    assertEquals(again.robust, first.robust);
    assertEquals(again.brokenBy, first.brokenBy);
    assertEquals(again.adversarial, first.adversarial);
    assertEquals(again.robustAccuracy, first.robustAccuracy);
    const other = await cachedAutoAttack(trained, data, { ...options, squareQueries: 11 });
    assertEquals(other.fromCache, false, "another budget, another result");
    trained.model.dispose();
  });
});
