import * as tf from "@tensorflow/tfjs";
import { assertLess } from "@std/assert";
import { registerBatchNormGradient } from "../../lib/backend/mod.ts";
import { maxAbsDiff, setupBackend } from "../_helpers.ts";

await setupBackend();
registerBatchNormGradient();

/** Batch normalisation spelt out in elementary ops, whose gradients do not involve FusedBatchNorm. */
function explicit(
  x: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  offset: tf.Tensor,
  scale: tf.Tensor,
  eps: number,
) {
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), scale), offset);
}

for (const shape of [[4, 5, 6, 3], [7, 3]]) {
  Deno.test(`registerBatchNormGradient() gives tf.batchNorm the gradients of its formula, shape [${shape}]`, () => {
    tf.tidy(() => {
      const c = shape.at(-1)!;
      const x = tf.randomNormal(shape, 0.3, 1.2, "float32", 1);
      const mean = tf.randomUniform([c], -0.5, 0.5, "float32", 2);
      const variance = tf.randomUniform([c], 0.5, 2, "float32", 3);
      const offset = tf.randomUniform([c], -0.5, 0.5, "float32", 4);
      const scale = tf.randomUniform([c], 0.5, 1.5, "float32", 5);
      const weight = tf.randomNormal(shape, 0, 1, "float32", 6);
      const loss = (f: typeof explicit) => (...args: tf.Tensor[]) =>
        tf.sum(tf.mul(f(args[0], args[1], args[2], args[3], args[4], 1e-3), weight));
      const fused = (...a: Parameters<typeof explicit>) => tf.batchNorm(a[0], a[1], a[2], a[3], a[4], a[5]);
      const inputs = [x, mean, variance, offset, scale];
      const got = tf.grads(loss(fused))(inputs);
      const want = tf.grads(loss(explicit))(inputs);
      got.forEach((g, i) => assertLess(maxAbsDiff(g, want[i]), 1e-4, `gradient ${i}`));
    });
  });
}

Deno.test("registerBatchNormGradient() keeps training-mode batch norm (statistics from the batch) exact", () => {
  tf.tidy(() => {
    const x = tf.randomNormal([8, 4, 4, 3], 1, 2, "float32", 7);
    const weight = tf.randomNormal([8, 4, 4, 3], 0, 1, "float32", 8);
    const offset = tf.tensor1d([0.1, -0.2, 0.3]);
    const scale = tf.tensor1d([1.1, 0.9, 1.3]);
    const viaMoments = (fused: boolean) => (xi: tf.Tensor) => {
      const { mean, variance } = tf.moments(xi, [0, 1, 2]);
      const y = fused
        ? tf.batchNorm(xi, mean, variance, offset, scale, 1e-3)
        : explicit(xi, mean, variance, offset, scale, 1e-3);
      return tf.sum(tf.mul(y, weight));
    };
    assertLess(maxAbsDiff(tf.grad(viaMoments(true))(x), tf.grad(viaMoments(false))(x)), 1e-4);
  });
});

Deno.test("registerBatchNormGradient() computes the input gradient without a full-size Tile", async () => {
  const x = tf.randomNormal([8, 6, 6, 4], 0, 1, "float32", 9);
  const stats = [tf.zeros([4]), tf.ones([4]), tf.zeros([4]), tf.ones([4])];
  const profile = await tf.profile(() => {
    const g = tf.grad((xi: tf.Tensor) =>
      tf.sum(tf.batchNorm(xi, stats[0], stats[1], stats[2], stats[3], 1e-3))
    )(x);
    g.dispose();
  });
  const kernels = profile.kernels.map((k) => k.name);
  assertLess(kernels.indexOf("FusedBatchNorm"), kernels.length, "the profile saw batch norm");
  assertLess(kernels.filter((k) => k === "Tile").length, 1, `kernels: ${kernels.join(", ")}`);
  tf.dispose([x, ...stats]);
});
