/**
 * A corrected and faster `_FusedMatMul` for the wasm backend.
 *
 * The product itself is planned like `BatchMatMul` (see `matmul_plan.ts`). When the plan swaps the
 * operands, when the product is batched (more than one matrix), or when there is a bias, the bias and
 * activation are applied afterwards with the `Add` and activation kernels: the swapped product is
 * transposed, the stock kernel adds the bias (and PReLU weights) at the wrong positions for batched
 * products (tfjs 4.22 gives different numbers from the cpu backend there), and XNNPACK starts its sums from
 * the bias, which rounds differently from adding it afterwards, so the first product with new weights
 * (swapped) and later ones (direct, the weights packed by then) would give different bits.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { callKernel, release, WASM } from "./kernel_call.ts";
import { replacedKernelFunc } from "./kernel_registry.ts";
import { planMatMul, runPlannedProduct } from "./matmul_plan.ts";

/** Applies a fused activation by name with the matching wasm kernel; returns `x` itself for "linear". */
export function activate(
  backend: BackendWasm,
  x: tf.TensorInfo,
  activation: string,
  attrs: tf.NamedAttrMap,
  preluWeights: tf.TensorInfo | undefined,
): tf.TensorInfo {
  switch (activation) {
    case "linear":
      return x;
    case "relu":
      return callKernel(backend, "Relu", { x });
    case "relu6":
      return callKernel(backend, "Relu6", { x });
    case "elu":
      return callKernel(backend, "Elu", { x });
    case "sigmoid":
      return callKernel(backend, "Sigmoid", { x });
    case "leakyrelu":
      return callKernel(backend, "LeakyRelu", { x }, { alpha: (attrs.leakyreluAlpha as number) ?? 0.2 });
    case "prelu":
      return callKernel(backend, "Prelu", { x, alpha: preluWeights! });
    default:
      throw new Error(`${activation} activation is not supported by the wasm _FusedMatMul kernel`);
  }
}

/** Right operands that the wasm `_FusedMatMul` has packed. */
const packed = new WeakSet<object>();

/** The wasm backend's `_FusedMatMul`, over tfjs-backend-wasm's (which computes the products). */
export const fusedMatMulConfig: tf.KernelConfig = {
  kernelName: "_FusedMatMul",
  backendName: WASM,
  kernelFunc: (args) => {
    const original = replacedKernelFunc(fusedMatMulConfig);
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const attrs = args.attrs ?? {};
    const transposeA = attrs.transposeA === true;
    const transposeB = attrs.transposeB === true;
    const plan = planMatMul(a!.shape, b!.shape, transposeA, transposeB, !transposeB && packed.has(b!.dataId));
    if (!transposeB) packed.add(b!.dataId);
    const batched = plan.batchA > 1 || plan.batchB > 1;
    const hasExtras = bias != null || preluActivationWeights != null;
    if (plan.orientation === "direct" && bias == null && !(batched && hasExtras)) {
      return runPlannedProduct(original, args, plan);
    }
    const backend = args.backend as BackendWasm;
    let out = runPlannedProduct(original, {
      inputs: { a, b },
      backend,
      attrs: { ...attrs, activation: "linear" },
    }, plan);
    if (bias != null) {
      const sum = callKernel(backend, "Add", { a: out, b: bias });
      release(backend, out);
      out = sum;
    }
    const activation = String(attrs.activation ?? "linear");
    const activated = activate(backend, out, activation, attrs, preluActivationWeights ?? undefined);
    if (activated !== out) release(backend, out);
    return activated;
  },
};
