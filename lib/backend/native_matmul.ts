/**
 * The matrix products of the wasm backend computed by the native library, for float32 operands of rank 2 or
 * 3: `BatchMatMul` and `_FusedMatMul` (the bias and a relu applied by the native code). Other operands, and
 * products too small to gain (see `nativeWorthIt`), go to the kernel each one replaced.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { heapView, release, sizeOf, WASM } from "./kernel_call.ts";
import { replacedKernelFunc } from "./kernel_registry.ts";
import { epilogue, NATIVE_ACTIVATIONS, nativeLibrary, nativeWorthIt } from "./native_state.ts";
import type { NativeLibrary } from "./native.ts";

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

/** Native `BatchMatMul`. */
export const nativeBatchMatMulConfig: tf.KernelConfig = {
  kernelName: "BatchMatMul",
  backendName: WASM,
  kernelFunc: (args) => {
    const { a, b } = args.inputs;
    const attrs = args.attrs ?? {};
    const backend = args.backend as BackendWasm;
    const [ta, tb] = [attrs.transposeA === true, attrs.transposeB === true];
    return matmul(nativeLibrary(), backend, a!, b!, ta, tb) ??
      replacedKernelFunc(nativeBatchMatMulConfig)(args);
  },
};

/** Native `_FusedMatMul`: linear and relu after a bias of one value per column in the native code. */
export const nativeFusedMatMulConfig: tf.KernelConfig = {
  kernelName: "_FusedMatMul",
  backendName: WASM,
  kernelFunc: (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const attrs = args.attrs ?? {};
    const backend = args.backend as BackendWasm;
    const lib = nativeLibrary();
    const [ta, tb] = [attrs.transposeA === true, attrs.transposeB === true];
    const act = NATIVE_ACTIVATIONS[String(attrs.activation ?? "linear")];
    const n = tb ? b!.shape.at(-2)! : b!.shape.at(-1)!;
    if (act !== undefined && (bias == null || (bias.dtype === "float32" && sizeOf(bias.shape) === n))) {
      return matmul(lib, backend, a!, b!, ta, tb, bias ?? null, act) ??
        replacedKernelFunc(nativeFusedMatMulConfig)(args);
    }
    const out = matmul(lib, backend, a!, b!, ta, tb);
    if (out === undefined) return replacedKernelFunc(nativeFusedMatMulConfig)(args);
    return epilogue(backend, out, bias ?? undefined, preluActivationWeights ?? undefined, attrs);
  },
};
