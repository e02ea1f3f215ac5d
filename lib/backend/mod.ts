/**
 * Backend selection, and the wasm kernels that let tfjs train convolutional networks quickly on the CPU.
 *
 * Importing this module loads `@tensorflow/tfjs-backend-wasm` (which registers wasm as the default
 * backend): call {@linkcode initBackend} (or `await tf.setBackend(...)`) before running ops.
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
  stockWasmKernel,
  WASM_KERNEL_OVERRIDES,
  type WasmKernelOptions,
  wasmKernelsRegistered,
} from "./wasm_kernels.ts";
export {
  chooseFilterGradMethod,
  type FilterGradMethod,
  getFilterGradMethod,
  setFilterGradMethod,
} from "./conv2d_backprop_filter.ts";
export {
  chooseInputGradMethod,
  getInputGradMethod,
  type InputGradMethod,
  setInputGradMethod,
} from "./conv2d_backprop_input.ts";
export { type ConvGeometry, convGeometry } from "./conv_geometry.ts";
export { DEFAULT_PATCH_MATRIX_LIMIT, getPatchMatrixLimit, setPatchMatrixLimit } from "./patch_limit.ts";
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
  getNativePolicy,
  NATIVE_KERNELS,
  nativeKernelsRegistered,
  type NativePolicy,
  nativeWorthIt,
  registerNativeKernels,
  setNativeDirect,
  setNativePolicy,
  unregisterNativeKernels,
} from "./native_kernels.ts";
export { FUSED_ADAM, fusedAdam, type FusedAdamAttrs, fusedAdamAvailable } from "./fused_adam.ts";
export { registerReluGradient, RELU_GRAD, reluGrad } from "./relu_grad.ts";
