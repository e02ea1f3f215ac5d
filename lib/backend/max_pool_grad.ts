/**
 * A faster `MaxPoolGrad` for the wasm backend.
 *
 * The stock kernel takes about 43 ms for the first pooling layer of the Madry MNIST network at batch 128
 * (its second-largest cost after the convolutions). This one walks the NHWC input once on the wasm heap,
 * tracking the position of each channel's maximum over a window (the first maximum in row-major window
 * order, as the cpu backend does), and adds the incoming gradient there.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { heapView, WASM } from "./kernel_call.ts";

/** Attributes of the `MaxPoolGrad` kernel. */
export interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: "same" | "valid" | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** The pooling geometry of a max pool of `inShape` (NHWC) with the kernel's attributes. */
export function maxPoolInfo(inShape: readonly number[], a: MaxPoolGradAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    inShape as [number, number, number, number],
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
}

/** Kernel function for the gradient of a 2-D max pool (inputs `dy` and `input`; `output` is unused). */
export const maxPoolGrad: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { dy, input } = inputs;
  const info = maxPoolInfo(input!.shape, attrs as unknown as MaxPoolGradAttrs);
  const dx = wasm.makeOutput(input!.shape, "float32");
  scatterMaxGradient(heapView(wasm, input!), heapView(wasm, dy!), heapView(wasm, dx), info);
  return dx;
};

/** The wasm backend's `MaxPoolGrad`, in place of tfjs-backend-wasm's. */
export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: "MaxPoolGrad",
  backendName: WASM,
  kernelFunc: maxPoolGrad,
};

/** Writes into `dx` (zeroed here) the gradient of a max pool of `x` given its output gradient `dy`. */
export function scatterMaxGradient(
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  dx.fill(0);
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  let o = 0;
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < oh; p++) {
      const r0 = p * sh - top;
      const rLo = Math.max(0, r0);
      const rHi = Math.min(h, r0 + fh);
      for (let q = 0; q < ow; q++, o += c) {
        const c0 = q * sw - left;
        const cLo = Math.max(0, c0);
        const cHi = Math.min(w, c0 + fw);
        best.fill(-Infinity);
        where.fill(-1);
        for (let r = rLo; r < rHi; r++) {
          for (let col = cLo; col < cHi; col++) {
            const base = ((i * h + r) * w + col) * c;
            for (let d = 0; d < c; d++) {
              const v = x[base + d];
              if (v > best[d]) {
                best[d] = v;
                where[d] = base + d;
              }
            }
          }
        }
        for (let d = 0; d < c; d++) {
          if (where[d] >= 0) dx[where[d]] += dy[o + d];
        }
      }
    }
  }
}
