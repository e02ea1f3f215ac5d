/**
 * Calling registered wasm kernels from inside another kernel.
 *
 * A kernel implementation must not use `tf.*` ops: those go through the engine, record on the gradient
 * tape and create tracked tensors. Instead it calls the registered kernel functions directly and frees
 * the intermediate buffers itself.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

/** The name under which the wasm backend and its kernels are registered. */
export const WASM = "wasm";

/**
 * Runs the kernel currently registered as `name` for the wasm backend and returns its (first) output.
 *
 * The result is owned by the caller: free it with {@linkcode release} unless it is returned from the
 * calling kernel.
 */
export function callKernel(
  backend: BackendWasm,
  name: string,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const config = tf.getKernel(name, WASM);
  if (config === undefined) throw new Error(`the wasm backend has no '${name}' kernel`);
  const out = config.kernelFunc({ inputs, backend, attrs });
  return Array.isArray(out) ? out[0] : out;
}

/** Drops one reference to the buffer behind `info` (reshapes share buffers and count references). */
export function release(backend: BackendWasm, info: tf.TensorInfo): void {
  backend.disposeData(info.dataId);
}

/** Returns a view of the float32 buffer behind `info` on the wasm heap. Re-fetch it after any allocation. */
export function heapView(backend: BackendWasm, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Returns the product of the entries of `shape`. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
