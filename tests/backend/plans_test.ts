import { assertEquals } from "@std/assert";
import { chooseFilterGradMethod, chooseInputGradMethod, convGeometry } from "../../lib/backend/mod.ts";
import { planMatMul } from "../../lib/backend/matmul_plan.ts";

function madryLayer(h: number, ci: number, co: number, strides = 1) {
  return convGeometry([128, h, h, ci], [5, 5, ci, co], { strides, pad: "same" });
}

Deno.test("chooseFilterGradMethod() picks im2col for the first Madry layer and conv for the second", () => {
  assertEquals(chooseFilterGradMethod(madryLayer(28, 1, 32)), "im2col");
  assertEquals(chooseFilterGradMethod(madryLayer(14, 32, 64)), "conv");
  assertEquals(chooseFilterGradMethod(madryLayer(28, 1, 8)), "conv");
  assertEquals(chooseFilterGradMethod(madryLayer(14, 8, 16)), "conv");
  assertEquals(chooseFilterGradMethod(madryLayer(28, 16, 32, 2)), "im2col");
});

Deno.test("chooseInputGradMethod() picks col2im for strided and channel-expanding layers only", () => {
  assertEquals(chooseInputGradMethod(madryLayer(28, 1, 32)), "col2im");
  assertEquals(chooseInputGradMethod(madryLayer(14, 32, 64)), "conv");
  assertEquals(chooseInputGradMethod(madryLayer(28, 1, 8)), "conv");
  assertEquals(chooseInputGradMethod(madryLayer(28, 16, 32, 2)), "col2im");
});

Deno.test("planMatMul() packs the smaller operand of a dense layer's training products", () => {
  // Forward pass with new weights: pack the activations (transposed), not the 3136x1024 weights.
  assertEquals(planMatMul([128, 3136], [3136, 1024], false, false, false).orientation, "swapped");
  // The same weights again (a fixed model under attack): XNNPACK keeps their packing.
  assertEquals(planMatMul([128, 3136], [3136, 1024], false, false, true).orientation, "direct");
  // Input gradient dy . W^T: transpose the small dy rather than W.
  assertEquals(planMatMul([128, 1024], [3136, 1024], false, true, false).orientation, "swapped");
  // Weight gradient x^T . dy: transposing x and packing dy is cheapest.
  assertEquals(planMatMul([128, 3136], [128, 1024], true, false, false).orientation, "direct");
  // Batched products are never swapped.
  assertEquals(planMatMul([2, 128, 3136], [2, 3136, 1024], false, false, false).orientation, "direct");
  const plan = planMatMul([7, 2], [9, 7], true, true, false);
  assertEquals([plan.m, plan.k, plan.n], [2, 7, 9]);
});
