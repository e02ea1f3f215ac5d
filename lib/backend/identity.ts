/**
 * `Identity` for the wasm backend that shares the input's buffer (one more reference) instead of copying
 * it, as the cpu backend does. tfjs clones every tensor it saves for a gradient, so the stock copy cost a
 * training step or an attack step one full copy of each saved activation (5 ms of a 64 ms Madry CNN attack
 * step).
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { WASM } from "./kernel_call.ts";
import { replacedKernelFunc } from "./kernel_registry.ts";

/** `Identity` sharing the input's buffer; strings (kept outside the heap) go to the kernel it replaced. */
export const identityConfig: tf.KernelConfig = {
  kernelName: "Identity",
  backendName: WASM,
  kernelFunc: (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === "string") return replacedKernelFunc(identityConfig)(args);
    (args.backend as BackendWasm).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  },
};
