/**
 * `Conv2DBackpropFilter` for the wasm backend, which ships without one.
 *
 * The filter gradient of an NHWC convolution with dilation 1 is
 *
 *     dW[a, b, c, o] = sum over (i, p, q) of x[i, p*sh + a - top, q*sw + b - left, c] * dy[i, p, q, o]
 *
 * (with x read as zero outside the image). Two formulations are built from fast wasm primitives:
 *
 * - "conv": transpose x to a batch of `ci` images with `n` channels ([ci, h, w, n]) and dy to a filter
 *   [oh, ow, n, co]; one `Conv2D` with dilation equal to the stride yields [ci, kh, kw, co], which is
 *   cropped if needed and transposed to [kh, kw, ci, co].
 * - "im2col": gather the patches into a [kh*kw*ci, n*oh*ow] matrix with a typed-array loop over the wasm
 *   heap and multiply it by dy viewed as [n*oh*ow, co] with one untransposed `BatchMatMul` (batches are
 *   split into chunks, whose products are summed, when the patch matrix would be large).
 *
 * Neither wins everywhere (see {@linkcode chooseFilterGradMethod}); the `ADVEX_FILTER_GRAD_METHOD` flag can
 * fix one (`flags.ts`).
 * @module
 */
import { noteSkippedGradient, parameterGradientsSkipped } from "../util/gradient_scope.ts";
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { callKernel, heapView, release, WASM } from "./kernel_call.ts";
import { imagesPerChunk } from "./patch_limit.ts";
import { type ConvGeometry, convGeometry, type ConvGradAttrs } from "./conv_geometry.ts";
import { FILTER_GRAD_METHOD, type FilterGradMethod } from "./flags.ts";

/**
 * Picks the faster formulation for a convolution geometry.
 *
 * Measured on a 2-core AVX-512 machine (SIMD wasm, one thread, batch 128): im2col wins for strided
 * convolutions, for inputs with few channels and many output channels (the conv trick then computes only
 * `ci*kh*kw` output pixels from a huge packed filter: 31 ms against 64 ms for the first Madry layer) and for
 * wide layers on small images; the conv trick wins in between (76 ms against 111 ms for the second Madry
 * layer, 6 ms against 35 ms for its quarter-width version).
 */
export function chooseFilterGradMethod(g: ConvGeometry): "conv" | "im2col" {
  if (g.sh > 1 || g.sw > 1) return "im2col";
  if (g.ci <= 4 && g.co >= 16) return "im2col";
  if (g.ci >= 128 || (g.ci >= 64 && g.oh * g.ow <= 100)) return "im2col";
  return "conv";
}

/** Attributes of the `Conv2DBackpropFilter` kernel. */
export interface Conv2DBackpropFilterAttrs extends ConvGradAttrs {
  filterShape: [number, number, number, number];
}

/** Kernel function computing the filter gradient on the wasm backend (inputs `x` and `dy`). */
export const conv2dBackpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const a = attrs as unknown as Conv2DBackpropFilterAttrs;
  if (parameterGradientsSkipped()) {
    // Inside inputGradientsOnly(): tfjs discards this gradient, so return zeros without computing it.
    const zeros = wasm.makeOutput(a.filterShape, "float32");
    heapView(wasm, zeros).fill(0);
    noteSkippedGradient(zeros.dataId);
    return zeros;
  }
  const g = convGeometry(inputs.x!.shape, a.filterShape, a);
  let x = inputs.x!;
  let dy = inputs.dy!;
  if (g.channelsFirst) {
    x = callKernel(wasm, "Transpose", { x }, { perm: [0, 2, 3, 1] });
    dy = callKernel(wasm, "Transpose", { x: dy }, { perm: [0, 2, 3, 1] });
  }
  try {
    const preferred = tf.env().get(FILTER_GRAD_METHOD) as FilterGradMethod;
    const method = preferred === "auto" ? chooseFilterGradMethod(g) : preferred;
    return method === "conv" ? filterGradByConv(wasm, x, dy, g) : filterGradByIm2col(wasm, x, dy, g);
  } finally {
    if (g.channelsFirst) {
      release(wasm, x);
      release(wasm, dy);
    }
  }
};

/** The wasm backend's `Conv2DBackpropFilter`, which tfjs-backend-wasm lacks. */
export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: "Conv2DBackpropFilter",
  backendName: WASM,
  kernelFunc: conv2dBackpropFilter,
};

/** The "conv" formulation: one dilated `Conv2D` of the transposed input with the transposed gradient. */
export function filterGradByConv(
  backend: BackendWasm,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  g: ConvGeometry,
): tf.TensorInfo {
  // Zeros needed after the input so that the dilated window yields exactly kh (kw) positions; when the
  // forward convolution ignored trailing rows (columns) this is negative and the result is cropped.
  const bottom = g.kh + (g.oh - 1) * g.sh - g.h - g.top;
  const right = g.kw + (g.ow - 1) * g.sw - g.w - g.left;
  const xT = callKernel(backend, "Transpose", { x }, { perm: [3, 1, 2, 0] });
  const dyT = callKernel(backend, "Transpose", { x: dy }, { perm: [1, 2, 0, 3] });
  let conv: tf.TensorInfo;
  try {
    conv = callKernel(backend, "Conv2D", { x: xT, filter: dyT }, {
      strides: [1, 1],
      dilations: [g.sh, g.sw],
      pad: [[0, 0], [g.top, Math.max(bottom, 0)], [g.left, Math.max(right, 0)], [0, 0]],
      dataFormat: "NHWC",
    });
  } finally {
    release(backend, xT);
    release(backend, dyT);
  }
  if (bottom < 0 || right < 0) {
    const cropped = cropLeading(backend, conv, [g.ci, g.kh, g.kw, g.co]);
    release(backend, conv);
    conv = cropped;
  }
  try {
    return callKernel(backend, "Transpose", { x: conv }, { perm: [1, 2, 0, 3] });
  } finally {
    release(backend, conv);
  }
}

/** Copies the leading `size` block of a rank-4 tensor into a new buffer. */
function cropLeading(backend: BackendWasm, x: tf.TensorInfo, size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, "float32");
  const src = heapView(backend, x);
  const dst = heapView(backend, out);
  const [, h, w, c] = x.shape;
  let o = 0;
  for (let i = 0; i < size[0]; i++) {
    for (let j = 0; j < size[1]; j++) {
      for (let k = 0; k < size[2]; k++) {
        const s = ((i * h + j) * w + k) * c;
        dst.set(src.subarray(s, s + size[3]), o);
        o += size[3];
      }
    }
  }
  return out;
}

/** The "im2col" formulation: a patch matrix built on the wasm heap times the gradient, one matmul. */
export function filterGradByIm2col(
  backend: BackendWasm,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  g: ConvGeometry,
): tf.TensorInfo {
  const rows = g.kh * g.kw * g.ci;
  const perImage = g.oh * g.ow;
  const chunk = imagesPerChunk(g.n, rows * perImage);
  let sum: tf.TensorInfo | undefined;
  for (let start = 0; start < g.n; start += chunk) {
    const count = Math.min(chunk, g.n - start);
    const cols = count * perImage;
    const patches = backend.makeOutput([1, rows, cols], "float32");
    fillPatchesTransposed(heapView(backend, x), heapView(backend, patches), g, start, count);
    let grads: tf.TensorInfo;
    if (count === g.n) {
      grads = callKernel(backend, "Reshape", { x: dy }, { shape: [1, cols, g.co] });
    } else {
      grads = backend.makeOutput([1, cols, g.co], "float32");
      const from = start * perImage * g.co;
      heapView(backend, grads).set(heapView(backend, dy).subarray(from, from + cols * g.co));
    }
    let product: tf.TensorInfo;
    try {
      product = callKernel(backend, "BatchMatMul", { a: patches, b: grads }, {
        transposeA: false,
        transposeB: false,
      });
    } finally {
      release(backend, patches);
      release(backend, grads);
    }
    if (sum === undefined) {
      sum = product;
    } else {
      const next = callKernel(backend, "Add", { a: sum, b: product });
      release(backend, sum);
      release(backend, product);
      sum = next;
    }
  }
  try {
    return callKernel(backend, "Reshape", { x: sum! }, { shape: [g.kh, g.kw, g.ci, g.co] });
  } finally {
    release(backend, sum!);
  }
}

/**
 * Writes the patch matrix of images `start .. start+count-1` of the NHWC input `xv`, laid out as
 * [kh*kw*ci, count*oh*ow] (row (a, b, c), column (i, p, q)), into `out`.
 */
export function fillPatchesTransposed(
  xv: Float32Array,
  out: Float32Array,
  g: ConvGeometry,
  start: number,
  count: number,
): void {
  const { h, w, ci, kh, kw, sh, sw, top, left, oh, ow } = g;
  let o = 0;
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const x0 = b - left;
      // Output columns q whose input column q*sw + x0 lies inside [0, w).
      const qLo = x0 >= 0 ? 0 : Math.min(ow, Math.ceil(-x0 / sw));
      const qHi = Math.max(qLo, Math.min(ow, Math.floor((w - 1 - x0) / sw) + 1));
      for (let c = 0; c < ci; c++) {
        for (let i = start; i < start + count; i++) {
          for (let p = 0; p < oh; p++) {
            const y = p * sh + a - top;
            if (y < 0 || y >= h || qHi === qLo) {
              out.fill(0, o, o + ow);
              o += ow;
              continue;
            }
            const rowBase = (i * h + y) * w + x0;
            if (qLo > 0) out.fill(0, o, o + qLo);
            if (ci === 1 && sw === 1) {
              out.set(xv.subarray(rowBase + qLo, rowBase + qHi), o + qLo);
            } else {
              const step = sw * ci;
              let src = (rowBase + qLo * sw) * ci + c;
              for (let q = qLo; q < qHi; q++, src += step) out[o + q] = xv[src];
            }
            if (qHi < ow) out.fill(0, o + qHi, o + ow);
            o += ow;
          }
        }
      }
    }
  }
}
