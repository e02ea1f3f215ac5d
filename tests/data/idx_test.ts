import { assertEquals, assertThrows } from "@std/assert";
import { encodeIdx, IdxFormatError, parseIdx } from "../../lib/data/idx.ts";

Deno.test("parseIdx() reads what encodeIdx() writes", () => {
  const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
  const parsed = parseIdx(encodeIdx([2, 3, 4], data));
  assertEquals(parsed.dims, [2, 3, 4]);
  assertEquals(Array.from(parsed.data), Array.from(data));
});

Deno.test("parseIdx() names the file when the header and the size disagree", () => {
  const bytes = encodeIdx([10], new Uint8Array(10)).subarray(0, 15);
  assertThrows(
    () => parseIdx(bytes, "labels.idx"),
    IdxFormatError,
    "labels.idx: IDX header promises 10 elements",
  );
});

Deno.test("parseIdx() rejects a bad magic number and unsupported types", () => {
  const bytes = encodeIdx([4], new Uint8Array(4));
  const badMagic = bytes.slice();
  badMagic[0] = 1;
  assertThrows(() => parseIdx(badMagic, "x"), IdxFormatError, "magic");
  const float = bytes.slice();
  float[2] = 0x0d;
  assertThrows(() => parseIdx(float, "x"), IdxFormatError, "not supported");
});
