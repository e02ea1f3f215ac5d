/**
 * A small PNG reader for the tests: parses chunks, checks each chunk's CRC with a bitwise CRC-32
 * (independent of the library's table-driven one), inflates IDAT and undoes the scanline filters.
 * @module
 */

/** A decoded PNG. */
export interface DecodedPng {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  channels: number;
  pixels: Uint8Array;
  chunkTypes: string[];
}

/** CRC-32 computed bit by bit, straight from the polynomial. */
export function bitwiseCrc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

async function inflate(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes an 8-bit, non-interlaced PNG; throws on a bad signature or CRC. */
export async function decodePng(png: Uint8Array): Promise<DecodedPng> {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  signature.forEach((b, i) => {
    if (png[i] !== b) throw new Error(`bad PNG signature at byte ${i}`);
  });
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let offset = 8;
  const chunkTypes: string[] = [];
  const idat: Uint8Array[] = [];
  let header: Uint8Array | undefined;
  while (offset < png.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...png.subarray(offset + 4, offset + 8));
    const data = png.subarray(offset + 8, offset + 8 + length);
    const crc = view.getUint32(offset + 8 + length);
    if (bitwiseCrc32(png.subarray(offset + 4, offset + 8 + length)) !== crc) {
      throw new Error(`bad CRC in ${type}`);
    }
    chunkTypes.push(type);
    if (type === "IHDR") header = data;
    if (type === "IDAT") idat.push(data);
    offset += 12 + length;
  }
  if (!header) throw new Error("no IHDR");
  const hv = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const width = hv.getUint32(0);
  const height = hv.getUint32(4);
  const bitDepth = header[8];
  const colorType = header[9];
  if (header[12] !== 0) throw new Error("interlaced PNGs are not supported here");
  const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  const joined = new Uint8Array(idat.reduce((n, d) => n + d.length, 0));
  let at = 0;
  for (const d of idat) {
    joined.set(d, at);
    at += d.length;
  }
  const raw = await inflate(joined);
  const stride = width * channels;
  if (raw.length !== (stride + 1) * height) throw new Error(`IDAT inflates to ${raw.length} bytes`);
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x];
      const a = x >= channels ? pixels[y * stride + x - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter];
      if (pred === undefined) throw new Error(`unknown filter ${filter}`);
      pixels[y * stride + x] = (v + pred) & 0xff;
    }
  }
  return { width, height, bitDepth, colorType, channels, pixels, chunkTypes };
}

/** Decodes the PNG inside a `data:image/png;base64,` URL. */
export function decodePngDataUrl(url: string): Promise<DecodedPng> {
  const prefix = "data:image/png;base64,";
  if (!url.startsWith(prefix)) throw new Error("not a PNG data URL");
  const bin = atob(url.slice(prefix.length));
  return decodePng(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

/** The data URLs of all `<image>` elements in an SVG string, in document order. */
export function svgImageUrls(svg: string): string[] {
  return Array.from(svg.matchAll(/<image\b[^>]*?\bhref="([^"]*)"/g), (m) => m[1]);
}
