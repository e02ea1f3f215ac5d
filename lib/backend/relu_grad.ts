/**
 * The gradient of relu as one kernel. tfjs computes it as `dy * cast(step(x))`: three passes over the
 * activation, each writing a full-size tensor. Backends that register {@linkcode RELU_GRAD} (the native
 * kernels, for wasm) do it in one; the others keep tfjs's three ops, with the same float32 results.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The kernel's name. Inputs `dy` and `x` (float32, one shape); output `dy * step(x)`. */
export const RELU_GRAD = "AdvexReluGrad";

/** dy * step(x), on the active backend's fused kernel when it has one. */
export function reluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (
    dy.dtype === "float32" && x.dtype === "float32" && tf.util.arraysEqual(dy.shape, x.shape) &&
    tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined
  ) {
    return tf.engine().runKernel(RELU_GRAD, { dy, x }) as tf.Tensor;
  }
  return tf.mul(dy, tf.cast(tf.step(x), "float32"));
}

let registered = false;

/**
 * Registers relu's gradient through {@linkcode reluGrad}, and the gradient of {@linkcode RELU_GRAD} itself
 * (linear in dy, zero in x) so that second derivatives still work. Once; later calls do nothing.
 */
export function registerReluGradient(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: "Relu",
    inputsToSave: ["x"],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = Array.isArray(dy) ? dy[0] : dy;
      return { x: () => reluGrad(g, saved[0]) };
    },
  });
  tf.registerGradient({
    kernelName: RELU_GRAD,
    inputsToSave: ["x"],
    gradFunc: (ddy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = Array.isArray(ddy) ? ddy[0] : ddy;
      return { dy: () => reluGrad(g, saved[0]), x: () => tf.zerosLike(saved[0]) };
    },
  });
}
