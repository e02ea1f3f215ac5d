/**
 * The geometry of a 2-D convolution, resolved once from kernel attributes.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Sizes, strides and leading paddings of a 2-D convolution with dilation 1, in NHWC terms. */
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
  /** Rows and columns of zeros before the input (they may be larger than the filter). */
  top: number;
  left: number;
  /** Output height and width. */
  oh: number;
  ow: number;
  /** Whether the tensors are laid out NCHW rather than NHWC. */
  channelsFirst: boolean;
}

/** The attributes shared by the `Conv2DBackpropFilter` and `Conv2DBackpropInput` kernels. */
export interface ConvGradAttrs {
  strides: number | [number, number];
  pad: "same" | "valid" | number | tf.backend_util.ExplicitPadding;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** Resolves the geometry of a convolution of `inShape` (in `attrs.dataFormat` order) with `filterShape`. */
export function convGeometry(
  inShape: readonly number[],
  filterShape: readonly number[],
  attrs: ConvGradAttrs,
): ConvGeometry {
  const dataFormat = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat ?? "NHWC");
  const info = tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
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
    top: info.padInfo.top,
    left: info.padInfo.left,
    oh: info.outHeight,
    ow: info.outWidth,
    channelsFirst: dataFormat === "channelsFirst",
  };
}
