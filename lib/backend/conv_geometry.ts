/**
 * The geometry of a 2-D convolution and of a 2-D pooling window, resolved once from kernel attributes, as
 * named structures. The native library takes the same structures (`advex_conv_geometry` and
 * `advex_pool_geometry` in `native/advex_direct.h`): {@linkcode packConvGeometry} and
 * {@linkcode packPoolGeometry} lay the fields out as int32 in the order of {@linkcode CONV_GEOMETRY_FIELDS}
 * and {@linkcode POOL_GEOMETRY_FIELDS}, which is the order of the C structs' members.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Sizes, strides, dilations and leading paddings of a 2-D convolution, in NHWC terms. */
export interface ConvGeometry {
  /** Batch size. */
  n: number;
  /** Input height and width. */
  h: number;
  w: number;
  /** Input and output channels. */
  ci: number;
  co: number;
  /** Filter height and width. */
  kh: number;
  kw: number;
  /** Strides along height and width. */
  sh: number;
  sw: number;
  /** Dilations along height and width (1 for the gradient kernels). */
  dh: number;
  dw: number;
  /** Rows and columns of zeros before the input (they may be larger than the filter). */
  top: number;
  left: number;
  /** Output height and width. */
  oh: number;
  ow: number;
  /** Whether the tensors are laid out NCHW rather than NHWC. */
  channelsFirst: boolean;
}

/** The numeric fields of a {@linkcode ConvGeometry} in the order of `advex_conv_geometry`'s members. */
export const CONV_GEOMETRY_FIELDS = [
  "n",
  "h",
  "w",
  "ci",
  "co",
  "kh",
  "kw",
  "sh",
  "sw",
  "dh",
  "dw",
  "top",
  "left",
  "oh",
  "ow",
] as const satisfies readonly (keyof ConvGeometry)[];

/** The attributes shared by the `Conv2DBackpropFilter` and `Conv2DBackpropInput` kernels. */
export interface ConvGradAttrs {
  strides: number | [number, number];
  pad: "same" | "valid" | number | tf.backend_util.ExplicitPadding;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/**
 * Resolves the geometry of a convolution of `inShape` (in `attrs.dataFormat` order) with `filterShape`,
 * with `dilations` (1 unless given: the gradient kernels' attributes have none).
 */
export function convGeometry(
  inShape: readonly number[],
  filterShape: readonly number[],
  attrs: ConvGradAttrs,
  dilations: number | [number, number] = 1,
): ConvGeometry {
  const dataFormat = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat ?? "NHWC");
  const info = tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    dataFormat,
  );
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    ci: info.inChannels,
    co: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
    oh: info.outHeight,
    ow: info.outWidth,
    channelsFirst: dataFormat === "channelsFirst",
  };
}

/** `g` as the int32 fields of `advex_conv_geometry`, in the order of {@linkcode CONV_GEOMETRY_FIELDS}. */
export function packConvGeometry(g: ConvGeometry): Int32Array {
  return Int32Array.of(
    g.n,
    g.h,
    g.w,
    g.ci,
    g.co,
    g.kh,
    g.kw,
    g.sh,
    g.sw,
    g.dh,
    g.dw,
    g.top,
    g.left,
    g.oh,
    g.ow,
  );
}

/** Sizes, window, strides and leading paddings of a 2-D pooling, in NHWC terms. */
export interface PoolGeometry {
  /** Batch size. */
  n: number;
  /** Input height and width. */
  h: number;
  w: number;
  /** Channels (the same in and out). */
  c: number;
  /** Output height and width. */
  oh: number;
  ow: number;
  /** Strides along height and width. */
  sh: number;
  sw: number;
  /** Window height and width. */
  fh: number;
  fw: number;
  /** Rows and columns of padding before the input. */
  top: number;
  left: number;
}

/** The fields of a {@linkcode PoolGeometry} in the order of `advex_pool_geometry`'s members. */
export const POOL_GEOMETRY_FIELDS = [
  "n",
  "h",
  "w",
  "c",
  "oh",
  "ow",
  "sh",
  "sw",
  "fh",
  "fw",
  "top",
  "left",
] as const satisfies readonly (keyof PoolGeometry)[];

/** The named pooling geometry of tfjs's `Conv2DInfo` for a pool. */
export function poolGeometry(info: tf.backend_util.Conv2DInfo): PoolGeometry {
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    c: info.inChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    fh: info.filterHeight,
    fw: info.filterWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

/** `g` as the int32 fields of `advex_pool_geometry`, in the order of {@linkcode POOL_GEOMETRY_FIELDS}. */
export function packPoolGeometry(g: PoolGeometry): Int32Array {
  return Int32Array.of(g.n, g.h, g.w, g.c, g.oh, g.ow, g.sh, g.sw, g.fh, g.fw, g.top, g.left);
}
