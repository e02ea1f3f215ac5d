import { assert, assertEquals } from "@std/assert";
import { trainCached, type TrainJob } from "../../lib/train/mod.ts";
import { setupBackend } from "../_helpers.ts";

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
