/**
 * Kernels that make the wasm backend able to train convolutional networks, and train them fast.
 *
 * Importing this module loads `@tensorflow/tfjs-backend-wasm`, which registers the wasm backend with a
 * higher priority than cpu: select a backend explicitly (`initBackend()` or `await tf.setBackend(...)`)
 * before running ops.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { registerBatchNormGradient } from "./batch_norm_grad.ts";
import { registerReluGradient } from "./relu_grad.ts";
import { WASM } from "./kernel_call.ts";
import {
  conv2dBackpropFilter,
  type FilterGradMethod,
  setFilterGradMethod,
} from "./conv2d_backprop_filter.ts";
import {
  type InputGradMethod,
  makeConv2dBackpropInput,
  setInputGradMethod,
} from "./conv2d_backprop_input.ts";
import { makeBatchMatMul } from "./matmul_plan.ts";
import { makeFusedMatMul } from "./fused_matmul.ts";
import { maxPoolGrad } from "./max_pool_grad.ts";

/** Options of {@linkcode registerWasmKernels}. */
export interface WasmKernelOptions {
  /**
   * Formulation of the convolution filter gradient: "conv" (dilated convolution), "im2col" (patch matrix
   * and one matmul) or "auto" (picked per shape, the default). Leaving it out keeps the current setting.
   */
  filterGradMethod?: FilterGradMethod;
  /**
   * Formulation of the convolution input gradient: "conv" (convolution with the flipped filter), "col2im"
   * (matmul and scatter-add) or "auto" (picked per shape, the default). Leaving it out keeps the setting.
   */
  inputGradMethod?: InputGradMethod;
}

/** Marks kernel configs registered here, so that a second registration recognizes them. */
const MARK = Symbol.for("advex.backend.wasmKernel");

type MarkedConfig = tf.KernelConfig & { [MARK]?: true; stock?: tf.KernelConfig };

/** The kernels that {@linkcode registerWasmKernels} adds or replaces on the wasm backend. */
export const WASM_KERNEL_OVERRIDES: readonly string[] = [
  "Identity",
  "Conv2DBackpropFilter",
  "Conv2DBackpropInput",
  "BatchMatMul",
  "_FusedMatMul",
  "MaxPoolGrad",
];

/** The config registered by this module in `config`'s chain of wrappers (the native kernels wrap ours). */
function ourConfig(config: tf.KernelConfig | undefined): MarkedConfig | undefined {
  let c = config as (MarkedConfig & { previous?: tf.KernelConfig }) | undefined;
  while (c !== undefined) {
    if (c[MARK] === true) return c;
    c = c.previous as typeof c;
  }
  return undefined;
}

function isOurs(config: tf.KernelConfig | undefined): boolean {
  return ourConfig(config) !== undefined;
}

/**
 * Installs `build(original)` as the wasm kernel `name`, where `original` is the kernel registered before
 * (if any); its setup and dispose hooks are kept, since they initialize the native function it calls.
 * Does nothing if the kernel was already installed here, or if `build` returns undefined.
 */
function installKernel(
  name: string,
  build: (original: tf.KernelConfig | undefined) => tf.KernelFunc | undefined,
): void {
  const current = tf.getKernel(name, WASM);
  if (isOurs(current)) return;
  const kernelFunc = build(current);
  if (kernelFunc === undefined) return;
  if (current !== undefined) tf.unregisterKernel(name, WASM);
  const marked: MarkedConfig = {
    kernelName: name,
    backendName: WASM,
    kernelFunc,
    setupFunc: current?.setupFunc,
    disposeFunc: current?.disposeFunc,
    [MARK]: true,
    stock: current,
  };
  tf.registerKernel(marked);
}

/** Builds a kernel that wraps the original one, or nothing when there is no original to wrap. */
function wrapping(build: (original: tf.KernelFunc) => tf.KernelFunc) {
  return (original: tf.KernelConfig | undefined): tf.KernelFunc | undefined =>
    original === undefined ? undefined : build(original.kernelFunc);
}

/**
 * Registers the wasm kernels needed to train convolutional networks quickly. Safe to call any number of
 * times, before or after the wasm backend is initialized.
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
export function registerWasmKernels(options: WasmKernelOptions = {}): void {
  if (options.filterGradMethod !== undefined) setFilterGradMethod(options.filterGradMethod);
  if (options.inputGradMethod !== undefined) setInputGradMethod(options.inputGradMethod);
  installKernel("Identity", wrapping(sharedIdentity));
  installKernel("Conv2DBackpropFilter", () => conv2dBackpropFilter);
  installKernel("Conv2DBackpropInput", wrapping(makeConv2dBackpropInput));
  installKernel("BatchMatMul", wrapping(makeBatchMatMul));
  installKernel("_FusedMatMul", wrapping(makeFusedMatMul));
  installKernel("MaxPoolGrad", () => maxPoolGrad);
  registerBatchNormGradient();
  registerReluGradient();
}

/** `Identity` that shares the input's buffer; strings (kept outside the heap) go to the original kernel. */
function sharedIdentity(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === "string") return original(args);
    (args.backend as BackendWasm).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
}

/** Whether {@linkcode registerWasmKernels} has run in this process (its filter gradient is registered). */
export function wasmKernelsRegistered(): boolean {
  return isOurs(tf.getKernel("Conv2DBackpropFilter", WASM));
}

/**
 * Returns the kernel that tfjs-backend-wasm itself registered as `name`, also after
 * {@linkcode registerWasmKernels} replaced it (undefined where the stock backend has none). Meant for
 * benchmarks and debugging.
 */
export function stockWasmKernel(name: string): tf.KernelConfig | undefined {
  const current = tf.getKernel(name, WASM);
  const ours = ourConfig(current);
  if (ours !== undefined) return ours.stock;
  let c = current as (tf.KernelConfig & { previous?: tf.KernelConfig }) | undefined;
  while (c?.previous !== undefined) c = c.previous;
  return c;
}
