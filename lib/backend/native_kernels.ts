/**
 * Kernels of the wasm backend computed by the native library (`native.ts`), for float32 NHWC tensors:
 * `Conv2D`, `FusedConv2D`, `Conv2DBackpropInput`, `Conv2DBackpropFilter`, `BatchMatMul`, `_FusedMatMul`,
 * `MaxPool`, `MaxPoolGrad`, `Sum` and `Mean` over leading axes, and per-channel `Add`, `Sub`, `Multiply` and
 * `RealDiv`; plus two kernels of advex's own, the fused Adam step and relu's gradient. The native code reads
 * and writes the wasm heap in place: on AVX-512 CPUs convolutions, products and 2x2 pooling run as direct
 * multithreaded kernels, elsewhere as im2col / col2im around a multithreaded BLAS matrix product. Anything
 * else (NCHW, other dtypes, broadcasts it does not handle) goes to the kernel registered before, which stays
 * installed underneath.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { FUSED_ADAM, type FusedAdamAttrs } from "./fused_adam.ts";
import { activate } from "./fused_matmul.ts";
import { RELU_GRAD } from "./relu_grad.ts";
import { parameterGradientsSkipped } from "../util/gradient_scope.ts";
import { callKernel, heapView, release, sizeOf, WASM } from "./kernel_call.ts";
import { type MaxPoolGradAttrs, maxPoolInfo } from "./max_pool_grad.ts";
import type { NativeLibrary } from "./native.ts";

/** The kernels {@linkcode registerNativeKernels} replaces. */
export const NATIVE_KERNELS: readonly string[] = [
  "Conv2D",
  "MaxPool",
  "FusedConv2D",
  "Conv2DBackpropInput",
  "Conv2DBackpropFilter",
  "BatchMatMul",
  "_FusedMatMul",
  "MaxPoolGrad",
  "Sum",
  "Mean",
  "Add",
  "Sub",
  "Multiply",
  "RealDiv",
];

const MARK = Symbol.for("advex.backend.nativeKernel");

/**
 * When the native kernels take a product: "auto" (default) only when it is large in every dimension (see
 * {@linkcode nativeWorthIt}); "always" for every shape they support (for tests).
 */
export type NativePolicy = "auto" | "always";

let policy: NativePolicy = "auto";

/** Sets the {@linkcode NativePolicy}. */
export function setNativePolicy(p: NativePolicy): void {
  if (p !== "auto" && p !== "always") throw new Error(`unknown native policy '${p}': use "auto" or "always"`);
  policy = p;
}

/** The current {@linkcode NativePolicy}. */
export function getNativePolicy(): NativePolicy {
  return policy;
}

/**
 * Whether the product of an m x k and a k x n matrix goes to the native kernels. Under "auto": when every
 * dimension is at least 24 and the product has at least 8M multiply-adds, or, with `direct` (the direct
 * AVX-512 convolution takes it), when it has at least 1M. Below that, XNNPACK's wasm kernels win through
 * BLAS, measured on 2 cores: a 3x3 convolution from 8 to 8 channels on 28x28 images (batch 128) takes 2.9 ms
 * on wasm and 12 ms through BLAS, but 1.0 ms in the direct kernel; the Madry CNN's second convolution (32 to
 * 64 channels, 5x5) takes 73 ms on wasm, 27 ms through BLAS and 5.7 ms in the direct kernel.
 */
export function nativeWorthIt(m: number, n: number, k: number, direct = false): boolean {
  if (policy === "always") return true;
  return direct ? m * n * k >= 1e6 : Math.min(m, n, k) >= 24 && m * n * k >= 8e6;
}
type Marked = tf.KernelConfig & { [MARK]?: true; previous?: tf.KernelConfig };

let installed: NativeLibrary | undefined;

/**
 * Turns the direct AVX-512 kernels of the native library on or off (they are on wherever the CPU has
 * AVX-512); off, convolutions go through im2col and BLAS as on other CPUs. Returns whether they were on.
 * For tests and benchmarks of both paths; does nothing (and returns false) without the native kernels.
 */
export function setNativeDirect(on: boolean): boolean {
  return installed !== undefined && installed.symbols.advex_direct_enable(on ? 1 : 0) === 1;
}

/** Whether the native kernels are registered now. */
export function nativeKernelsRegistered(): boolean {
  return (tf.getKernel("Conv2D", WASM) as Marked | undefined)?.[MARK] === true;
}

/** Attributes of the convolution kernels, as tfjs passes them. */
interface ConvAttrs {
  strides: number | [number, number];
  pad: "same" | "valid" | number | tf.backend_util.ExplicitPadding;
  dataFormat?: "NHWC" | "NCHW";
  dilations?: number | [number, number];
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** The geometry array the native functions take (see `native/advex_direct.h`). */
function geometry(inShape: number[], filterShape: number[], a: ConvAttrs): Int32Array {
  const info = tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    false,
    "channelsLast",
  );
  return Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
    info.outHeight,
    info.outWidth,
  ]);
}

function nhwcFloat(a: ConvAttrs, ...tensors: tf.TensorInfo[]): boolean {
  return (a.dataFormat ?? "NHWC") === "NHWC" && tensors.every((t) => t.dtype === "float32");
}

function check(code: number, what: string): void {
  if (code !== 0) throw new Error(`native ${what} failed (code ${code}: out of memory)`);
}

/** The geometry's matrix-product sizes: output pixels (rows), patch size (kdim) and output channels. */
function gemmSizes(g: Int32Array): { rows: number; kdim: number; co: number } {
  return { rows: g[0] * g[13] * g[14], kdim: g[5] * g[6] * g[3], co: g[4] };
}

/** Activations the native convolution applies itself (after the bias), by their code in `advex_direct.h`. */
const NATIVE_ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1 };

/** The convolution of x by filter, plus `bias` and through activation `act` (a NATIVE_ACTIVATIONS code). */
function conv(
  lib: NativeLibrary,
  backend: BackendWasm,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  g: Int32Array,
  bias: tf.TensorInfo | null = null,
  act = 0,
): tf.TensorInfo {
  const out = backend.makeOutput([g[0], g[13], g[14], g[4]], "float32");
  if (sizeOf(out.shape) > 0) {
    check(
      lib.symbols.advex_conv2d(
        heapView(backend, x),
        heapView(backend, filter),
        bias === null ? null : heapView(backend, bias),
        act,
        heapView(backend, out),
        g,
      ),
      "conv2d",
    );
  }
  return out;
}

/**
 * Whether a convolution of geometry `g` goes native (`which`: 0 forward, 1 input gradient, 2 filter
 * gradient): the direct kernels take the filter gradient wherever they take the forward pass.
 */
function convGoesNative(lib: NativeLibrary, g: Int32Array, which: 0 | 1 | 2): boolean {
  const { rows, kdim, co } = gemmSizes(g);
  const direct = lib.symbols.advex_conv_direct(g, which === 1 ? 1 : 0) === 1;
  if (which === 0) return nativeWorthIt(rows, co, kdim, direct);
  return which === 1 ? nativeWorthIt(rows, kdim, co, direct) : nativeWorthIt(kdim, co, rows, direct);
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

/** Adds the bias and applies the activation of a fused kernel; frees `out` when it makes a new tensor. */
function epilogue(
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

/** The product of a `BatchMatMul`: undefined when its shapes are outside what the native call handles. */
function matmul(
  lib: NativeLibrary,
  backend: BackendWasm,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  bias: tf.TensorInfo | null = null,
  act = 0,
): tf.TensorInfo | undefined {
  if (a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length !== b.shape.length) return undefined;
  if (a.shape.length < 2 || a.shape.length > 3) return undefined;
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return undefined;
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const m = transposeA ? ac : ar;
  const k = transposeA ? ar : ac;
  const n = transposeB ? br : bc;
  if ((transposeB ? bc : br) !== k) return undefined;
  if (!nativeWorthIt(m, n, k * Math.max(batchA, batchB))) return undefined;
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput(a.shape.length === 3 ? [batch, m, n] : [m, n], "float32");
  if (batch * m * n === 0) return out;
  if (k === 0) {
    if (bias !== null || act !== 0) {
      release(backend, out); // act(bias): left to the wasm kernel
      return undefined;
    }
    heapView(backend, out).fill(0);
    return out;
  }
  lib.symbols.advex_batch_matmul(
    heapView(backend, a),
    heapView(backend, b),
    bias === null ? null : heapView(backend, bias),
    act,
    heapView(backend, out),
    batch,
    batchA,
    batchB,
    m,
    n,
    k,
    transposeA ? 1 : 0,
    transposeB ? 1 : 0,
  );
  return out;
}

/** The geometry array the native pooling functions take (see `native/advex_direct.h`). */
function poolGeometry(info: tf.backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.strideHeight,
    info.strideWidth,
    info.filterHeight,
    info.filterWidth,
    info.padInfo.top,
    info.padInfo.left,
  ]);
}

/** 2x2 windows, stride 2, no padding: what the direct max pool takes (the same test as `advex_direct.c`). */
function plain2x2(g: Int32Array): boolean {
  return g[6] === 2 && g[7] === 2 && g[8] === 2 && g[9] === 2 && g[10] === 0 && g[11] === 0 &&
    g[4] === Math.floor(g[1] / 2) && g[5] === Math.floor(g[2] / 2);
}

/** Elements below which the reductions and broadcasts below stay on wasm (the FFI call costs more). */
const SMALL_REDUCTION = 4096;
const SMALL_BROADCAST = 16384;

/**
 * `Sum` or `Mean` over leading axes (every axis but the channels: a bias gradient, batch-norm statistics)
 * natively; undefined for other reductions, which stay on wasm.
 */
function leadingReduce(lib: NativeLibrary, args: Parameters<tf.KernelFunc>[0], mean: boolean) {
  const { x } = args.inputs;
  const { axis, keepDims } = (args.attrs ?? {}) as { axis?: number | number[]; keepDims?: boolean };
  if (x!.dtype !== "float32") return undefined;
  const rank = x!.shape.length;
  const axes = tf.util.parseAxisParam(axis ?? [...Array(rank).keys()], x!.shape).sort((p, q) => p - q);
  const k = axes.length;
  if (k === 0 || k >= rank || !axes.every((a, i) => a === i)) return undefined;
  const rows = sizeOf(x!.shape.slice(0, k));
  const cols = sizeOf(x!.shape.slice(k));
  if (policy !== "always" && rows * cols < SMALL_REDUCTION) return undefined;
  const backend = args.backend as BackendWasm;
  const shape = keepDims ? [...Array(k).fill(1), ...x!.shape.slice(k)] : x!.shape.slice(k);
  const out = backend.makeOutput(shape, "float32");
  if (cols === 0) return out;
  const view = heapView(backend, out);
  if (rows === 0) {
    view.fill(0); // the cpu backend's answer for a mean over nothing too
    return out;
  }
  check(lib.symbols.advex_sum_rows(heapView(backend, x!), view, rows, cols), mean ? "mean" : "sum");
  if (mean) {
    for (let c = 0; c < cols; c++) view[c] = Math.fround(view[c] / rows);
  }
  return out;
}

/**
 * A binary op (0 add, 1 subtract, 2 multiply, 3 divide) of a float32 tensor [..., C] and a per-channel one
 * ([C], or [1, ..., 1, C] of no higher rank), in either order, natively; undefined for anything else.
 */
function channelBinary(lib: NativeLibrary, args: Parameters<tf.KernelFunc>[0], op: number) {
  const { a, b } = args.inputs;
  if (a!.dtype !== "float32" || b!.dtype !== "float32") return undefined;
  const perChannel = (t: tf.TensorInfo, other: tf.TensorInfo) =>
    t.shape.length >= 1 && t.shape.length <= other.shape.length &&
    t.shape.slice(0, -1).every((d) => d === 1) && t.shape.at(-1) === other.shape.at(-1);
  const yFirst = perChannel(a!, b!) && !perChannel(b!, a!);
  const [x, y] = yFirst ? [b!, a!] : [a!, b!];
  if (!perChannel(y, x)) return undefined;
  const cols = x.shape.at(-1)!;
  const size = sizeOf(x.shape);
  if (policy !== "always" && size < SMALL_BROADCAST) return undefined;
  const backend = args.backend as BackendWasm;
  const out = backend.makeOutput(x.shape, "float32");
  if (size === 0) return out;
  lib.symbols.advex_binary_channel(
    heapView(backend, x),
    heapView(backend, y),
    heapView(backend, out),
    size / cols,
    cols,
    op,
    yFirst ? 1 : 0,
  );
  return out;
}

function builders(lib: NativeLibrary): Record<string, (previous: tf.KernelFunc) => tf.KernelFunc> {
  return {
    Conv2D: (previous) => (args) => {
      const { x, filter } = args.inputs;
      const a = args.attrs as unknown as ConvAttrs;
      if (!nhwcFloat(a, x!, filter!)) return previous(args);
      const g = geometry(x!.shape, filter!.shape, a);
      if (!convGoesNative(lib, g, 0)) return previous(args);
      return conv(lib, args.backend as BackendWasm, x!, filter!, g);
    },
    FusedConv2D: (previous) => (args) => {
      const { x, filter, bias, preluActivationWeights } = args.inputs;
      const a = args.attrs as unknown as ConvAttrs;
      if (!nhwcFloat(a, x!, filter!)) return previous(args);
      const g = geometry(x!.shape, filter!.shape, a);
      if (!convGoesNative(lib, g, 0)) return previous(args);
      const backend = args.backend as BackendWasm;
      const act = NATIVE_ACTIVATIONS[String(args.attrs?.activation ?? "linear")];
      const biasOk = bias == null || (bias.dtype === "float32" && sizeOf(bias.shape) === g[4]);
      if (act !== undefined && biasOk) return conv(lib, backend, x!, filter!, g, bias ?? null, act);
      const out = conv(lib, backend, x!, filter!, g);
      return epilogue(backend, out, bias ?? undefined, preluActivationWeights ?? undefined, args.attrs ?? {});
    },
    Conv2DBackpropInput: (previous) => (args) => {
      const { dy, filter } = args.inputs;
      const a = args.attrs as unknown as ConvAttrs & { inputShape: number[] };
      if (!nhwcFloat(a, dy!, filter!)) return previous(args);
      const backend = args.backend as BackendWasm;
      const g = geometry(a.inputShape, filter!.shape, { ...a, dilations: 1 });
      if (!convGoesNative(lib, g, 1)) return previous(args);
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
            g,
          ),
      );
    },
    Conv2DBackpropFilter: (previous) => (args) => {
      const { x, dy } = args.inputs;
      const a = args.attrs as unknown as ConvAttrs & { filterShape: number[] };
      // Inside inputGradientsOnly() the previous kernel returns zeros without computing anything.
      if (!nhwcFloat(a, x!, dy!) || parameterGradientsSkipped()) return previous(args);
      const backend = args.backend as BackendWasm;
      const g = geometry(x!.shape, a.filterShape, { ...a, dilations: 1 });
      if (!convGoesNative(lib, g, 2)) return previous(args);
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
            g,
          ),
      );
    },
    BatchMatMul: (previous) => (args) => {
      const { a, b } = args.inputs;
      const attrs = args.attrs ?? {};
      return matmul(
        lib,
        args.backend as BackendWasm,
        a!,
        b!,
        attrs.transposeA === true,
        attrs.transposeB === true,
      ) ??
        previous(args);
    },
    MaxPool: (previous) => (args) => {
      const { x } = args.inputs;
      if (x!.dtype !== "float32") return previous(args);
      const info = maxPoolInfo(x!.shape, args.attrs as unknown as MaxPoolGradAttrs);
      const backend = args.backend as BackendWasm;
      const g = poolGeometry(info);
      if (!plain2x2(g) || sizeOf(x!.shape) === 0) return previous(args);
      const y = backend.makeOutput(
        [info.batchSize, info.outHeight, info.outWidth, info.outChannels],
        "float32",
      );
      if (lib.symbols.advex_max_pool(heapView(backend, x!), heapView(backend, y), g) === 1) return y;
      release(backend, y); // no direct kernels on this CPU (or turned off)
      return previous(args);
    },
    MaxPoolGrad: (previous) => (args) => {
      const { dy, input } = args.inputs;
      if (dy!.dtype !== "float32" || input!.dtype !== "float32") return previous(args);
      const info = maxPoolInfo(input!.shape, args.attrs as unknown as MaxPoolGradAttrs);
      const backend = args.backend as BackendWasm;
      const dx = backend.makeOutput(input!.shape, "float32");
      if (sizeOf(dx.shape) === 0) return dx;
      const g = poolGeometry(info);
      check(
        lib.symbols.advex_max_pool_grad(
          heapView(backend, input!),
          heapView(backend, dy!),
          heapView(backend, dx),
          g,
        ),
        "max-pool gradient",
      );
      return dx;
    },
    Sum: (previous) => (args) => leadingReduce(lib, args, false) ?? previous(args),
    Mean: (previous) => (args) => leadingReduce(lib, args, true) ?? previous(args),
    Add: (previous) => (args) => channelBinary(lib, args, 0) ?? previous(args),
    Sub: (previous) => (args) => channelBinary(lib, args, 1) ?? previous(args),
    Multiply: (previous) => (args) => channelBinary(lib, args, 2) ?? previous(args),
    RealDiv: (previous) => (args) => channelBinary(lib, args, 3) ?? previous(args),
    _FusedMatMul: (previous) => (args) => {
      const { a, b, bias, preluActivationWeights } = args.inputs;
      const attrs = args.attrs ?? {};
      const backend = args.backend as BackendWasm;
      const [ta, tb] = [attrs.transposeA === true, attrs.transposeB === true];
      // Linear and relu, after a bias of one value per column, are applied by the native code itself.
      const act = NATIVE_ACTIVATIONS[String(attrs.activation ?? "linear")];
      const n = tb ? b!.shape.at(-2)! : b!.shape.at(-1)!;
      if (act !== undefined && (bias == null || (bias.dtype === "float32" && sizeOf(bias.shape) === n))) {
        return matmul(lib, backend, a!, b!, ta, tb, bias ?? null, act) ?? previous(args);
      }
      const out = matmul(lib, backend, a!, b!, ta, tb);
      if (out === undefined) return previous(args);
      return epilogue(backend, out, bias ?? undefined, preluActivationWeights ?? undefined, attrs);
    },
  };
}

/** The fused Adam step (`fused_adam.ts`) on the wasm heap: three new tensors from x, m, v and g. */
function fusedAdamKernel(lib: NativeLibrary): tf.KernelFunc {
  return (args) => {
    const { x, m, v, g } = args.inputs as Record<string, tf.TensorInfo>;
    const a = args.attrs as unknown as FusedAdamAttrs;
    const backend = args.backend as BackendWasm;
    for (const t of [m, v, g]) {
      if (t.dtype !== "float32" || !tf.util.arraysEqual(t.shape, x.shape)) {
        throw new Error(`${FUSED_ADAM}: x, m, v and g must be float32 tensors of one shape`);
      }
    }
    const outs = [x, m, v].map((t) => backend.makeOutput(t.shape, "float32"));
    const n = sizeOf(x.shape);
    if (n > 0) {
      lib.symbols.advex_adam(
        ...[x, m, v, g, ...outs].map((t) => heapView(backend, t)) as [
          Float32Array,
          Float32Array,
          Float32Array,
          Float32Array,
          Float32Array,
          Float32Array,
          Float32Array,
        ],
        n,
        a.learningRate,
        a.beta1,
        a.beta2,
        a.epsilon,
        1 - a.beta1,
        1 - a.beta2,
      );
    }
    return outs;
  };
}

/** relu's gradient (`relu_grad.ts`) in one pass: dy * step(x). */
function reluGradKernel(lib: NativeLibrary): tf.KernelFunc {
  return (args) => {
    const { dy, x } = args.inputs as Record<string, tf.TensorInfo>;
    const backend = args.backend as BackendWasm;
    const out = backend.makeOutput(x.shape, "float32");
    const n = sizeOf(x.shape);
    if (n > 0) {
      lib.symbols.advex_relu_grad(heapView(backend, dy), heapView(backend, x), heapView(backend, out), n);
    }
    return out;
  };
}

/**
 * Installs the native kernels over the wasm kernels registered now (call after `registerWasmKernels`), and
 * adds the fused Adam and relu-gradient kernels. Safe to call again; {@linkcode unregisterNativeKernels} puts the previous
 * kernels back.
 */
export function registerNativeKernels(lib: NativeLibrary): void {
  if (nativeKernelsRegistered()) return;
  installed = lib;
  for (const [name, build] of Object.entries(builders(lib))) {
    const previous = tf.getKernel(name, WASM);
    if (previous === undefined) continue;
    tf.unregisterKernel(name, WASM);
    const marked: Marked = {
      kernelName: name,
      backendName: WASM,
      kernelFunc: build(previous.kernelFunc),
      setupFunc: previous.setupFunc,
      disposeFunc: previous.disposeFunc,
      [MARK]: true,
      previous,
    };
    tf.registerKernel(marked);
  }
  if (tf.getKernel(FUSED_ADAM, WASM) === undefined) {
    tf.registerKernel({ kernelName: FUSED_ADAM, backendName: WASM, kernelFunc: fusedAdamKernel(lib) });
  }
  if (tf.getKernel(RELU_GRAD, WASM) === undefined) {
    tf.registerKernel({ kernelName: RELU_GRAD, backendName: WASM, kernelFunc: reluGradKernel(lib) });
  }
}

/** Puts back the kernels {@linkcode registerNativeKernels} replaced (for tests and benchmarks). */
export function unregisterNativeKernels(): void {
  for (const name of [FUSED_ADAM, RELU_GRAD]) {
    if (tf.getKernel(name, WASM) !== undefined) tf.unregisterKernel(name, WASM);
  }
  for (const name of NATIVE_KERNELS) {
    const current = tf.getKernel(name, WASM) as Marked | undefined;
    if (current?.[MARK] !== true || current.previous === undefined) continue;
    tf.unregisterKernel(name, WASM);
    tf.registerKernel(current.previous);
  }
}
