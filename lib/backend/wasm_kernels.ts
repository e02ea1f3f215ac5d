/**
 * Kernels that make the wasm backend able to train convolutional networks, and train them fast.
 *
 * Importing this module loads `@tensorflow/tfjs-backend-wasm`, which registers the wasm backend with a
 * higher priority than cpu: select a backend explicitly (`initBackend()` or `await tf.setBackend(...)`)
 * before running ops.
 * @module
 */
import "@tensorflow/tfjs-backend-wasm";
import type * as tf from "@tensorflow/tfjs";
import { registerBatchNormGradient } from "./batch_norm_grad.ts";
import { registerReluGradient } from "./relu_grad.ts";
import { conv2dBackpropFilterConfig } from "./conv2d_backprop_filter.ts";
import { conv2dBackpropInputConfig } from "./conv2d_backprop_input.ts";
import { batchMatMulConfig } from "./matmul_plan.ts";
import { fusedMatMulConfig } from "./fused_matmul.ts";
import { maxPoolGradConfig } from "./max_pool_grad.ts";
import { identityConfig } from "./identity.ts";
import { linfStepConfig } from "./linf_step.ts";
import { kernelInstalled, kernelNames, registerKernels } from "./kernel_registry.ts";
import "./flags.ts";

/** The kernels advex registers on the wasm backend, each over tfjs-backend-wasm's (if it has one). */
export const WASM_KERNELS: readonly tf.KernelConfig[] = [
  identityConfig,
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  batchMatMulConfig,
  fusedMatMulConfig,
  maxPoolGradConfig,
  linfStepConfig,
];

/** The names of the kernels {@linkcode registerWasmKernels} adds or replaces on the wasm backend. */
export const WASM_KERNEL_OVERRIDES: readonly string[] = kernelNames(WASM_KERNELS);

/**
 * Registers {@linkcode WASM_KERNELS}, the kernels needed to train convolutional networks quickly (with
 * `registerKernels`), and two gradients. Safe to call any number of times, before or after the wasm backend
 * is initialized, and after the native kernels (which override these) too.
 *
 * - `Conv2DBackpropFilter` (missing from tfjs-backend-wasm): NHWC or NCHW, any strides, "same", "valid" or
 *   explicit padding, computed by a dilated `Conv2D` or an im2col matmul, whichever is faster for the shape.
 * - `Conv2DBackpropInput`: recast as one `Conv2D` of the stride-spread gradient with the flipped filter, or
 *   as a matmul and a scatter-add, whichever is faster for the shape; 2-10x faster than the stock loop on
 *   MNIST-sized layers (NCHW still uses the stock kernel).
 * - `BatchMatMul` and `_FusedMatMul`: operands flagged `transposeA`/`transposeB` are transposed
 *   explicitly first, which is 10-40x faster than the stock kernels' transposed path, and single products
 *   whose right operand is large and new (a dense layer's weights in training) are computed transposed,
 *   so that XNNPACK packs the smaller operand. Batched `_FusedMatMul` with a bias or PReLU weights, which
 *   the stock kernel gets wrong, is computed as a product, an `Add` and the activation.
 * - `MaxPoolGrad`: a single pass over the input on the wasm heap, 3-4x faster than the stock kernel, which
 *   also misplaces the gradient of windows whose values are all negative.
 * - `AdvexLinfStep` (advex's own, `linf_step.ts`): an l-inf attack step and its clamp to the ball, in one
 *   pass instead of seven ops.
 * - `Identity`: shares the input's buffer (one more reference) instead of copying it, as the cpu backend
 *   does. tfjs clones every tensor it saves for a gradient, so the stock copy cost a training step or an
 *   attack step one full copy of each saved activation (5 ms of a 64 ms Madry CNN attack step).
 *
 * It also registers the broadcasting gradient of batch normalisation (`batch_norm_grad.ts`), which drops
 * the full-size Tile that makes tfjs's own gradient slow on wasm, and relu's gradient through one kernel
 * where the backend has it (`relu_grad.ts`; the native kernels add it).
 *
 * Every other kernel that dense, conv2d, pooling, batch-normalization, relu, softmax cross-entropy, sign,
 * clipByValue, Adam and SGD training steps use already exists on the wasm backend.
 */
export function registerWasmKernels(): void {
  registerKernels(WASM_KERNELS);
  registerBatchNormGradient();
  registerReluGradient();
}

/** Whether {@linkcode registerWasmKernels} has run in this process (its filter gradient is installed). */
export function wasmKernelsRegistered(): boolean {
  return kernelInstalled(conv2dBackpropFilterConfig);
}
