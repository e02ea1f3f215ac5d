/**
 * Running the same computation on two tfjs backends and comparing the results.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** `n` floats from a seeded generator, uniform in [-1, 1). */
export function seededFloats(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** Product of a shape's entries. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Activates `backend`, runs `fn` inside a tidy and returns the values of the tensors it returns. */
export async function valuesOn(
  backend: string,
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const out = tf.tidy(fn);
  const list = Array.isArray(out) ? out : [out];
  const values = list.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(list);
  return values;
}

/** The largest absolute difference divided by the largest magnitude in `expected` (or 1e-6). */
export function relativeError(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) return Infinity;
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < actual.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

/** A 2-D convolution the kernel tests run: input and filter shapes, strides, padding, dilations. */
export interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: "same" | "valid" | number | tf.backend_util.ExplicitPadding;
  dilations?: number | [number, number];
}

/** Odd sizes, strides, paddings (explicit and asymmetric ones included) and channel counts. */
export const CONV_CASES: ConvCase[] = [
  { x: [2, 7, 9, 1], filter: [3, 3, 1, 4], strides: 1, pad: "same" },
  { x: [2, 7, 9, 3], filter: [3, 3, 3, 5], strides: 1, pad: "valid" },
  { x: [2, 7, 9, 3], filter: [3, 3, 3, 4], strides: 2, pad: "same" },
  { x: [2, 9, 7, 1], filter: [5, 5, 1, 3], strides: 2, pad: "valid" },
  // Stride 2 over an even size with "valid" padding leaves the last row and column unused.
  { x: [2, 8, 10, 3], filter: [3, 3, 3, 2], strides: 2, pad: "valid" },
  { x: [1, 7, 9, 2], filter: [3, 3, 2, 3], strides: 2, pad: 1 },
  { x: [2, 9, 8, 2], filter: [3, 2, 2, 3], strides: [2, 1], pad: [[0, 0], [1, 1], [0, 2], [0, 0]] },
  { x: [1, 7, 9, 3], filter: [3, 3, 3, 2], strides: 1, pad: [[0, 0], [2, 0], [1, 3], [0, 0]] },
  { x: [3, 5, 5, 16], filter: [3, 3, 16, 8], strides: 1, pad: "same" },
];

/** A readable description of a case, for assertion messages. */
export function describeCase(c: ConvCase): string {
  return `x ${c.x.join("x")}, filter ${c.filter.join("x")}, strides ${c.strides}, pad ${
    JSON.stringify(c.pad)
  }` +
    (c.dilations ? `, dilations ${c.dilations}` : "");
}

/**
 * Runs `fn` with the `tf.env()` flags of `flags` set, and sets each back to its value before afterwards
 * (also when `fn` throws).
 */
export async function withFlags<T>(
  flags: Record<string, number | boolean | string>,
  fn: () => Promise<T> | T,
): Promise<T> {
  const before = Object.keys(flags).map((name) => [name, tf.env().get(name)] as const);
  try {
    for (const [name, value] of Object.entries(flags)) tf.env().set(name, value);
    return await fn();
  } finally {
    for (const [name, value] of before) tf.env().set(name, value);
  }
}
