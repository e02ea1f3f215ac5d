import { assertEquals } from "@std/assert";
import { crc32 } from "../../lib/plot/crc32.ts";
import { bitwiseCrc32 } from "./png_reader.ts";

Deno.test("crc32() matches the standard check value of '123456789'", () => {
  assertEquals(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assertEquals(crc32(new Uint8Array(0)), 0);
});

Deno.test("crc32() continues from a previous result over pieces of data", () => {
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);
  assertEquals(crc32(bytes.subarray(400), crc32(bytes.subarray(0, 400))), crc32(bytes));
  assertEquals(crc32(bytes), bitwiseCrc32(bytes));
});
