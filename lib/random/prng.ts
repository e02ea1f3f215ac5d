/**
 * A small seeded pseudo-random generator (sfc32 seeded through splitmix32), so that every random choice in
 * advex — shuffling, subsets, attack random starts — is reproducible from one integer seed.
 * @module
 */

/** A source of uniform numbers in [0, 1). Injected through options wherever advex draws at random. */
export interface Prng {
  /** The next uniform number in [0, 1). */
  next(): number;
  /** The generator's internal state, to checkpoint it. */
  state(): [number, number, number, number];
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * Creates a seeded generator. The same seed gives the same sequence on every machine.
 *
 * @example
 * ```ts
 * import { createPrng } from "./prng.ts";
 * const a = createPrng(7), b = createPrng(7);
 * if (a.next() !== b.next()) throw new Error("not reproducible");
 * ```
 */
export function createPrng(seed: number, state?: [number, number, number, number]): Prng {
  if (!Number.isFinite(seed)) throw new RangeError(`createPrng: seed must be a finite number, got ${seed}`);
  let a: number, b: number, c: number, d: number;
  if (state) {
    [a, b, c, d] = state.map((v) => v >>> 0) as [number, number, number, number];
  } else {
    const mix = splitmix32(Math.floor(seed));
    a = mix();
    b = mix();
    c = mix();
    d = mix();
  }
  const gen: Prng = {
    next() {
      const t = (((a + b) >>> 0) + d) >>> 0;
      d = (d + 1) >>> 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) >>> 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) >>> 0;
      return t / 4294967296;
    },
    state: () => [a, b, c, d],
  };
  if (!state) { for (let i = 0; i < 12; i++) gen.next(); }
  return gen;
}

/** A uniform integer in [0, maxExclusive). */
export function randomInt(prng: Prng, maxExclusive: number): number {
  if (!(maxExclusive >= 1)) throw new RangeError(`randomInt: maxExclusive must be >= 1, got ${maxExclusive}`);
  return Math.floor(prng.next() * maxExclusive);
}

/** A 31-bit integer drawn from `prng`, for seeding tfjs random ops (`tf.randomUniform(..., seed)`). */
export function seedFrom(prng: Prng): number {
  return Math.floor(prng.next() * 2147483647);
}

/** Shuffles `items` in place (Fisher-Yates) and returns it. */
export function shuffleInPlace<T extends { length: number; [i: number]: unknown }>(items: T, prng: Prng): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(prng.next() * (i + 1));
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

/** A random permutation of 0..n-1. */
export function permutation(n: number, prng: Prng): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return shuffleInPlace(idx, prng);
}
