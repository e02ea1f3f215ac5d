/**
 * Kernels of the wasm backend computed by the native library (`native.ts`), for float32 NHWC tensors:
 * `Conv2D`, `FusedConv2D`, `Conv2DBackpropInput`, `Conv2DBackpropFilter` (`native_conv.ts`), `BatchMatMul`,
 * `_FusedMatMul` (`native_matmul.ts`), `MaxPool`, `MaxPoolGrad` (`native_pool.ts`), `Sum` and `Mean` over
 * leading axes, and per-channel `Add`, `Sub`, `Multiply` and `RealDiv`; plus three kernels of advex's own,
 * the fused Adam step, relu's gradient and the l-inf attack step (`native_elementwise.ts`). The native code
 * reads and writes the wasm heap in place: on AVX-512 CPUs convolutions, products and 2x2 pooling run as
 * direct multithreaded kernels, elsewhere as im2col / col2im around a multithreaded BLAS matrix product.
 * Anything else (NCHW, other dtypes, broadcasts it does not handle) goes to the kernel each one replaced,
 * which stays installed underneath.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { kernelInstalled, kernelNames, registerKernels } from "./kernel_registry.ts";
import { WASM_KERNELS } from "./wasm_kernels.ts";
import { registerBatchNormGradient } from "./batch_norm_grad.ts";
import { registerReluGradient } from "./relu_grad.ts";
import {
  nativeConv2DBackpropFilterConfig,
  nativeConv2DBackpropInputConfig,
  nativeConv2DConfig,
  nativeFusedConv2DConfig,
} from "./native_conv.ts";
import { nativeBatchMatMulConfig, nativeFusedMatMulConfig } from "./native_matmul.ts";
import { nativeMaxPoolConfig, nativeMaxPoolGradConfig, nativeMaxPoolReluGradConfig } from "./native_pool.ts";
import {
  nativeAddConfig,
  nativeFusedAdamConfig,
  nativeLinfStepConfig,
  nativeMeanConfig,
  nativeMultiplyConfig,
  nativeRealDivConfig,
  nativeReluGradConfig,
  nativeSubConfig,
  nativeSumConfig,
} from "./native_elementwise.ts";
import { useNativeLibrary } from "./native_state.ts";
import type { NativeLibrary } from "./native.ts";

export { nativeWorthIt } from "./native_state.ts";

/** The native kernels; each overrides the kernel registered before it (a wasm kernel of advex's or tfjs's). */
export const NATIVE_KERNELS: readonly tf.KernelConfig[] = [
  nativeConv2DConfig,
  nativeFusedConv2DConfig,
  nativeConv2DBackpropInputConfig,
  nativeConv2DBackpropFilterConfig,
  nativeBatchMatMulConfig,
  nativeMaxPoolConfig,
  nativeMaxPoolGradConfig,
  nativeMaxPoolReluGradConfig,
  nativeSumConfig,
  nativeMeanConfig,
  nativeAddConfig,
  nativeSubConfig,
  nativeMultiplyConfig,
  nativeRealDivConfig,
  nativeFusedMatMulConfig,
  nativeFusedAdamConfig,
  nativeReluGradConfig,
  nativeLinfStepConfig,
];

/**
 * Every kernel advex registers on the wasm backend when the native library loads, in the order they go in:
 * the wasm kernels, then the native ones over them (which fall back to them).
 */
export const ADVEX_KERNELS: readonly tf.KernelConfig[] = [...WASM_KERNELS, ...NATIVE_KERNELS];

/** The names of the kernels the native library computes. */
export const NATIVE_KERNEL_NAMES: readonly string[] = kernelNames(NATIVE_KERNELS);

/**
 * Registers {@linkcode ADVEX_KERNELS} with `lib` as the native library: the wasm kernels where they are not
 * registered yet, and the native ones over them (with the gradients `registerWasmKernels` registers). Safe
 * to call again; `unregisterKernels(NATIVE_KERNELS)` puts the wasm kernels back.
 */
export function registerNativeKernels(lib: NativeLibrary): void {
  useNativeLibrary(lib);
  registerKernels(ADVEX_KERNELS);
  registerBatchNormGradient();
  registerReluGradient();
}

/** Whether the native kernels are registered now. */
export function nativeKernelsRegistered(): boolean {
  return kernelInstalled(nativeConv2DConfig);
}
