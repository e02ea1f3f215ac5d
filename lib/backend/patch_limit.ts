/**
 * The size limit for the patch matrices that the im2col and col2im formulations build.
 *
 * Those formulations hold one [kh*kw*ci, n*oh*ow]-sized matrix on the wasm heap; above the limit (the
 * `ADVEX_PATCH_MATRIX_LIMIT` flag, see `flags.ts`) the batch is processed in chunks of images, trading a
 * little speed for memory.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { PATCH_MATRIX_LIMIT } from "./flags.ts";

/** How many of `n` images fit in one patch matrix of `floatsPerImage` floats each (at least 1). */
export function imagesPerChunk(n: number, floatsPerImage: number): number {
  const limit = Math.floor(tf.env().getNumber(PATCH_MATRIX_LIMIT));
  return Math.max(1, Math.min(n, Math.floor(limit / floatsPerImage)));
}
