/**
 * Reductions and elementwise kernels of the wasm backend computed by the native library, for float32
 * tensors: `Sum` and `Mean` over leading axes, per-channel `Add`, `Sub`, `Multiply` and `RealDiv`, and three
 * kernels of advex's own, the fused Adam step (`fused_adam.ts`), relu's gradient (`relu_grad.ts`) and the
 * l-inf attack step (`linf_step.ts`).
 * Anything else, and tensors too small to gain, goes to the kernel each one replaced.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { FUSED_ADAM, type FusedAdamAttrs } from "./fused_adam.ts";
import { RELU_GRAD } from "./relu_grad.ts";
import { LINF_STEP } from "./linf_step.ts";
import { heapView, sizeOf, WASM } from "./kernel_call.ts";
import { replacedKernelFunc } from "./kernel_registry.ts";
import { check, nativeAlways, nativeLibrary } from "./native_state.ts";

/** Elements below which the reductions and broadcasts below stay on wasm (the FFI call costs more). */
const SMALL_REDUCTION = 4096;
const SMALL_BROADCAST = 16384;

/**
 * `Sum` or `Mean` over leading axes (every axis but the channels: a bias gradient, batch-norm statistics)
 * natively; undefined for other reductions, which stay on wasm.
 */
function leadingReduce(args: Parameters<tf.KernelFunc>[0], mean: boolean) {
  const { x } = args.inputs;
  const { axis, keepDims } = (args.attrs ?? {}) as { axis?: number | number[]; keepDims?: boolean };
  if (x!.dtype !== "float32") return undefined;
  const rank = x!.shape.length;
  const axes = tf.util.parseAxisParam(axis ?? [...Array(rank).keys()], x!.shape).sort((p, q) => p - q);
  const k = axes.length;
  if (k === 0 || k >= rank || !axes.every((a, i) => a === i)) return undefined;
  const rows = sizeOf(x!.shape.slice(0, k));
  const cols = sizeOf(x!.shape.slice(k));
  if (!nativeAlways() && rows * cols < SMALL_REDUCTION) return undefined;
  const lib = nativeLibrary();
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
function channelBinary(args: Parameters<tf.KernelFunc>[0], op: number) {
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
  if (!nativeAlways() && size < SMALL_BROADCAST) return undefined;
  const lib = nativeLibrary();
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

/** A config computing `kernelName` with `compute`, or with the kernel it replaced where that gives undefined. */
function orReplaced(
  kernelName: string,
  compute: (args: Parameters<tf.KernelFunc>[0]) => tf.TensorInfo | undefined,
): tf.KernelConfig {
  const config: tf.KernelConfig = {
    kernelName,
    backendName: WASM,
    kernelFunc: (args) => compute(args) ?? replacedKernelFunc(config)(args),
  };
  return config;
}

/** Native `Sum` over leading axes. */
export const nativeSumConfig: tf.KernelConfig = orReplaced("Sum", (args) => leadingReduce(args, false));
/** Native `Mean` over leading axes. */
export const nativeMeanConfig: tf.KernelConfig = orReplaced("Mean", (args) => leadingReduce(args, true));
/** Native `Add` of a tensor and a per-channel one. */
export const nativeAddConfig: tf.KernelConfig = orReplaced("Add", (args) => channelBinary(args, 0));
/** Native `Sub` of a tensor and a per-channel one, in either order. */
export const nativeSubConfig: tf.KernelConfig = orReplaced("Sub", (args) => channelBinary(args, 1));
/** Native `Multiply` of a tensor and a per-channel one. */
export const nativeMultiplyConfig: tf.KernelConfig = orReplaced("Multiply", (args) => channelBinary(args, 2));
/** Native `RealDiv` of a tensor and a per-channel one, in either order. */
export const nativeRealDivConfig: tf.KernelConfig = orReplaced("RealDiv", (args) => channelBinary(args, 3));

/** The fused Adam step (`fused_adam.ts`) on the wasm heap: three new tensors from x, m, v and g. */
export const nativeFusedAdamConfig: tf.KernelConfig = {
  kernelName: FUSED_ADAM,
  backendName: WASM,
  kernelFunc: (args) => {
    const { x, m, v, g } = args.inputs as Record<string, tf.TensorInfo>;
    const a = args.attrs as unknown as FusedAdamAttrs;
    const backend = args.backend as BackendWasm;
    for (const t of [m, v, g]) {
      if (t.dtype !== "float32" || !tf.util.arraysEqual(t.shape, x.shape)) {
        throw new Error(`${FUSED_ADAM}: x, m, v and g must be float32 tensors of one shape`);
      }
    }
    const lib = nativeLibrary();
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
  },
};

/** relu's gradient (`relu_grad.ts`) in one pass: dy * step(x). */
export const nativeReluGradConfig: tf.KernelConfig = {
  kernelName: RELU_GRAD,
  backendName: WASM,
  kernelFunc: (args) => {
    const { dy, x } = args.inputs as Record<string, tf.TensorInfo>;
    const lib = nativeLibrary();
    const backend = args.backend as BackendWasm;
    const out = backend.makeOutput(x.shape, "float32");
    const n = sizeOf(x.shape);
    if (n > 0) {
      lib.symbols.advex_relu_grad(heapView(backend, dy), heapView(backend, x), heapView(backend, out), n);
    }
    return out;
  },
};

/**
 * The l-inf attack step (`linf_step.ts`) in one multithreaded pass: min(max(x + size * sign(g), lo), hi),
 * the same floats as the wasm kernel's loop, which does it in one thread of JavaScript (0.56 ms of a 7.4 ms
 * PGD step on the scale-2 Madry CNN at batch 100, on 2 Xeon cores). Its inputs are the wasm kernel's
 * (float32, one shape, as `projectorOf` makes them); tensors too small to gain go to that kernel.
 */
export const nativeLinfStepConfig: tf.KernelConfig = orReplaced(LINF_STEP, (args) => {
  const { x, g, lo, hi } = args.inputs as Record<"x" | "g" | "lo" | "hi", tf.TensorInfo>;
  const n = sizeOf(x.shape);
  if (!nativeAlways() && n < SMALL_BROADCAST) return undefined;
  const lib = nativeLibrary();
  const backend = args.backend as BackendWasm;
  const out = backend.makeOutput(x.shape, "float32");
  if (n === 0) return out;
  const [xv, gv, lov, hiv, ov] = [x, g, lo, hi, out].map((t) => heapView(backend, t));
  lib.symbols.advex_linf_step(xv, gv, lov, hiv, ov, n, (args.attrs as { size: number }).size);
  return out;
});
