import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { DataFileError, DATASETS, loadDataset, size } from "../../lib/data/mod.ts";

Deno.test("loadDataset() gives all 60,000 MNIST training images in [0, 1] with labels 0-9", async () => {
  const ds = await loadDataset("mnist", "train");
  assertEquals(size(ds), 60000);
  assertEquals(ds.shape, [28, 28, 1]);
  assertEquals(ds.images.length, 60000 * 784);
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < ds.images.length; i += 97) {
    min = Math.min(min, ds.images[i]);
    max = Math.max(max, ds.images[i]);
  }
  assertEquals([min, max], [0, 1]);
  assertEquals(new Set(ds.labels).size, 10);
  assertEquals(ds.labels[0], 5); // the first MNIST training digit is a 5
});

Deno.test("loadDataset() loads the full Fashion-MNIST test split from the shipped gzip files", async () => {
  const ds = await loadDataset("fashion-mnist", "test");
  assertEquals(size(ds), 10000);
  assertEquals(ds.classes[9], "Ankle boot");
  assertEquals(ds.labels[0], 9); // the first Fashion-MNIST test image is an ankle boot
});

Deno.test("loadDataset() reports a corrupt file by name with what to do", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const src = DATASETS["mnist"];
    for (const f of [src.test.images, src.test.labels]) {
      await Deno.copyFile(join(src.dir, f.file), join(dir, f.file));
    }
    const path = join(dir, src.test.images.file);
    const bytes = await Deno.readFile(path);
    bytes[5000] ^= 0xff;
    await Deno.writeFile(path, bytes);
    const err = await assertRejects(() => loadDataset("mnist", "test", { dir }), DataFileError, "is corrupt");
    assertStringIncludes(err.message, path);
    assertStringIncludes(err.message, "deno task restore-data mnist");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadDataset() reports a missing file by name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const err = await assertRejects(
      () => loadDataset("fashion-mnist", "train", { dir }),
      DataFileError,
      "is missing",
    );
    assert(
      err.message.includes(join(dir, "train-images-idx3-ubyte.gz")) || err.message.includes("train-labels"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadDataset() rejects an unknown dataset name", async () => {
  // deno-lint-ignore no-explicit-any
  await assertRejects(() => loadDataset("cifar10" as any, "train"), DataFileError, "unknown dataset");
});
