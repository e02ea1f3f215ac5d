import { assertEquals, assertThrows } from "@std/assert";
import {
  DIVERGING_NEGATIVE,
  DIVERGING_POSITIVE,
  divergingRgb,
  scaleToBytes,
  upscaleNearest,
} from "../../lib/plot/pixels.ts";

Deno.test("scaleToBytes() maps the range to 0..255 and clips outside it", () => {
  assertEquals([...scaleToBytes([-1, 0, 0.5, 1, 2, NaN])], [0, 0, 128, 255, 255, 0]);
  assertEquals([...scaleToBytes([-0.3, 0, 0.3], [-0.3, 0.3])], [0, 128, 255]);
  assertThrows(() => scaleToBytes([0], [1, 1]), RangeError, "hi > lo");
});

Deno.test("divergingRgb() maps -scale to blue, 0 to white and +scale to red, clipping beyond", () => {
  const rgb = divergingRgb([-0.3, 0, 0.3, 0.9, -0.15], 0.3);
  assertEquals([...rgb.subarray(0, 3)], [...DIVERGING_NEGATIVE]);
  assertEquals([...rgb.subarray(3, 6)], [255, 255, 255]);
  assertEquals([...rgb.subarray(6, 9)], [...DIVERGING_POSITIVE]);
  assertEquals([...rgb.subarray(9, 12)], [...DIVERGING_POSITIVE]);
  assertEquals([...rgb.subarray(12, 15)], [144, 179, 214]); // halfway from white to blue
  assertThrows(() => divergingRgb([0], 0), RangeError, "positive");
});

Deno.test("upscaleNearest() repeats every pixel into a factor x factor block", () => {
  // 2x2 RGB image, factor 2 -> 4x4
  const src = Uint8Array.from([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
  const big = upscaleNearest(src, 2, 2, 3, 2);
  const firstChannel = Array.from({ length: 16 }, (_, i) => big[i * 3]);
  assertEquals(firstChannel, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  assertEquals(upscaleNearest(src, 2, 2, 3, 1), src);
  assertThrows(() => upscaleNearest(src, 2, 2, 3, 1.5), RangeError, "positive integer");
  assertThrows(() => upscaleNearest(src, 3, 2, 3, 2), RangeError, "expected 18 bytes");
});
