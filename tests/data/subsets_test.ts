import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { classCounts, loadDataset, size, stratifiedSubset, twoClassSubset } from "../../lib/data/mod.ts";

Deno.test("stratifiedSubset() takes an equal share of each class, reproducibly", async () => {
  const ds = await loadDataset("mnist", "test");
  const a = stratifiedSubset(ds, 500, { seed: 4 });
  assertEquals(classCounts(a), new Array(10).fill(50));
  const b = stratifiedSubset(ds, 500, { seed: 4 });
  assertEquals(Array.from(a.labels), Array.from(b.labels));
  assertEquals(a.images.slice(0, 784), b.images.slice(0, 784));
  const c = stratifiedSubset(ds, 500, { seed: 5 });
  assertNotEquals(Array.from(a.labels), Array.from(c.labels));
});

Deno.test("stratifiedSubset() spreads a remainder and rejects a bad size", async () => {
  const ds = await loadDataset("mnist", "test");
  const s = stratifiedSubset(ds, 23, { seed: 1 });
  assertEquals(size(s), 23);
  assert(classCounts(s).every((c) => c === 2 || c === 3));
  assertThrows(() => stratifiedSubset(ds, 0), RangeError);
});

Deno.test("twoClassSubset() keeps two classes relabelled 0 and 1", async () => {
  const ds = await loadDataset("fashion-mnist", "test");
  const s = twoClassSubset(ds, [0, 6]);
  assertEquals(size(s), 2000);
  assertEquals(s.classes, ["T-shirt/top", "Shirt"]);
  assertEquals(classCounts(s), [1000, 1000]);
  assertThrows(() => twoClassSubset(ds, [3, 3]), RangeError, "distinct");
});
