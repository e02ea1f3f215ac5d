/**
 * The fused Adam update as a kernel: one pass over a parameter tensor, its two moment slots and its gradient
 * that writes the three new tensors, instead of the eleven elementwise ops of the op-by-op formula. The
 * native library provides it for the wasm backend (`native_kernels.ts`); `lib/train/optimizers.ts` uses it
 * wherever the active backend has it and falls back to the ops elsewhere, with the same float32 results.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The kernel's name. Inputs `x`, `m`, `v`, `g` (same shape, float32); outputs the new `x`, `m`, `v`. */
export const FUSED_ADAM = "AdvexFusedAdam";

/** Attributes of {@linkcode FUSED_ADAM}: the step's learning rate (bias correction included) and Adam's constants. */
export interface FusedAdamAttrs {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** Whether the active backend has the fused Adam kernel. */
export function fusedAdamAvailable(): boolean {
  return tf.getKernel(FUSED_ADAM, tf.getBackend()) !== undefined;
}

/** One fused Adam step: [x', m', v'] for parameters x, slots m and v and gradient g. */
export function fusedAdam(
  x: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  g: tf.Tensor,
  attrs: FusedAdamAttrs,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const out = tf.engine().runKernel(
    FUSED_ADAM,
    { x, m, v, g },
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor[];
  return [out[0], out[1], out[2]];
}
