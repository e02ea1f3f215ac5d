/**
 * The gradient of relu followed by a 2-D max pool, with respect to the relu's input, as one kernel. tfjs
 * computes it as two passes over the activation: the pool's gradient (each window's gradient to its
 * maximum), then relu's (zero where the activation is not positive). After a relu the second only ever
 * removes the gradient of windows whose maximum is 0, which the pool's pass can do itself; on the Madry CNN
 * at batch 256 that saves about 5 ms of a 95 ms attack step. Backends that register
 * {@linkcode MAX_POOL_RELU_GRAD} (the native kernels, for wasm) do it in one pass; the others keep the two,
 * with the same float32 results (up to the sign of zeros).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { reluGrad } from "./relu_grad.ts";

/**
 * The kernel's name. Inputs `dy` (the pool's output gradient), `input` (the relu's output, the pool's input)
 * and `output` (the pool's output); the attributes of `MaxPoolGrad`. Output: the gradient with respect to
 * the relu's input.
 */
export const MAX_POOL_RELU_GRAD = "AdvexMaxPoolReluGrad";

/** `MaxPoolGrad`'s attributes. */
export interface PoolAttrs {
  filterSize: [number, number];
  strides: [number, number];
  pad: "same" | "valid";
}

/** reluGrad(maxPoolGrad(dy), y) for a pool of `y = relu(z)` with output `p`, fused where the backend can. */
export function maxPoolReluGrad(
  dy: tf.Tensor4D,
  y: tf.Tensor4D,
  p: tf.Tensor4D,
  attrs: PoolAttrs,
): tf.Tensor4D {
  const kernelAttrs = { ...attrs, dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
  if (
    dy.dtype === "float32" && y.dtype === "float32" &&
    tf.getKernel(MAX_POOL_RELU_GRAD, tf.getBackend()) !== undefined
  ) {
    return tf.engine().runKernel(MAX_POOL_RELU_GRAD, { dy, input: y, output: p }, kernelAttrs) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const g = tf.engine().runKernel("MaxPoolGrad", { dy, input: y, output: p }, kernelAttrs) as tf.Tensor4D;
    return reluGrad(g, y) as tf.Tensor4D;
  });
}
