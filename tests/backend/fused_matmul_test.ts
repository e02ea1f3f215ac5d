import * as tf from "@tensorflow/tfjs";
import { assertEquals } from "@std/assert";
import { initBackend, NATIVE_POLICY, registerWasmKernels } from "../../lib/backend/mod.ts";
import { planMatMul } from "../../lib/backend/matmul_plan.ts";
import { seededFloats, valuesOn, withFlags } from "./_compare.ts";

registerWasmKernels();
// Initializing cpu through the library keeps its Node.js greeting out of the test output.
await initBackend({ backend: "cpu" });

Deno.test("the wasm _FusedMatMul gives the same bits on the first and later uses of its weights", async () => {
  // A dense layer of 784 -> 64 units on a batch of 12: its first product with new weights runs swapped,
  // later ones (the weights packed by then) direct.
  const [m, k, n] = [12, 784, 64];
  assertEquals(planMatMul([m, k], [k, n], false, false, false).orientation, "swapped");
  assertEquals(planMatMul([m, k], [k, n], false, false, true).orientation, "direct");
  const [first, second, third, unfused] = await withFlags(
    { [NATIVE_POLICY]: "auto" },
    () =>
      valuesOn("wasm", () => {
        const a = tf.tensor2d(seededFloats(m * k, 21), [m, k]);
        const b = tf.tensor2d(seededFloats(k * n, 22).map((v) => 0.05 * v), [k, n]);
        const bias = tf.tensor1d(seededFloats(n, 23));
        const dense = () => tf.fused.matMul({ a, b, bias, activation: "relu" });
        return [dense(), dense(), dense(), tf.relu(tf.add(tf.matMul(a, b), bias))];
      }),
  );
  assertEquals(Array.from(second), Array.from(first), "second use against the first");
  assertEquals(Array.from(third), Array.from(second), "third use against the second");
  assertEquals(Array.from(first), Array.from(unfused), "the fused product against matMul, add and relu");
});
