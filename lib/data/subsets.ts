/**
 * Seeded subsets: stratified samples (equal share per class) and two-class tasks (the lecture's cat/dog
 * experiment becomes two Fashion-MNIST classes).
 * @module
 */
import { createPrng, shuffleInPlace } from "../random/prng.ts";
import { type Dataset, size, take } from "./dataset.ts";

/** Options of {@linkcode stratifiedSubset}. */
export interface SubsetOptions {
  /** Seed of the draw. Default 0. */
  seed?: number;
}

/**
 * A seeded, stratified subset of `n` examples: each class gets floor(n / C) examples (the remainder goes
 * to the first classes), drawn without replacement; the result is shuffled. `n` at least the dataset size
 * returns the whole dataset shuffled.
 */
export function stratifiedSubset(ds: Dataset, n: number, options: SubsetOptions = {}): Dataset {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`stratifiedSubset: n must be a positive integer, got ${n}`);
  }
  const prng = createPrng(options.seed ?? 0);
  const total = size(ds);
  const C = ds.classes.length;
  const byClass: number[][] = Array.from({ length: C }, () => []);
  for (let i = 0; i < total; i++) byClass[ds.labels[i]].push(i);
  const chosen: number[] = [];
  if (n >= total) {
    for (let i = 0; i < total; i++) chosen.push(i);
  } else {
    const present = byClass.map((_, c) => c).filter((c) => byClass[c].length > 0);
    const base = Math.floor(n / present.length);
    let extra = n - base * present.length;
    for (const c of present) {
      const want = Math.min(byClass[c].length, base + (extra > 0 ? 1 : 0));
      if (extra > 0) extra--;
      const pool = shuffleInPlace(byClass[c].slice(), prng);
      chosen.push(...pool.slice(0, want));
    }
  }
  shuffleInPlace(chosen, prng);
  return take(ds, chosen, `${ds.name}[${chosen.length}]`);
}

/**
 * The examples of two classes, relabelled 0 (first class) and 1 (second class).
 *
 * @example
 * ```ts
 * import { loadDataset } from "./load.ts";
 * import { twoClassSubset } from "./subsets.ts";
 * const fashionTrain = await loadDataset("fashion-mnist", "train");
 * const catDog = twoClassSubset(fashionTrain, [0, 6]); // T-shirt/top vs Shirt
 * ```
 */
export function twoClassSubset(ds: Dataset, classes: [number, number]): Dataset {
  const [a, b] = classes;
  const C = ds.classes.length;
  if (a === b || !(a >= 0 && a < C) || !(b >= 0 && b < C)) {
    throw new RangeError(
      `twoClassSubset: classes must be two distinct labels in [0, ${C}), got [${a}, ${b}]`,
    );
  }
  const idx: number[] = [];
  for (let i = 0; i < size(ds); i++) if (ds.labels[i] === a || ds.labels[i] === b) idx.push(i);
  const sub = take(ds, idx, `${ds.name}[${a},${b}]`);
  for (let i = 0; i < sub.labels.length; i++) sub.labels[i] = sub.labels[i] === a ? 0 : 1;
  sub.classes = [ds.classes[a], ds.classes[b]];
  return sub;
}
