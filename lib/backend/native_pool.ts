/**
 * Max pooling on the wasm backend computed by the native library, for float32 NHWC tensors: `MaxPool` for
 * 2x2 windows with stride 2 (the direct kernels; other pools go to the kernel it replaced) and
 * `MaxPoolGrad` for any window. The geometry goes to the native functions as `advex_pool_geometry` (see
 * `conv_geometry.ts`).
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { heapView, release, sizeOf, WASM } from "./kernel_call.ts";
import { packPoolGeometry, type PoolGeometry, poolGeometry } from "./conv_geometry.ts";
import { replacedKernelFunc } from "./kernel_registry.ts";
import { type MaxPoolGradAttrs, maxPoolInfo } from "./max_pool_grad.ts";
import { check, nativeLibrary } from "./native_state.ts";
import { MAX_POOL_RELU_GRAD } from "./max_pool_relu_grad.ts";

/** 2x2 windows, stride 2, no padding: what the direct max pool takes (the same test as `advex_direct.c`). */
function plain2x2(g: PoolGeometry): boolean {
  return g.sh === 2 && g.sw === 2 && g.fh === 2 && g.fw === 2 && g.top === 0 && g.left === 0 &&
    g.oh === Math.floor(g.h / 2) && g.ow === Math.floor(g.w / 2);
}

/** Native `MaxPool` (2x2 windows, stride 2, on CPUs with the direct kernels). */
export const nativeMaxPoolConfig: tf.KernelConfig = {
  kernelName: "MaxPool",
  backendName: WASM,
  kernelFunc: (args) => {
    const { x } = args.inputs;
    if (x!.dtype !== "float32") return replacedKernelFunc(nativeMaxPoolConfig)(args);
    const g = poolGeometry(maxPoolInfo(x!.shape, args.attrs as unknown as MaxPoolGradAttrs));
    if (!plain2x2(g) || sizeOf(x!.shape) === 0) return replacedKernelFunc(nativeMaxPoolConfig)(args);
    const lib = nativeLibrary();
    const backend = args.backend as BackendWasm;
    const y = backend.makeOutput([g.n, g.oh, g.ow, g.c], "float32");
    if (lib.symbols.advex_max_pool(heapView(backend, x!), heapView(backend, y), packPoolGeometry(g)) === 1) {
      return y;
    }
    release(backend, y); // no direct kernels on this CPU (or turned off)
    return replacedKernelFunc(nativeMaxPoolConfig)(args);
  },
};

/** A native max-pool gradient: `advex_max_pool_grad`, or with `relu` the fused one after a relu. */
function maxPoolGradKernel(config: () => tf.KernelConfig, relu: boolean): tf.KernelFunc {
  return (args) => {
    const { dy, input } = args.inputs;
    if (dy!.dtype !== "float32" || input!.dtype !== "float32") return replacedKernelFunc(config())(args);
    const lib = nativeLibrary();
    const g = poolGeometry(maxPoolInfo(input!.shape, args.attrs as unknown as MaxPoolGradAttrs));
    const backend = args.backend as BackendWasm;
    const dx = backend.makeOutput(input!.shape, "float32");
    if (sizeOf(dx.shape) === 0) return dx;
    const call = relu ? lib.symbols.advex_max_pool_grad_relu : lib.symbols.advex_max_pool_grad;
    check(
      call(heapView(backend, input!), heapView(backend, dy!), heapView(backend, dx), packPoolGeometry(g)),
      relu ? "max-pool-and-relu gradient" : "max-pool gradient",
    );
    return dx;
  };
}

/** Native `MaxPoolGrad`. */
export const nativeMaxPoolGradConfig: tf.KernelConfig = {
  kernelName: "MaxPoolGrad",
  backendName: WASM,
  kernelFunc: maxPoolGradKernel(() => nativeMaxPoolGradConfig, false),
};

/**
 * Native `AdvexMaxPoolReluGrad` (`max_pool_relu_grad.ts`): the pool's gradient and the relu's before it in
 * one pass. No kernel lies under it: it is registered with the native ones only.
 */
export const nativeMaxPoolReluGradConfig: tf.KernelConfig = {
  kernelName: MAX_POOL_RELU_GRAD,
  backendName: WASM,
  kernelFunc: maxPoolGradKernel(() => nativeMaxPoolReluGradConfig, true),
};
