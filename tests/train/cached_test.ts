import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { constructedSpec, dataKey, loadDataset, MissingDataError } from "../../lib/data/mod.ts";
import { trainCached, trainingData, type TrainJob } from "../../lib/train/mod.ts";
import { inCache, quietly, setupBackend } from "../_helpers.ts";

await setupBackend();

Deno.test("trainCached() trains once, then loads the same weights from the cache", async () => {
  const dir = await Deno.makeTempDir();
  Deno.env.set("ADVEX_CACHE_DIR", dir);
  try {
    const job: TrainJob = {
      data: { dataset: "mnist", trainSize: 300, seed: 1 },
      model: { kind: "mlp", hidden: [8] },
      initSeed: 1,
      train: { epochs: 1, batchSize: 50, optimizer: { name: "adam", learningRate: 1e-3 }, seed: 1 },
    };
    const a = await trainCached(job, { progress: "silent" });
    assertEquals(a.fromCache, false);
    const b = await trainCached(job, { progress: "silent" });
    assertEquals(b.fromCache, true);
    assertEquals(b.dir, a.dir);
    assertEquals(b.report.steps, 6);
    const wa = a.model.getWeights().map((w) => Array.from(w.dataSync()));
    assertEquals(b.model.getWeights().map((w) => Array.from(w.dataSync())), wa);
    const c = await trainCached({ ...job, initSeed: 2 }, { progress: "silent" });
    assert(c.dir !== a.dir && !c.fromCache);
    [a, b, c].forEach((t) => t.model.dispose());
  } finally {
    Deno.env.delete("ADVEX_CACHE_DIR");
    await Deno.remove(dir, { recursive: true });
  }
});

const small: TrainJob = {
  data: { dataset: "mnist", trainSize: 200, seed: 1 },
  model: { kind: "mlp", hidden: [8] },
  initSeed: 1,
  train: { epochs: 1, batchSize: 50, optimizer: { name: "adam", learningRate: 1e-3 }, seed: 1 },
};

Deno.test("trainCached() commits the model, its report and job as one verified unit and keeps no checkpoint", async () => {
  await inCache(async (root) => {
    const a = await trainCached(small, { progress: "silent" });
    assertEquals(
      (await Array.fromAsync(Deno.readDir(a.dir))).map((e) => e.name).sort(),
      ["job.json", "manifest.json", "model.weights", "report.json"],
    );
    assertEquals(await Array.fromAsync(Deno.readDir(join(root, "v2", "checkpoints"))), []);
    assertEquals(a.key, a.dir.split("/").at(-1));
    a.model.dispose();
  });
});

Deno.test("trainCached() retrains, with a warning naming the file, when a cached file is corrupt", async () => {
  await inCache(async () => {
    const a = await trainCached(small, { progress: "silent" });
    const weights = Array.from(a.model.getWeights()[0].dataSync());
    for (const file of ["model.weights", "report.json"]) {
      const path = join(a.dir, file);
      const bytes = await Deno.readFile(path);
      if (file === "report.json") await Deno.writeFile(path, bytes.subarray(0, bytes.length >> 1));
      else {
        bytes[bytes.length - 5] ^= 1;
        await Deno.writeFile(path, bytes);
      }
      const { value: b, messages } = await quietly(() => trainCached(small, { progress: "silent" }));
      assertEquals(b.fromCache, false, file);
      assertStringIncludes(messages.join("\n"), path);
      assertEquals(Array.from(b.model.getWeights()[0].dataSync()), weights);
      b.model.dispose();
    }
    const c = await trainCached(small, { progress: "silent" });
    assertEquals(c.fromCache, true);
    [a, c].forEach((t) => t.model.dispose());
  });
});

Deno.test("trainCached() refuses data that is not its job's, and a constructed set that was never built", async () => {
  await inCache(async () => {
    const other = await trainingData({ dataset: "mnist", trainSize: 300, seed: 1 });
    await assertRejects(
      () => trainCached(small, { data: other, progress: "silent" }),
      TypeError,
      "not the job's data",
    );
    const plain = await loadDataset("mnist", "train");
    await assertRejects(
      () => trainCached(small, { data: plain, progress: "silent" }),
      TypeError,
      "not resolved",
    );
    const right = await trainingData(small.data);
    assertEquals(right.origin, await dataKey(small.data));
    const det = constructedSpec("non-robust", "0123456789abcdef", { from: "x", size: 10 }, { rule: "det" });
    await assertRejects(
      () => trainCached({ ...small, data: det }, { progress: "silent" }),
      MissingDataError,
      "has not been built",
    );
    // The same data named with defaults left out has the same key.
    assertEquals(
      await dataKey({ dataset: "mnist" }),
      await dataKey({ dataset: "mnist", trainSize: 0, seed: 7, classes: null }),
    );
  });
});
