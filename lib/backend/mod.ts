/**
 * Backend selection, and the wasm kernels that let tfjs train convolutional networks quickly on the CPU.
 *
 * Importing this module loads `@tensorflow/tfjs-backend-wasm` (which registers wasm as the default
 * backend): call {@linkcode initBackend} (or `await tf.setBackend(...)`) before running ops.
 *
 * Each kernel is a tfjs `KernelConfig` exported from its file; {@linkcode ADVEX_KERNELS} lists them in the
 * order they are registered (the wasm kernels, then the native ones over them), for
 * {@linkcode registerKernels} and {@linkcode unregisterKernels}. Their settings are `tf.env()` flags
 * ({@linkcode BACKEND_FLAGS}, `flags.ts`).
 * @module
 */
export {
  BACKEND_ENV_VAR,
  BACKEND_REQUESTS,
  type BackendName,
  type BackendReport,
  type BackendRequest,
  describeBackend,
  initBackend,
  type InitBackendOptions,
  resetBackendSelection,
} from "./select.ts";
export {
  registerWasmKernels,
  WASM_KERNEL_OVERRIDES,
  WASM_KERNELS,
  wasmKernelsRegistered,
} from "./wasm_kernels.ts";
export {
  kernelInstalled,
  kernelNames,
  originalKernel,
  overrideKernel,
  registerKernels,
  replacedKernel,
  replacedKernelFunc,
  restoreKernel,
  unregisterKernels,
} from "./kernel_registry.ts";
export {
  BACKEND_FLAGS,
  DEFAULT_PATCH_MATRIX_LIMIT,
  FILTER_GRAD_METHOD,
  type FilterGradMethod,
  INPUT_GRAD_METHOD,
  type InputGradMethod,
  NATIVE_DIRECT,
  NATIVE_POLICY,
  type NativePolicy,
  PATCH_MATRIX_LIMIT,
} from "./flags.ts";
export { chooseFilterGradMethod } from "./conv2d_backprop_filter.ts";
export { chooseInputGradMethod } from "./conv2d_backprop_input.ts";
export {
  CONV_GEOMETRY_FIELDS,
  type ConvGeometry,
  convGeometry,
  packConvGeometry,
  packPoolGeometry,
  POOL_GEOMETRY_FIELDS,
  type PoolGeometry,
  poolGeometry,
} from "./conv_geometry.ts";
export { probeWebGpu, type ProbeWebGpuOptions, type WebGpuProbe } from "./webgpu_probe.ts";
export { wasmBinaryFolder } from "./wasm_binary.ts";
export { registerBatchNormGradient } from "./batch_norm_grad.ts";
export { GradientScopeError, inputGradientsOnly, parameterGradientsSkipped } from "../util/gradient_scope.ts";
export {
  BLAS_CANDIDATES,
  buildNative,
  loadNative,
  NATIVE_ENV_VAR,
  NATIVE_SOURCES,
  nativeBuildDir,
  type NativeLibrary,
  nativeLibraryPath,
  type NativeStatus,
  openBlasCoreType,
} from "./native.ts";
export {
  ADVEX_KERNELS,
  NATIVE_KERNEL_NAMES,
  NATIVE_KERNELS,
  nativeKernelsRegistered,
  nativeWorthIt,
  registerNativeKernels,
} from "./native_kernels.ts";
export { FUSED_ADAM, fusedAdam, type FusedAdamAttrs, fusedAdamAvailable } from "./fused_adam.ts";
export { registerReluGradient, RELU_GRAD, reluGrad } from "./relu_grad.ts";
