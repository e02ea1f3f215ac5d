import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { join } from "node:path";
import { makeDataset } from "../../lib/data/mod.ts";
import {
  DatasetFileError,
  decodeDataset,
  encodeDataset,
  loadDatasetFile,
  saveDataset,
} from "../../lib/data/mod.ts";

function sample(n = 5) {
  const images = Float32Array.from({ length: n * 4 * 3 }, (_, i) => ((i * 37) % 101) / 100 + 1e-7 * i);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  return makeDataset("sample", images, labels, [2, 2, 3], ["a", "b", "c"]);
}

Deno.test("saveDataset() writes a file that loadDatasetFile() reads back identical, with its metadata", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ds = sample();
    const path = join(dir, "sub", "set.ds");
    await saveDataset(path, ds, { eps: 2.5, columns: { d: [1, 2] } });
    const back = await loadDatasetFile(path);
    assertEquals(back.dataset.name, "sample");
    assertEquals(back.dataset.shape, [2, 2, 3]);
    assertEquals(back.dataset.classes, ["a", "b", "c"]);
    assertEquals(Array.from(back.dataset.images), Array.from(ds.images));
    assertEquals(Array.from(back.dataset.labels), Array.from(ds.labels));
    assertEquals(back.meta, { eps: 2.5, columns: { d: [1, 2] } });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeDataset() reads bytes that start at any offset of a larger buffer", () => {
  const bytes = encodeDataset(sample(3));
  const shifted = new Uint8Array(bytes.length + 3);
  shifted.set(bytes, 3);
  const back = decodeDataset(shifted.subarray(3));
  assertEquals(Array.from(back.dataset.images), Array.from(sample(3).images));
});

Deno.test("loadDatasetFile() names a missing file", async () => {
  await assertRejects(() => loadDatasetFile("/nonexistent/set.ds"), DatasetFileError, "/nonexistent/set.ds");
});

Deno.test("decodeDataset() rejects short, foreign, truncated and inconsistent files with the file's name", () => {
  const good = encodeDataset(sample());
  assertThrows(() => decodeDataset(new Uint8Array(4), "x.ds"), DatasetFileError, "x.ds: too short");
  assertThrows(
    () => decodeDataset(good.slice(0, good.length - 4), "x.ds"),
    DatasetFileError,
    "header promises",
  );
  const foreign = new Uint8Array(64);
  new DataView(foreign.buffer).setUint32(0, 10, true);
  foreign.set(new TextEncoder().encode('{"a":1}   '), 8);
  assertThrows(() => decodeDataset(foreign, "y.ds"), DatasetFileError, "not a dataset file");
  // A header whose shape does not match the body, and one with a label outside the classes.
  const text = new TextDecoder().decode(good.subarray(8, 8 + new DataView(good.buffer).getUint32(0, true)));
  const reshaped = new TextEncoder().encode(text.replace('"shape":[2,2,3]', '"shape":[2,2,4]'));
  const bad = new Uint8Array(good.length);
  bad.set(good);
  bad.set(reshaped, 8);
  assertThrows(() => decodeDataset(bad, "z.ds"), DatasetFileError, "header promises");
  const wrongLabel = good.slice();
  new DataView(wrongLabel.buffer).setInt32(wrongLabel.length - 4, 7, true);
  assertThrows(() => decodeDataset(wrongLabel, "w.ds"), DatasetFileError, "label 7");
});

Deno.test("encodeDataset() rejects a dataset whose pixels do not match its shape", () => {
  const ds = { ...sample(), shape: [3, 3, 3] as [number, number, number] };
  assertThrows(() => encodeDataset(ds), RangeError, "pixels");
});
