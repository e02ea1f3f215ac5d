/**
 * The convolution kernels of the wasm backend computed by the native library, for float32 NHWC tensors:
 * `Conv2D`, `FusedConv2D`, `Conv2DBackpropInput` and `Conv2DBackpropFilter`. The geometry goes to the native
 * functions as `advex_conv_geometry` (see `conv_geometry.ts`). Other tensors, and convolutions too small to
 * gain (see `nativeWorthIt`), go to the kernel each one replaced.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { parameterGradientsSkipped } from "../util/gradient_scope.ts";
import { heapView, sizeOf, WASM } from "./kernel_call.ts";
import { type ConvGeometry, convGeometry, type ConvGradAttrs, packConvGeometry } from "./conv_geometry.ts";
import { replacedKernelFunc } from "./kernel_registry.ts";
import { check, epilogue, NATIVE_ACTIVATIONS, nativeLibrary, nativeWorthIt } from "./native_state.ts";
import type { NativeLibrary } from "./native.ts";

/** Attributes of the convolution kernels, as tfjs passes them. */
interface ConvAttrs extends ConvGradAttrs {
  dilations?: number | [number, number];
}

function nhwcFloat(a: ConvAttrs, ...tensors: tf.TensorInfo[]): boolean {
  return (a.dataFormat ?? "NHWC") === "NHWC" && tensors.every((t) => t.dtype === "float32");
}

/**
 * Whether a convolution of geometry `g` (packed as `packed`) goes native (`which`: 0 forward, 1 input
 * gradient, 2 filter gradient): the direct kernels take the filter gradient wherever they take the forward
 * pass. Its matrix-product sizes are the output pixels (rows), the patch size and the output channels.
 */
function convGoesNative(lib: NativeLibrary, g: ConvGeometry, packed: Int32Array, which: 0 | 1 | 2): boolean {
  const rows = g.n * g.oh * g.ow;
  const kdim = g.kh * g.kw * g.ci;
  const direct = lib.symbols.advex_conv_direct(packed, which === 1 ? 1 : 0) === 1;
  if (which === 0) return nativeWorthIt(rows, g.co, kdim, direct);
  return which === 1 ? nativeWorthIt(rows, kdim, g.co, direct) : nativeWorthIt(kdim, g.co, rows, direct);
}

/** The convolution of x by filter, plus `bias` and through activation `act` (a NATIVE_ACTIVATIONS code). */
function conv(
  lib: NativeLibrary,
  backend: BackendWasm,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  g: ConvGeometry,
  packed: Int32Array,
  bias: tf.TensorInfo | null = null,
  act = 0,
): tf.TensorInfo {
  const out = backend.makeOutput([g.n, g.oh, g.ow, g.co], "float32");
  if (sizeOf(out.shape) > 0) {
    check(
      lib.symbols.advex_conv2d(
        heapView(backend, x),
        heapView(backend, filter),
        bias === null ? null : heapView(backend, bias),
        act,
        heapView(backend, out),
        packed,
      ),
      "conv2d",
    );
  }
  return out;
}

/**
 * A gradient of shape `shape`, written by `compute` (which returns the native status): zeros when `dy` is
 * empty, nothing to compute when the result is.
 */
function convGradient(
  backend: BackendWasm,
  shape: number[],
  dy: tf.TensorInfo,
  what: string,
  compute: (out: tf.TensorInfo) => number,
): tf.TensorInfo {
  const out = backend.makeOutput(shape, "float32");
  if (sizeOf(out.shape) === 0) return out;
  if (sizeOf(dy.shape) === 0) {
    heapView(backend, out).fill(0);
    return out;
  }
  check(compute(out), what);
  return out;
}

/** Native `Conv2D` (with dilations). */
export const nativeConv2DConfig: tf.KernelConfig = {
  kernelName: "Conv2D",
  backendName: WASM,
  kernelFunc: (args) => {
    const { x, filter } = args.inputs;
    const a = args.attrs as unknown as ConvAttrs;
    if (!nhwcFloat(a, x!, filter!)) return replacedKernelFunc(nativeConv2DConfig)(args);
    const lib = nativeLibrary();
    const g = convGeometry(x!.shape, filter!.shape, a, a.dilations ?? 1);
    const packed = packConvGeometry(g);
    if (!convGoesNative(lib, g, packed, 0)) return replacedKernelFunc(nativeConv2DConfig)(args);
    return conv(lib, args.backend as BackendWasm, x!, filter!, g, packed);
  },
};

/** Native `FusedConv2D`: the bias and a relu applied by the native code, other activations after it. */
export const nativeFusedConv2DConfig: tf.KernelConfig = {
  kernelName: "FusedConv2D",
  backendName: WASM,
  kernelFunc: (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs;
    const a = args.attrs as unknown as ConvAttrs;
    if (!nhwcFloat(a, x!, filter!)) return replacedKernelFunc(nativeFusedConv2DConfig)(args);
    const lib = nativeLibrary();
    const g = convGeometry(x!.shape, filter!.shape, a, a.dilations ?? 1);
    const packed = packConvGeometry(g);
    if (!convGoesNative(lib, g, packed, 0)) return replacedKernelFunc(nativeFusedConv2DConfig)(args);
    const backend = args.backend as BackendWasm;
    const act = NATIVE_ACTIVATIONS[String(args.attrs?.activation ?? "linear")];
    const biasOk = bias == null || (bias.dtype === "float32" && sizeOf(bias.shape) === g.co);
    if (act !== undefined && biasOk) return conv(lib, backend, x!, filter!, g, packed, bias ?? null, act);
    const out = conv(lib, backend, x!, filter!, g, packed);
    return epilogue(backend, out, bias ?? undefined, preluActivationWeights ?? undefined, args.attrs ?? {});
  },
};

/** Native `Conv2DBackpropInput`. */
export const nativeConv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: "Conv2DBackpropInput",
  backendName: WASM,
  kernelFunc: (args) => {
    const { dy, filter } = args.inputs;
    const a = args.attrs as unknown as ConvAttrs & { inputShape: number[] };
    if (!nhwcFloat(a, dy!, filter!)) return replacedKernelFunc(nativeConv2DBackpropInputConfig)(args);
    const lib = nativeLibrary();
    const backend = args.backend as BackendWasm;
    const g = convGeometry(a.inputShape, filter!.shape, a);
    const packed = packConvGeometry(g);
    if (!convGoesNative(lib, g, packed, 1)) return replacedKernelFunc(nativeConv2DBackpropInputConfig)(args);
    return convGradient(
      backend,
      a.inputShape,
      dy!,
      "conv2d input gradient",
      (out) =>
        lib.symbols.advex_conv2d_backprop_input(
          heapView(backend, dy!),
          heapView(backend, filter!),
          heapView(backend, out),
          packed,
        ),
    );
  },
};

/** Native `Conv2DBackpropFilter`. */
export const nativeConv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: "Conv2DBackpropFilter",
  backendName: WASM,
  kernelFunc: (args) => {
    const { x, dy } = args.inputs;
    const a = args.attrs as unknown as ConvAttrs & { filterShape: number[] };
    // Inside inputGradientsOnly() the replaced kernel returns zeros without computing anything.
    if (!nhwcFloat(a, x!, dy!) || parameterGradientsSkipped()) {
      return replacedKernelFunc(nativeConv2DBackpropFilterConfig)(args);
    }
    const lib = nativeLibrary();
    const backend = args.backend as BackendWasm;
    const g = convGeometry(x!.shape, a.filterShape, a);
    const packed = packConvGeometry(g);
    if (!convGoesNative(lib, g, packed, 2)) return replacedKernelFunc(nativeConv2DBackpropFilterConfig)(args);
    return convGradient(
      backend,
      a.filterShape,
      dy!,
      "conv2d filter gradient",
      (out) =>
        lib.symbols.advex_conv2d_backprop_filter(
          heapView(backend, x!),
          heapView(backend, dy!),
          heapView(backend, out),
          packed,
        ),
    );
  },
};
