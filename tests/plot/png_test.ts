import { assert, assertEquals, assertRejects } from "@std/assert";
import { encodePng, pngDataUrl } from "../../lib/plot/png.ts";
import { bitwiseCrc32, decodePng, decodePngDataUrl } from "./png_reader.ts";

function pattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 37 + (i >> 3)) & 0xff);
}

Deno.test("encodePng() writes a PNG that decodes to the same pixels for 1, 3 and 4 channels", async () => {
  for (const channels of [1, 3, 4] as const) {
    const width = 7;
    const height = 5;
    const pixels = pattern(width * height * channels);
    const png = await encodePng(pixels, width, height, channels);
    const decoded = await decodePng(png); // checks the signature and every chunk's CRC
    assertEquals(decoded.chunkTypes, ["IHDR", "IDAT", "IEND"]);
    assertEquals([decoded.width, decoded.height, decoded.bitDepth], [width, height, 8]);
    assertEquals(decoded.colorType, { 1: 0, 3: 2, 4: 6 }[channels]);
    assertEquals(decoded.pixels, pixels);
  }
});

Deno.test("encodePng() starts with the PNG signature and an IHDR chunk with a valid CRC", async () => {
  const png = await encodePng(new Uint8Array([0, 128, 255, 64]), 2, 2, 1);
  assertEquals([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset);
  assertEquals(view.getUint32(8), 13);
  assertEquals(new TextDecoder().decode(png.subarray(12, 16)), "IHDR");
  assertEquals(view.getUint32(16), 2);
  assertEquals(view.getUint32(20), 2);
  assertEquals(view.getUint32(29), bitwiseCrc32(png.subarray(12, 29)));
  assertEquals(new TextDecoder().decode(png.subarray(png.length - 8, png.length - 4)), "IEND");
});

Deno.test("encodePng() compresses repetitive images", async () => {
  const png = await encodePng(new Uint8Array(84 * 84 * 3).fill(200), 84, 84, 3);
  assert(png.length < 500, `${png.length} bytes`);
});

Deno.test("encodePng() rejects a pixel buffer of the wrong size or a bad shape", async () => {
  await assertRejects(
    () => encodePng(new Uint8Array(5), 2, 2, 1),
    RangeError,
    "expected 2x2x1 = 4 bytes, got 5",
  );
  await assertRejects(() => encodePng(new Uint8Array(0), 0, 2, 1), RangeError, "positive integers");
  await assertRejects(
    () => encodePng(new Uint8Array(8), 2, 2, 2 as 1),
    RangeError,
    "channels must be 1, 3 or 4",
  );
});

Deno.test("pngDataUrl() returns a base64 data URL of the encoded PNG", async () => {
  const pixels = pattern(4 * 3 * 3);
  const url = await pngDataUrl(pixels, 4, 3, 3);
  assert(url.startsWith("data:image/png;base64,"));
  assertEquals((await decodePngDataUrl(url)).pixels, pixels);
});
