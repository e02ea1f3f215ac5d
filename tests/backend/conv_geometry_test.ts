import * as tf from "@tensorflow/tfjs";
import { assertEquals } from "@std/assert";
import {
  CONV_GEOMETRY_FIELDS,
  convGeometry,
  packConvGeometry,
  packPoolGeometry,
  POOL_GEOMETRY_FIELDS,
  poolGeometry,
} from "../../lib/backend/mod.ts";

Deno.test("convGeometry() resolves sizes, strides, dilations and paddings by name", () => {
  const g = convGeometry([3, 9, 11, 2], [3, 5, 2, 7], { strides: [2, 1], pad: "same" }, [1, 2]);
  assertEquals(g, {
    n: 3,
    h: 9,
    w: 11,
    ci: 2,
    co: 7,
    kh: 3,
    kw: 5,
    sh: 2,
    sw: 1,
    dh: 1,
    dw: 2,
    top: 1,
    left: 4,
    oh: 5,
    ow: 11,
    channelsFirst: false,
  });
  assertEquals(convGeometry([3, 9, 11, 2], [3, 5, 2, 7], { strides: 1, pad: "valid" }).dw, 1);
});

Deno.test("packConvGeometry() lays the fields out in the order of CONV_GEOMETRY_FIELDS", () => {
  const g = convGeometry([4, 10, 12, 3], [5, 3, 3, 6], {
    strides: [3, 2],
    pad: [[0, 0], [1, 2], [3, 0], [0, 0]],
  });
  // Give every field a distinct value, so that a swapped pair shows.
  const distinct = { ...g };
  CONV_GEOMETRY_FIELDS.forEach((f, i) => (distinct[f] = 100 + i));
  assertEquals([...packConvGeometry(distinct)], CONV_GEOMETRY_FIELDS.map((_, i) => 100 + i));
  assertEquals([...packConvGeometry(g)], CONV_GEOMETRY_FIELDS.map((f) => g[f]));
  assertEquals(CONV_GEOMETRY_FIELDS.length, 15);
});

Deno.test("packPoolGeometry() lays the fields out in the order of POOL_GEOMETRY_FIELDS", () => {
  const info = tf.backend_util.computePool2DInfo([2, 7, 9, 5], [3, 2], [2, 3], 1, "same");
  const g = poolGeometry(info);
  assertEquals(g, { n: 2, h: 7, w: 9, c: 5, oh: 4, ow: 3, sh: 2, sw: 3, fh: 3, fw: 2, top: 1, left: 0 });
  const distinct = { ...g };
  POOL_GEOMETRY_FIELDS.forEach((f, i) => (distinct[f] = 200 + i));
  assertEquals([...packPoolGeometry(distinct)], POOL_GEOMETRY_FIELDS.map((_, i) => 200 + i));
  assertEquals(POOL_GEOMETRY_FIELDS.length, 12);
});
