/**
 * A faster `Conv2DBackpropInput` for the wasm backend.
 *
 * The stock wasm kernel is a plain loop (600 ms for the second layer of the Madry MNIST network at batch
 * 128, against 56 ms for the forward convolution). Two formulations replace it:
 *
 * - "conv": the input gradient is itself a convolution,
 *
 *       dx[i, y, x, c] = sum over (a, b, o) of dyz[i, y + a, x + b, o] * W[kh-1-a, kw-1-b, c, o]
 *
 *   where dyz is dy with `stride - 1` zeros inserted between its entries and `kh - 1 - top` rows (`kw - 1 -
 *   left` columns) of zeros before it: one wasm `Conv2D` of dyz with the spatially reversed filter whose
 *   channel axes are swapped. At stride 1 the zeros are passed to `Conv2D` as padding; otherwise dyz is
 *   written out on the wasm heap first (and three quarters of the work at stride 2 multiplies zeros).
 * - "col2im": one matmul of dy viewed as [n*oh*ow, co] by the filter viewed as [co, kh*kw*ci] gives every
 *   output position's contribution to its input patch, which a typed-array loop then adds into dx.
 *
 * See {@linkcode chooseInputGradMethod} for which is used when; the `ADVEX_INPUT_GRAD_METHOD` flag can fix
 * one (`flags.ts`).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { callKernel, heapView, release, WASM } from "./kernel_call.ts";
import { imagesPerChunk } from "./patch_limit.ts";
import { type ConvGeometry, convGeometry, type ConvGradAttrs } from "./conv_geometry.ts";
import { INPUT_GRAD_METHOD, type InputGradMethod } from "./flags.ts";
import { replacedKernelFunc } from "./kernel_registry.ts";

/** Attributes of the `Conv2DBackpropInput` kernel. */
export interface Conv2DBackpropInputAttrs extends ConvGradAttrs {
  inputShape: [number, number, number, number];
}

/**
 * Picks the faster formulation for a convolution geometry.
 *
 * Measured on a 2-core AVX-512 machine (SIMD wasm, one thread, batch 128): col2im wins for every strided
 * convolution (34 ms against 113 ms for 16x16x64 -> 128 at stride 2) and when the output has at least 16
 * times as many channels as the input (15 ms against 30 ms for the first Madry layer, 1 -> 32 channels);
 * the conv formulation wins otherwise (59 ms against 87 ms for the second Madry layer).
 */
export function chooseInputGradMethod(g: ConvGeometry): "conv" | "col2im" {
  if (g.sh > 1 || g.sw > 1) return "col2im";
  return g.co >= 16 * g.ci ? "col2im" : "conv";
}

/**
 * The wasm backend's `Conv2DBackpropInput` (inputs `dy` and `filter`), over tfjs-backend-wasm's. NCHW
 * tensors, which the wasm `Conv2D` does not take, go to the kernel it replaced.
 */
export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: "Conv2DBackpropInput",
  backendName: WASM,
  kernelFunc: (args) => {
    const a = args.attrs as unknown as Conv2DBackpropInputAttrs;
    const filter = args.inputs.filter!;
    const g = convGeometry(a.inputShape, filter.shape, a);
    if (g.channelsFirst) return replacedKernelFunc(conv2dBackpropInputConfig)(args);
    const backend = args.backend as BackendWasm;
    const preferred = tf.env().get(INPUT_GRAD_METHOD) as InputGradMethod;
    const method = preferred === "auto" ? chooseInputGradMethod(g) : preferred;
    return method === "conv"
      ? inputGradByConv(backend, args.inputs.dy!, filter, g)
      : inputGradByCol2im(backend, args.inputs.dy!, filter, g);
  },
};

/** Computes dx for NHWC `dy` and filter [kh, kw, ci, co] with one matmul and a scatter-add loop. */
export function inputGradByCol2im(
  backend: BackendWasm,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  g: ConvGeometry,
): tf.TensorInfo {
  const patch = g.kh * g.kw * g.ci;
  const perImage = g.oh * g.ow;
  const chunk = imagesPerChunk(g.n, patch * perImage);
  const flat = callKernel(backend, "Reshape", { x: filter }, { shape: [patch, g.co] });
  const filterT = callKernel(backend, "Transpose", { x: flat }, { perm: [1, 0] });
  release(backend, flat);
  const dx = backend.makeOutput([g.n, g.h, g.w, g.ci], "float32");
  heapView(backend, dx).fill(0);
  try {
    for (let start = 0; start < g.n; start += chunk) {
      const count = Math.min(chunk, g.n - start);
      const rows = count * perImage;
      let grads: tf.TensorInfo;
      if (count === g.n) {
        grads = callKernel(backend, "Reshape", { x: dy }, { shape: [rows, g.co] });
      } else {
        grads = backend.makeOutput([rows, g.co], "float32");
        const from = start * perImage * g.co;
        heapView(backend, grads).set(heapView(backend, dy).subarray(from, from + rows * g.co));
      }
      let cols: tf.TensorInfo;
      try {
        cols = callKernel(backend, "BatchMatMul", { a: grads, b: filterT }, {
          transposeA: false,
          transposeB: false,
        });
      } finally {
        release(backend, grads);
      }
      addPatches(heapView(backend, cols), heapView(backend, dx), g, start, count);
      release(backend, cols);
    }
  } finally {
    release(backend, filterT);
  }
  return dx;
}

/**
 * Adds the patch gradients `cols` ([count*oh*ow, kh*kw*ci], images `start ..`) into the NHWC gradient `dx`
 * at the input positions each patch was read from.
 */
export function addPatches(
  cols: Float32Array,
  dx: Float32Array,
  g: ConvGeometry,
  start: number,
  count: number,
): void {
  const { h, w, ci, kh, kw, sh, sw, top, left, oh, ow } = g;
  const patch = kh * kw * ci;
  let row = 0;
  for (let i = start; i < start + count; i++) {
    for (let p = 0; p < oh; p++) {
      for (let q = 0; q < ow; q++, row += patch) {
        for (let a = 0; a < kh; a++) {
          const y = p * sh + a - top;
          if (y < 0 || y >= h) continue;
          const rowBase = (i * h + y) * w;
          for (let b = 0; b < kw; b++) {
            const x = q * sw + b - left;
            if (x < 0 || x >= w) continue;
            const src = row + (a * kw + b) * ci;
            const dst = (rowBase + x) * ci;
            for (let c = 0; c < ci; c++) dx[dst + c] += cols[src + c];
          }
        }
      }
    }
  }
}

/** Computes dx for NHWC `dy` and filter [kh, kw, ci, co] with one `Conv2D`. */
export function inputGradByConv(
  backend: BackendWasm,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  g: ConvGeometry,
): tf.TensorInfo {
  const padTop = g.kh - 1 - g.top;
  const padLeft = g.kw - 1 - g.left;
  const spanH = (g.oh - 1) * g.sh + 1;
  const spanW = (g.ow - 1) * g.sw + 1;
  const padBottom = g.h + g.kh - 1 - spanH - padTop;
  const padRight = g.w + g.kw - 1 - spanW - padLeft;
  const reversed = callKernel(backend, "Reverse", { x: filter }, { dims: [0, 1] });
  const flipped = callKernel(backend, "Transpose", { x: reversed }, { perm: [0, 1, 3, 2] });
  release(backend, reversed);
  try {
    const direct = g.sh === 1 && g.sw === 1 && Math.min(padTop, padLeft, padBottom, padRight) >= 0;
    if (direct) {
      return callKernel(backend, "Conv2D", { x: dy, filter: flipped }, {
        strides: [1, 1],
        dilations: [1, 1],
        pad: [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]],
        dataFormat: "NHWC",
      });
    }
    const spread = spreadGradient(backend, dy, g, padTop, padLeft);
    try {
      return callKernel(backend, "Conv2D", { x: spread, filter: flipped }, {
        strides: [1, 1],
        dilations: [1, 1],
        pad: "valid",
        dataFormat: "NHWC",
      });
    } finally {
      release(backend, spread);
    }
  } finally {
    release(backend, flipped);
  }
}

/**
 * Writes dy spread out by the strides, with `padTop` rows and `padLeft` columns before it (negative values
 * drop leading entries), into a zeroed [n, h + kh - 1, w + kw - 1, co] buffer.
 */
function spreadGradient(
  backend: BackendWasm,
  dy: tf.TensorInfo,
  g: ConvGeometry,
  padTop: number,
  padLeft: number,
): tf.TensorInfo {
  const hp = g.h + g.kh - 1;
  const wp = g.w + g.kw - 1;
  const out = backend.makeOutput([g.n, hp, wp, g.co], "float32");
  const dst = heapView(backend, out);
  const src = heapView(backend, dy);
  dst.fill(0);
  for (let i = 0; i < g.n; i++) {
    for (let p = 0; p < g.oh; p++) {
      const r = padTop + p * g.sh;
      if (r < 0 || r >= hp) continue;
      for (let q = 0; q < g.ow; q++) {
        const c = padLeft + q * g.sw;
        if (c < 0 || c >= wp) continue;
        const from = ((i * g.oh + p) * g.ow + q) * g.co;
        dst.set(src.subarray(from, from + g.co), ((i * hp + r) * wp + c) * g.co);
      }
    }
  }
  return out;
}
