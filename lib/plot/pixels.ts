/**
 * Turning float images into 8-bit pixels: linear gray scaling, a blue-white-red diverging map for
 * signed values (perturbations, weights), and nearest-neighbour upscaling so small images stay crisp.
 * @module
 */

/** An RGB colour with 0-255 components. */
export type Rgb = readonly [number, number, number];

/** Colour of the most negative value in {@linkcode divergingRgb}. */
export const DIVERGING_NEGATIVE: Rgb = [33, 102, 172];
/** Colour of zero in {@linkcode divergingRgb}. */
export const DIVERGING_ZERO: Rgb = [255, 255, 255];
/** Colour of the most positive value in {@linkcode divergingRgb}. */
export const DIVERGING_POSITIVE: Rgb = [178, 24, 43];

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/**
 * Maps each value linearly from `[lo, hi]` to 0..255, clipping outside the range (NaN becomes 0).
 * Works element by element, so it serves gray and RGB images alike.
 *
 * @example
 * ```ts
 * import { scaleToBytes } from "./pixels.ts";
 * const bytes = scaleToBytes(new Float32Array([0, 0.5, 1, 2]));
 * console.assert(bytes[1] === 128 && bytes[3] === 255);
 * ```
 */
export function scaleToBytes(
  values: ArrayLike<number>,
  range: readonly [number, number] = [0, 1],
): Uint8Array {
  const [lo, hi] = range;
  if (!(hi > lo)) throw new RangeError(`scaleToBytes(): range must have hi > lo, got [${lo}, ${hi}]`);
  const k = 255 / (hi - lo);
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = Number.isNaN(v) ? 0 : clampByte((v - lo) * k);
  }
  return out;
}

/**
 * Maps signed values to RGB on a blue-white-red scale centred at 0: `-scale` is blue, 0 white, `+scale`
 * red; values beyond ±scale are clipped (NaN is white). Returns 3 bytes per value.
 *
 * @example
 * ```ts
 * import { divergingRgb } from "./pixels.ts";
 * const rgb = divergingRgb(new Float32Array([-0.3, 0, 0.3]), 0.3);
 * console.assert(rgb[3] === 255 && rgb[4] === 255 && rgb[5] === 255); // white in the middle
 * ```
 */
export function divergingRgb(values: ArrayLike<number>, scale: number): Uint8Array {
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new RangeError(`divergingRgb(): scale must be a positive finite number, got ${scale}`);
  }
  const out = new Uint8Array(values.length * 3);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const t = Number.isNaN(v) ? 0 : Math.max(-1, Math.min(1, v / scale));
    const end = t < 0 ? DIVERGING_NEGATIVE : DIVERGING_POSITIVE;
    const a = Math.abs(t);
    for (let c = 0; c < 3; c++) out[i * 3 + c] = clampByte(DIVERGING_ZERO[c] * (1 - a) + end[c] * a);
  }
  return out;
}

/**
 * Enlarges an image by an integer `factor`, repeating each pixel into a `factor` x `factor` block.
 *
 * @example
 * ```ts
 * import { upscaleNearest } from "./pixels.ts";
 * const big = upscaleNearest(new Uint8Array([1, 2]), 2, 1, 1, 3); // 6 x 3 pixels
 * console.assert(big.length === 18 && big[2] === 1 && big[3] === 2);
 * ```
 */
export function upscaleNearest(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  factor: number,
): Uint8Array {
  if (!Number.isInteger(factor) || factor < 1) {
    throw new RangeError(`upscaleNearest(): factor must be a positive integer, got ${factor}`);
  }
  if (pixels.length !== width * height * channels) {
    throw new RangeError(
      `upscaleNearest(): expected ${width * height * channels} bytes, got ${pixels.length}`,
    );
  }
  if (factor === 1) return pixels.slice();
  const outWidth = width * factor;
  const outStride = outWidth * channels;
  const out = new Uint8Array(outStride * height * factor);
  for (let y = 0; y < height; y++) {
    const rowStart = y * factor * outStride;
    for (let x = 0; x < width; x++) {
      const src = (y * width + x) * channels;
      for (let r = 0; r < factor; r++) {
        const dst = rowStart + x * factor * channels + r * channels;
        for (let c = 0; c < channels; c++) out[dst + c] = pixels[src + c];
      }
    }
    for (let r = 1; r < factor; r++) out.copyWithin(rowStart + r * outStride, rowStart, rowStart + outStride);
  }
  return out;
}
