/**
 * What the native kernels (`native_*.ts`) share: the native library they call, the flags they read
 * (`ADVEX_NATIVE_POLICY`, `ADVEX_NATIVE_DIRECT`), the size test that sends a product to them, and the steps
 * common to convolutions and products.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { activate } from "./fused_matmul.ts";
import { callKernel, release } from "./kernel_call.ts";
import { NATIVE_DIRECT, NATIVE_POLICY } from "./flags.ts";
import type { NativeLibrary } from "./native.ts";

let library: NativeLibrary | undefined;
/** The setting of the direct kernels last passed to the library (undefined: not passed yet). */
let directApplied: boolean | undefined;

/** Sets the library the native kernels call (`registerNativeKernels` does). */
export function useNativeLibrary(lib: NativeLibrary): void {
  if (lib !== library) directApplied = undefined;
  library = lib;
}

/**
 * The native library, with the direct kernels turned on or off as the `ADVEX_NATIVE_DIRECT` flag says (the
 * library keeps that setting itself, so it is passed on whenever the flag changed). Throws when no library
 * was set: the native kernels are registered only with one.
 */
export function nativeLibrary(): NativeLibrary {
  if (library === undefined) throw new Error("the native kernels are registered without a native library");
  const direct = tf.env().getBool(NATIVE_DIRECT);
  if (direct !== directApplied) {
    library.symbols.advex_direct_enable(direct ? 1 : 0);
    directApplied = direct;
  }
  return library;
}

/** Whether the `ADVEX_NATIVE_POLICY` flag is "always" (every supported shape goes native). */
export function nativeAlways(): boolean {
  return tf.env().get(NATIVE_POLICY) === "always";
}

/**
 * Whether the product of an m x k and a k x n matrix goes to the native kernels. Under the "auto" policy:
 * when every dimension is at least 24 and the product has at least 8M multiply-adds, or, with `direct` (the
 * direct AVX-512 convolution takes it), when it has at least 1M. Below that, XNNPACK's wasm kernels win
 * through BLAS, measured on 2 cores: a 3x3 convolution from 8 to 8 channels on 28x28 images (batch 128)
 * takes 2.9 ms on wasm and 12 ms through BLAS, but 1.0 ms in the direct kernel; the Madry CNN's second
 * convolution (32 to 64 channels, 5x5) takes 73 ms on wasm, 27 ms through BLAS and 5.7 ms in the direct
 * kernel. Under "always" (the `ADVEX_NATIVE_POLICY` flag), every product.
 */
export function nativeWorthIt(m: number, n: number, k: number, direct = false): boolean {
  if (nativeAlways()) return true;
  return direct ? m * n * k >= 1e6 : Math.min(m, n, k) >= 24 && m * n * k >= 8e6;
}

/** Throws when a native call returned an error code (out of memory). */
export function check(code: number, what: string): void {
  if (code !== 0) throw new Error(`native ${what} failed (code ${code}: out of memory)`);
}

/** Activations the native code applies itself (after the bias), by their code in `advex_direct.h`. */
export const NATIVE_ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1 };

/** Adds the bias and applies the activation of a fused kernel; frees `out` when it makes a new tensor. */
export function epilogue(
  backend: BackendWasm,
  out: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  prelu: tf.TensorInfo | undefined,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  let result = out;
  if (bias != null) {
    const sum = callKernel(backend, "Add", { a: result, b: bias });
    release(backend, result);
    result = sum;
  }
  const activated = activate(backend, result, String(attrs.activation ?? "linear"), attrs, prelu);
  if (activated !== result) release(backend, result);
  return activated;
}
