/**
 * Planning matrix products for the wasm backend's `BatchMatMul` and `_FusedMatMul` kernels.
 *
 * Two facts about those kernels (tfjs 4.22, SIMD, one thread) shape the plan:
 *
 * - With `transposeA` or `transposeB` set they leave XNNPACK for a loop that is 10-40x slower, so a
 *   flagged operand is better transposed explicitly with the `Transpose` kernel (about 1 ns per float).
 * - Unflagged single products run on XNNPACK, which first packs the right operand (about 4 ns per float)
 *   and keeps the packing for as long as that tensor lives. A dense layer's forward pass in training
 *   multiplies by a new 3136x1024 weight tensor every step, and its backward pass by that matrix's
 *   transpose, so packing can cost as much as the multiplication itself.
 *
 * A product C = op(A) op(B) can therefore run "direct" (transpose flagged operands, pack op(B)) or
 * "swapped" (compute C^T = op(B)^T op(A)^T, packing op(A)^T, then transpose C^T). The plan takes the one
 * that moves fewer bytes, counting a right operand already packed by an earlier call as free.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { callKernel, release, sizeOf, WASM } from "./kernel_call.ts";
import { replacedKernelFunc } from "./kernel_registry.ts";

/** Packing a right operand costs about this many transposes of the same size. */
const PACK_COST = 4;

/** The dimensions of a product C[m, n] = op(A)[m, k] op(B)[k, n] and how to run it. */
export interface MatMulPlan {
  m: number;
  k: number;
  n: number;
  /** Product of the leading (batch) dimensions of A and of B. */
  batchA: number;
  batchB: number;
  orientation: "direct" | "swapped";
}

/**
 * Chooses the orientation of a product of `a` and `b` (shapes as given to the kernel, with the transpose
 * flags), where `bPacked` tells whether XNNPACK can be expected to hold a packing of `b`: the kernels pass
 * true when the same unflagged `b` came before, which happens when a fixed model is attacked or evaluated,
 * but not in training, where every step brings new weights. Batched products always run "direct".
 */
export function planMatMul(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
  bPacked: boolean,
): MatMulPlan {
  const ra = aShape.length;
  const rb = bShape.length;
  const m = transposeA ? aShape[ra - 1] : aShape[ra - 2];
  const k = transposeA ? aShape[ra - 2] : aShape[ra - 1];
  const n = transposeB ? bShape[rb - 2] : bShape[rb - 1];
  const batchA = sizeOf(aShape.slice(0, -2));
  const batchB = sizeOf(bShape.slice(0, -2));
  const plan = { m, k, n, batchA, batchB };
  if (batchA !== 1 || batchB !== 1) return { ...plan, orientation: "direct" };
  const sizeA = m * k;
  const sizeB = k * n;
  const direct = (transposeA ? sizeA : 0) + (transposeB ? sizeB : 0) +
    (!transposeB && bPacked ? 0 : PACK_COST * sizeB);
  const swapped = (transposeA ? 0 : sizeA) + (transposeB ? 0 : sizeB) + PACK_COST * sizeA + m * n;
  return { ...plan, orientation: swapped < direct ? "swapped" : "direct" };
}

/** Materializes the transpose of the last two axes of `x` with the wasm `Transpose` kernel. */
export function transposeLastTwo(backend: BackendWasm, x: tf.TensorInfo): tf.TensorInfo {
  const rank = x.shape.length;
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return callKernel(backend, "Transpose", { x }, { perm });
}

/** Returns `x` viewed as [1, rows, cols] (a reshape; release it after use). */
function asSingleMatrix(backend: BackendWasm, x: tf.TensorInfo, rows: number, cols: number): tf.TensorInfo {
  return callKernel(backend, "Reshape", { x }, { shape: [1, rows, cols] });
}

/**
 * Runs `original` (a matrix-product kernel function with inputs `a` and `b`) on the product described by
 * `args` following `plan`, always with both transpose flags off. `extra` inputs and attributes (bias,
 * activation) are passed only in the direct orientation; the swapped one returns the bare product and the
 * caller applies them. The result has shape [...batch, m, n] as the kernels define it.
 */
export function runPlannedProduct(
  original: tf.KernelFunc,
  args: Parameters<tf.KernelFunc>[0],
  plan: MatMulPlan,
): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const attrs = args.attrs ?? {};
  const a = args.inputs.a!;
  const b = args.inputs.b!;
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  if (plan.orientation === "direct") {
    const opA = transposeA ? transposeLastTwo(backend, a) : a;
    const opB = transposeB ? transposeLastTwo(backend, b) : b;
    try {
      return original({
        inputs: { ...args.inputs, a: opA, b: opB },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      }) as tf.TensorInfo;
    } finally {
      if (transposeA) release(backend, opA);
      if (transposeB) release(backend, opB);
    }
  }
  const { m, k, n } = plan;
  // op(A)^T is A itself when A is flagged, else A's transpose; likewise for B.
  const a2 = asSingleMatrix(backend, a, transposeA ? k : m, transposeA ? m : k);
  const aT = transposeA ? a2 : transposeLastTwo(backend, a2);
  const b2 = asSingleMatrix(backend, b, transposeB ? n : k, transposeB ? k : n);
  const bT = transposeB ? b2 : transposeLastTwo(backend, b2);
  if (!transposeA) release(backend, a2);
  if (!transposeB) release(backend, b2);
  let cT: tf.TensorInfo;
  try {
    cT = original({
      inputs: { a: bT, b: aT },
      backend,
      attrs: { transposeA: false, transposeB: false, activation: "linear" },
    }) as tf.TensorInfo;
  } finally {
    release(backend, aT);
    release(backend, bT);
  }
  const c = transposeLastTwo(backend, cT);
  release(backend, cT);
  const lead = Array<number>(Math.max(a.shape.length, b.shape.length) - 2).fill(1);
  const out = callKernel(backend, "Reshape", { x: c }, { shape: [...lead, m, n] });
  release(backend, c);
  return out;
}

/** Right operands that the wasm `BatchMatMul` has packed (XNNPACK keeps a packing while the tensor lives). */
const packed = new WeakSet<object>();

/**
 * The wasm backend's `BatchMatMul`, over tfjs-backend-wasm's (which computes the products): flagged
 * operands are transposed explicitly, and single products take the cheaper orientation (see
 * {@linkcode planMatMul}).
 */
export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: "BatchMatMul",
  backendName: WASM,
  kernelFunc: (args) => {
    const { a, b } = args.inputs;
    const transposeA = args.attrs?.transposeA === true;
    const transposeB = args.attrs?.transposeB === true;
    const plan = planMatMul(a!.shape, b!.shape, transposeA, transposeB, !transposeB && packed.has(b!.dataId));
    if (!transposeB) packed.add(b!.dataId);
    return runPlannedProduct(replacedKernelFunc(batchMatMulConfig), args, plan);
  },
};
