/**
 * A dependency-free PNG encoder: 8-bit grayscale, RGB or RGBA, no filtering, zlib stream from the
 * platform's `CompressionStream("deflate")`.
 * @module
 */
import { crc32 } from "./crc32.ts";
import { encodeBase64 } from "./base64.ts";

/** Number of 8-bit channels per pixel: gray, RGB, RGBA. */
export type PngChannels = 1 | 3 | 4;

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const COLOR_TYPE: Record<PngChannels, number> = { 1: 0, 3: 2, 4: 6 };

async function deflate(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encodes row-major 8-bit pixels (`height` rows of `width` pixels of `channels` bytes) as a PNG file.
 *
 * @example
 * ```ts
 * import { encodePng } from "./png.ts";
 * const png = await encodePng(new Uint8Array([0, 255, 255, 0]), 2, 2, 1);
 * console.assert(png[1] === 0x50); // "PNG"
 * ```
 */
export async function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: PngChannels,
): Promise<Uint8Array> {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`encodePng(): width and height must be positive integers, got ${width}x${height}`);
  }
  if (!(channels in COLOR_TYPE)) {
    throw new RangeError(`encodePng(): channels must be 1, 3 or 4, got ${channels}`);
  }
  const stride = width * channels;
  if (pixels.length !== stride * height) {
    throw new RangeError(
      `encodePng(): expected ${width}x${height}x${channels} = ${stride * height} bytes, got ${pixels.length}`,
    );
  }
  // Each scanline starts with its filter type; 0 (None) for all of them.
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = COLOR_TYPE[channels];
  // compression 0, filter method 0, no interlace
  const parts = [
    new Uint8Array(SIGNATURE),
    chunk("IHDR", header),
    chunk("IDAT", await deflate(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Encodes pixels as a PNG `data:` URL, ready for an `<img>` or a Vega-Lite `image` mark.
 *
 * @example
 * ```ts
 * import { pngDataUrl } from "./png.ts";
 * const url = await pngDataUrl(new Uint8Array([255, 0, 0]), 1, 1, 3);
 * console.assert(url.startsWith("data:image/png;base64,"));
 * ```
 */
export async function pngDataUrl(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: PngChannels,
): Promise<string> {
  return `data:image/png;base64,${encodeBase64(await encodePng(pixels, width, height, channels))}`;
}
