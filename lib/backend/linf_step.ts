/**
 * One l-inf attack step as one kernel: x' = min(max(x + size * sign(g), lo), hi), the step of PGD and FGSM
 * followed by the clamp to the l-inf ball's box within the pixel range (`projectorOf` in
 * `lib/attacks/threat.ts`). tfjs computes it as seven ops (the sign from two comparisons, casts, a
 * product, a sum, the two clamps), each a full pass over the images; on the Madry CNN at batch 256 they
 * cost about 4 ms of a 95 ms attack step, one pass here. The results are the ops', bit for bit (tested).
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { heapView, sizeOf, WASM } from "./kernel_call.ts";

/** The kernel's name. Inputs `x`, `g`, `lo`, `hi` (float32, one shape); attribute `size`. */
export const LINF_STEP = "AdvexLinfStep";

/** The wasm kernel: a plain loop over the four buffers on the heap. */
export const linfStepConfig: tf.KernelConfig = {
  kernelName: LINF_STEP,
  backendName: WASM,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, g, lo, hi } = inputs as Record<"x" | "g" | "lo" | "hi", tf.TensorInfo>;
    const wasm = backend as BackendWasm;
    const out = wasm.makeOutput(x.shape, "float32");
    const n = sizeOf(x.shape);
    // Views after the allocation: it may move the heap.
    const [xv, gv, lov, hiv, ov] = [x, g, lo, hi, out].map((t) => heapView(wasm, t));
    const s = Math.fround((attrs as { size: number }).size);
    for (let i = 0; i < n; i++) {
      const gi = gv[i];
      // float32 addition, as the Add kernel does it (a double sum of two floats, rounded once).
      let v = gi > 0 ? Math.fround(xv[i] + s) : gi < 0 ? Math.fround(xv[i] - s) : xv[i];
      if (v < lov[i]) v = lov[i];
      if (v > hiv[i]) v = hiv[i];
      ov[i] = v;
    }
    return out;
  },
};
