import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { createPrng, permutation, randomInt, seedFrom } from "../../lib/random/prng.ts";

Deno.test("createPrng() gives the same sequence for the same seed and another for another seed", () => {
  const a = createPrng(42), b = createPrng(42), c = createPrng(43);
  const sa = Array.from({ length: 20 }, () => a.next());
  assertEquals(sa, Array.from({ length: 20 }, () => b.next()));
  assertNotEquals(sa, Array.from({ length: 20 }, () => c.next()));
  assert(sa.every((v) => v >= 0 && v < 1));
});

Deno.test("createPrng() resumes from a saved state", () => {
  const a = createPrng(9);
  a.next();
  const saved = a.state();
  const rest = [a.next(), a.next()];
  const b = createPrng(0, saved);
  assertEquals([b.next(), b.next()], rest);
});

Deno.test("createPrng() rejects a non-finite seed", () => {
  assertThrows(() => createPrng(NaN), RangeError, "seed");
});

Deno.test("permutation() holds each index exactly once", () => {
  const p = permutation(1000, createPrng(1));
  assertEquals(Array.from(p).sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  assertNotEquals(Array.from(p.subarray(0, 10)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

Deno.test("randomInt() and seedFrom() stay in range and are roughly uniform", () => {
  const prng = createPrng(3);
  const counts = new Array(4).fill(0);
  for (let i = 0; i < 4000; i++) counts[randomInt(prng, 4)]++;
  assert(counts.every((c) => c > 900 && c < 1100), `counts ${counts}`);
  const s = seedFrom(prng);
  assert(Number.isInteger(s) && s >= 0 && s < 2147483647);
});
