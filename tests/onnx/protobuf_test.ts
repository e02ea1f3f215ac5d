import { assertEquals, assertThrows } from "@std/assert";
import { ProtobufError, ProtoReader, ProtoWriter, WireType } from "../../lib/onnx/protobuf.ts";

function readAll(bytes: Uint8Array): { field: number; value: number | string }[] {
  const r = new ProtoReader(bytes);
  const out: { field: number; value: number | string }[] = [];
  while (!r.done()) {
    const f = r.next();
    if (f.wire === WireType.varint) out.push({ field: f.field, value: r.varint() });
    else if (f.wire === WireType.fixed32) out.push({ field: f.field, value: r.float() });
    else out.push({ field: f.field, value: r.string() });
  }
  return out;
}

Deno.test("ProtoWriter writes varints the reader reads back, int64 negatives and 2^53 included", () => {
  const values = [0, 1, 127, 128, 300, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1, -1, -(2 ** 40)];
  const w = new ProtoWriter();
  values.forEach((v, i) => w.int(i + 1, v));
  assertEquals(readAll(w.finish()).map((f) => f.value), values);
});

Deno.test("ProtoWriter encodes 150 in field 1 as the protobuf documentation does", () => {
  assertEquals(Array.from(new ProtoWriter().int(1, 150).finish()), [0x08, 0x96, 0x01]);
  assertEquals(new ProtoWriter().int(1, -1).finish().length, 11);
});

Deno.test("ProtoWriter nests messages and keeps large byte fields intact", () => {
  const big = new Uint8Array(10_000).map((_, i) => i % 251);
  const inner = new ProtoWriter().string(1, "héllo").float(2, 1.5).bytes(3, big);
  const bytes = new ProtoWriter().int(1, 7).message(2, inner).finish();
  const r = new ProtoReader(bytes);
  assertEquals(r.next().field, 1);
  assertEquals(r.varint(), 7);
  assertEquals(r.next().field, 2);
  const sub = r.message("inner");
  sub.next();
  assertEquals(sub.string(), "héllo");
  sub.next();
  assertEquals(sub.float(), 1.5);
  sub.next();
  assertEquals(sub.bytesField(), big);
  assertEquals(r.done(), true);
});

Deno.test("ProtoReader reads packed and unpacked repeated integers alike", () => {
  const packed = new ProtoWriter().bytes(1, new Uint8Array([1, 0x96, 0x01, 3])).finish();
  const unpacked = new ProtoWriter().int(1, 1).int(1, 150).int(1, 3).finish();
  for (const bytes of [packed, unpacked]) {
    const r = new ProtoReader(bytes);
    const out: number[] = [];
    while (!r.done()) r.repeatedInt(r.next().wire, out);
    assertEquals(out, [1, 150, 3]);
  }
});

Deno.test("ProtoReader reports a field cut short as truncated, with its position", () => {
  const bytes = new ProtoWriter().string(1, "a long enough string").finish();
  const r = new ProtoReader(bytes.subarray(0, 8), 0, 8, "Thing");
  r.next();
  const e = assertThrows(() => r.string(), ProtobufError);
  assertEquals(
    /Thing: truncated: a field claims 20 bytes but only 6 remain/.test(e.message),
    true,
    e.message,
  );
  const v = new ProtoReader(new Uint8Array([0x08, 0x96]));
  v.next();
  assertThrows(() => v.varint(), ProtobufError, "ends inside a varint");
});

Deno.test("ProtoReader rejects field number 0 and unknown wire types as corrupt", () => {
  assertThrows(() => new ProtoReader(new Uint8Array([0x00, 0x01])).next(), ProtobufError, "field number 0");
  assertThrows(() => new ProtoReader(new Uint8Array([0x0b])).next(), ProtobufError, "wire type 3");
});
