import { assert, assertEquals, assertThrows } from "@std/assert";
import { chooseTargets } from "../../lib/datasets/mod.ts";

const labels = Int32Array.from({ length: 200 }, (_, i) => (i * 7) % 10);

Deno.test("chooseTargets() with rule det gives exactly (y + 1) mod C", () => {
  const t = chooseTargets(labels, 10, "det");
  assertEquals(Array.from(t), Array.from(labels, (y) => (y + 1) % 10));
  assertEquals(Array.from(chooseTargets([0, 1, 1, 0], 2, "det")), [1, 0, 0, 1]);
});

Deno.test("chooseTargets() with rule rand draws every wrong class and never the label, reproducibly", () => {
  const t = chooseTargets(labels, 10, "rand", 3);
  assertEquals(Array.from(t), Array.from(chooseTargets(labels, 10, "rand", 3)));
  assert(Array.from(t).some((v, i) => v !== chooseTargets(labels, 10, "rand", 4)[i]), "the seed matters");
  const seen = new Set<string>();
  t.forEach((v, i) => {
    assert(v !== labels[i] && v >= 0 && v < 10, `target ${v} for label ${labels[i]}`);
    seen.add(`${labels[i]}>${v}`);
  });
  assert(seen.size > 60, `only ${seen.size} label-target pairs out of 90`);
});

Deno.test("chooseTargets() rejects labels outside the classes, one class, and unknown rules", () => {
  assertThrows(() => chooseTargets([0, 10], 10, "det"), RangeError, "outside");
  assertThrows(() => chooseTargets([0], 1, "det"), RangeError, "2 classes");
  assertThrows(() => chooseTargets([0], 10, "next" as "det"), RangeError, "unknown rule");
});
