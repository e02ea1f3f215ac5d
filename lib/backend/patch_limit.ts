/**
 * The size limit for the patch matrices that the im2col and col2im formulations build.
 *
 * Those formulations hold one [kh*kw*ci, n*oh*ow]-sized matrix on the wasm heap; above the limit the batch is
 * processed in chunks of images, trading a little speed for memory.
 * @module
 */

/** The default limit: 16M floats (64 MiB). */
export const DEFAULT_PATCH_MATRIX_LIMIT = 1 << 24;

let limit = DEFAULT_PATCH_MATRIX_LIMIT;

/** Sets the largest patch matrix, in floats, built in one piece (at least one image's worth is always used). */
export function setPatchMatrixLimit(floats: number): void {
  if (!(Number.isFinite(floats) && floats >= 1)) throw new Error(`invalid patch matrix limit ${floats}`);
  limit = Math.floor(floats);
}

/** Returns the largest patch matrix, in floats, built in one piece. */
export function getPatchMatrixLimit(): number {
  return limit;
}

/** How many of `n` images fit in one patch matrix of `floatsPerImage` floats each (at least 1). */
export function imagesPerChunk(n: number, floatsPerImage: number): number {
  return Math.max(1, Math.min(n, Math.floor(limit / floatsPerImage)));
}
