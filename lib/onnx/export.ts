/**
 * Exporting tfjs layers models to ONNX.
 *
 * Layout. tfjs computes in NHWC with HWIO convolution kernels; ONNX convolutions are NCHW with OIHW kernels.
 * The exported graph computes in NCHW, the model-zoo convention: kernels are transposed to OIHW, "same"
 * padding becomes explicit `pads` (TensorFlow's rule: the odd pixel goes at the end), and a Flatten of a
 * feature map is followed by a Gemm whose weight rows are permuted from tfjs's (h, w, c) order to ONNX's
 * (c, h, w) order. The graph's input is, by default, NHWC images exactly as advex feeds its models
 * (`[N, H, W, C]` in [0, 1]), followed by one Transpose to NCHW; `inputLayout: "NCHW"` declares an NCHW
 * input instead (`[N, C, H, W]`, as in model-zoo image classifiers) and drops that Transpose. The layout
 * is recorded in the file's metadata under `advex.input_layout`. The output is the logits `[N, K]`.
 *
 * Supported layers: Dense, Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
 * GlobalMaxPooling2D, BatchNormalization, Flatten, Activation and ReLU/Softmax layers, Add, Concatenate, ZeroPadding2D
 * (folded into the next convolution's pads when it can be), Dropout (dropped: inference only). Anything else
 * is an error that names the layers.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../util/fs.ts";
import {
  DataType,
  encodeModel,
  floatAttr,
  intAttr,
  intsAttr,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
} from "./model_proto.ts";
import { floatTensor, int64Tensor, permuteAxes } from "./tensor_data.ts";

/** Where the image channels sit in a graph's input. */
export type InputLayout = "NHWC" | "NCHW";

/** The metadata key holding the input layout of graphs advex writes. */
export const LAYOUT_METADATA_KEY = "advex.input_layout";

/** The operator-set version advex writes. */
export const EXPORT_OPSET = 13;

/** Options of {@linkcode toOnnxModel}, {@linkcode exportOnnx} and {@linkcode saveOnnx}. */
export interface ExportOnnxOptions {
  /** Layout of the graph input: "NHWC" (default, advex's own) or "NCHW" (the model-zoo convention). */
  inputLayout?: InputLayout;
  /** Name of the graph input. Default "input". */
  inputName?: string;
  /** Name of the graph output. Default "logits". */
  outputName?: string;
  /** Extra `metadata_props` entries. */
  metadata?: Record<string, string>;
  /** A description stored in the file. */
  docString?: string;
}

/** A tensor of the tfjs graph, as the ONNX graph holds it. */
type Value =
  /** An NCHW ONNX tensor holding a tfjs rank-4 NHWC tensor. */
  | { kind: "nchw"; name: string; shape: number[]; memo: Memo }
  /** An ONNX tensor in tfjs's own layout (a rank-4 NHWC input, or any rank-2 tensor). */
  | { kind: "plain"; name: string; shape: number[]; memo: Memo }
  /** Zero padding not written yet, so that a following convolution can take it as its pads. */
  | { kind: "padded"; source: Value; pads: [number, number, number, number]; shape: number[]; memo: Memo }
  /** A flattened feature map not written yet, so that a following Dense can absorb the reordering. */
  | { kind: "flatten"; source: Value; shape: number[]; memo: Memo };

interface Memo {
  nchw?: string;
  plain?: string;
}

/** Collects nodes and initializers under unique names. */
class GraphBuilder {
  nodes: OnnxNode[] = [];
  initializers: OnnxTensor[] = [];
  #names = new Set<string>();

  unique(base: string): string {
    let name = base;
    for (let i = 1; this.#names.has(name); i++) name = `${base}_${i}`;
    this.#names.add(name);
    return name;
  }

  reserve(name: string): void {
    this.#names.add(name);
  }

  init(base: string, dims: number[], values: Float32Array | number[]): string {
    const name = this.unique(base);
    this.initializers.push(floatTensor(name, dims, values));
    return name;
  }

  initInt64(base: string, values: number[]): string {
    const name = this.unique(base);
    this.initializers.push(int64Tensor(name, [values.length], values));
    return name;
  }

  node(opType: string, inputs: string[], output: string, attributes: OnnxAttribute[] = []): string {
    const out = this.unique(output);
    this.nodes.push({ opType, inputs, outputs: [out], name: out, domain: "", attributes });
    return out;
  }
}

function positive(shape: (number | null)[], what: string): number[] {
  return shape.slice(1).map((d) => {
    if (d === null || d === undefined || d < 1) {
      throw new Error(`${what}: every dimension but the batch must be known`);
    }
    return d;
  });
}

/** TensorFlow's "same" padding of one spatial axis: [begin, end], the odd pixel at the end. */
export function samePadding(size: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - size);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function pair(v: number | number[]): [number, number] {
  return Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v];
}

/**
 * Converts a tfjs layers model (an image classifier, or any model built from the supported layers) into an
 * ONNX model. The weights are read as they are now; the model is not changed.
 */
export function toOnnxModel(model: tf.LayersModel, options: ExportOnnxOptions = {}): OnnxModel {
  const layout = options.inputLayout ?? "NHWC";
  if (layout !== "NHWC" && layout !== "NCHW") {
    throw new RangeError(`toOnnxModel: inputLayout must be "NHWC" or "NCHW", got ${JSON.stringify(layout)}`);
  }
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new Error(
      `toOnnxModel: ${model.name} has ${model.inputs.length} inputs and ${model.outputs.length} outputs; one of each is supported`,
    );
  }
  const unsupported = model.layers
    .map((l) => l.getClassName())
    .filter((c) => !(c in LAYERS) && c !== "InputLayer");
  if (unsupported.length > 0) {
    throw new Error(
      `toOnnxModel: ${model.name} has layers ONNX export does not support: ${
        [...new Set(unsupported)].join(", ")
      } ` +
        `(supported: ${Object.keys(LAYERS).join(", ")})`,
    );
  }
  const g = new GraphBuilder();
  const inputName = options.inputName ?? "input";
  const outputName = options.outputName ?? "logits";
  g.reserve(inputName);
  g.reserve(outputName);

  const input = model.inputs[0];
  const inShape = positive(input.shape, `toOnnxModel: input of ${model.name}`);
  const values = new Map<number, Value>();
  let declared: (number | string)[];
  if (inShape.length === 3) {
    const [h, w, c] = inShape;
    if (layout === "NCHW") {
      values.set(input.id, { kind: "nchw", name: inputName, shape: inShape, memo: { nchw: inputName } });
      declared = ["N", c, h, w];
    } else {
      values.set(input.id, { kind: "plain", name: inputName, shape: inShape, memo: { plain: inputName } });
      declared = ["N", h, w, c];
    }
  } else {
    values.set(input.id, { kind: "plain", name: inputName, shape: inShape, memo: { plain: inputName } });
    declared = ["N", ...inShape];
  }

  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === "InputLayer") continue;
    const node = layer.inboundNodes.find((n) => n.inputTensors.every((t) => values.has(t.id)));
    if (!node) {
      throw new Error(`toOnnxModel: cannot place layer ${layer.name} (its inputs are not computed earlier)`);
    }
    const inputs = node.inputTensors.map((t) => values.get(t.id)!);
    const outShape = positive(node.outputTensors[0].shape as (number | null)[], `layer ${layer.name}`);
    const out = LAYERS[cls](g, layer, inputs, outShape);
    values.set(node.outputTensors[0].id, out);
  }

  const result = values.get(model.outputs[0].id);
  if (!result) throw new Error(`toOnnxModel: the output of ${model.name} was never computed`);
  g.nodes.push({
    opType: "Identity",
    inputs: [asPlain(g, result)],
    outputs: [outputName],
    name: outputName,
    domain: "",
    attributes: [],
  });
  return {
    irVersion: 8,
    opsetImport: [{ domain: "", version: EXPORT_OPSET }],
    producerName: "advex",
    producerVersion: "0.1.0",
    docString: options.docString ?? "",
    graph: {
      name: model.name,
      nodes: g.nodes,
      initializers: g.initializers,
      inputs: [{ name: inputName, elemType: DataType.float, shape: declared }],
      outputs: [{
        name: outputName,
        elemType: DataType.float,
        shape: ["N", ...positive(model.outputs[0].shape, "output")],
      }],
    },
    metadata: { [LAYOUT_METADATA_KEY]: layout, "advex.model": model.name, ...options.metadata },
  };
}

/** Exports a tfjs layers model to the bytes of an `.onnx` file. See {@linkcode toOnnxModel}. */
export function exportOnnx(model: tf.LayersModel, options: ExportOnnxOptions = {}): Uint8Array {
  return encodeModel(toOnnxModel(model, options));
}

/** Exports a tfjs layers model to an `.onnx` file, written atomically; returns the number of bytes. */
export async function saveOnnx(
  model: tf.LayersModel,
  path: string,
  options: ExportOnnxOptions = {},
): Promise<number> {
  const bytes = exportOnnx(model, options);
  await writeFileAtomic(path, bytes);
  return bytes.length;
}

// ------------------------------------------------------------------------------------- layout conversions

/** The value as an NCHW ONNX tensor (writing a Transpose or Pad the first time it is needed). */
function asNchw(g: GraphBuilder, v: Value): string {
  if (v.memo.nchw) return v.memo.nchw;
  if (v.shape.length !== 3) throw new Error(`ONNX export: expected a feature map, got shape [${v.shape}]`);
  if (v.kind === "plain") {
    v.memo.nchw = g.node("Transpose", [v.name], `${v.name}_nchw`, [intsAttr("perm", [0, 3, 1, 2])]);
  } else if (v.kind === "padded") {
    const [t, b, l, r] = v.pads;
    const pads = g.initInt64(`${nameOf(v.source)}_pads`, [0, 0, t, l, 0, 0, b, r]);
    v.memo.nchw = g.node("Pad", [asNchw(g, v.source), pads], `${nameOf(v.source)}_padded`);
  } else {
    throw new Error(`ONNX export: cannot hold a ${v.kind} value as NCHW`);
  }
  return v.memo.nchw;
}

/** The value in tfjs's own layout (NHWC feature maps, (h, w, c)-ordered flat vectors). */
function asPlain(g: GraphBuilder, v: Value): string {
  if (v.memo.plain) return v.memo.plain;
  if (v.kind === "flatten") {
    v.memo.plain = g.node("Flatten", [asPlain(g, v.source)], `${nameOf(v.source)}_flat`, [
      intAttr("axis", 1),
    ]);
  } else {
    v.memo.plain = g.node("Transpose", [asNchw(g, v)], `${nameOf(v)}_nhwc`, [intsAttr("perm", [0, 2, 3, 1])]);
  }
  return v.memo.plain;
}

function nameOf(v: Value): string {
  return "name" in v ? v.name : nameOf(v.source);
}

function nchwValue(name: string, shape: number[]): Value {
  return { kind: "nchw", name, shape, memo: { nchw: name } };
}

function plainValue(name: string, shape: number[]): Value {
  return { kind: "plain", name, shape, memo: { plain: name } };
}

/** Applies a tfjs activation by name. */
function activation(g: GraphBuilder, v: Value, act: string, base: string): Value {
  if (act === "linear" || act === undefined || act === null) return v;
  const map: Record<string, string> = { relu: "Relu", sigmoid: "Sigmoid", tanh: "Tanh", softmax: "Softmax" };
  const op = map[act];
  if (!op) {
    throw new Error(
      `ONNX export: activation ${
        JSON.stringify(act)
      } of ${base} is not supported (relu, sigmoid, tanh, softmax, linear)`,
    );
  }
  if (v.shape.length === 3 && v.kind !== "flatten") {
    const attrs = op === "Softmax" ? [intAttr("axis", 1)] : [];
    return nchwValue(g.node(op, [asNchw(g, v)], base, attrs), v.shape);
  }
  const attrs = op === "Softmax" ? [intAttr("axis", -1)] : [];
  return plainValue(g.node(op, [asPlain(g, v)], base, attrs), v.shape);
}

/** A layer weight's values, optionally with its axes permuted (`shape`: the shape to read it as). */
function weightData(w: tf.Tensor, perm?: number[], shape: number[] = w.shape): Float32Array {
  const data = (w.dataSync() as Float32Array).slice();
  return perm ? permuteAxes(data, shape, perm) : data;
}

type LayerConverter = (g: GraphBuilder, layer: tf.layers.Layer, inputs: Value[], outShape: number[]) => Value;

// deno-lint-ignore no-explicit-any
type Config = Record<string, any>;

function checkChannelsLast(layer: tf.layers.Layer, conf: Config): void {
  if (conf.dataFormat && conf.dataFormat !== "channelsLast") {
    throw new Error(
      `ONNX export: layer ${layer.name} uses ${conf.dataFormat}; only channelsLast is supported`,
    );
  }
}

const LAYERS: Record<string, LayerConverter> = {
  Conv2D(g, layer, [x], outShape) {
    const conf = layer.getConfig() as Config;
    checkChannelsLast(layer, conf);
    const [kh, kw] = pair(conf.kernelSize);
    const [sh, sw] = pair(conf.strides);
    const [dh, dw] = pair(conf.dilationRate);
    const weights = layer.getWeights();
    let source = x;
    let pads = [0, 0, 0, 0];
    if (conf.padding === "same") {
      const [t, b] = samePadding(x.shape[0], kh, sh, dh);
      const [l, r] = samePadding(x.shape[1], kw, sw, dw);
      pads = [t, l, b, r];
    } else if (conf.padding === "valid") {
      if (x.kind === "padded") {
        const [t, b, l, r] = x.pads;
        pads = [t, l, b, r];
        source = x.source;
      }
    } else {
      throw new Error(
        `ONNX export: layer ${layer.name} has padding ${conf.padding}; same and valid are supported`,
      );
    }
    const cin = source.shape[2];
    const kernel = g.init(
      `${layer.name}/kernel`,
      [conf.filters, cin, kh, kw],
      weightData(weights[0], [3, 2, 0, 1]),
    );
    const ins = [asNchw(g, source), kernel];
    if (conf.useBias) ins.push(g.init(`${layer.name}/bias`, [conf.filters], weightData(weights[1])));
    const conv = g.node("Conv", ins, conf.activation === "linear" ? layer.name : `${layer.name}/conv`, [
      intsAttr("kernel_shape", [kh, kw]),
      intsAttr("strides", [sh, sw]),
      intsAttr("pads", pads),
      intsAttr("dilations", [dh, dw]),
      intAttr("group", 1),
    ]);
    return activation(g, nchwValue(conv, outShape), conf.activation, layer.name);
  },

  Dense(g, layer, [x], outShape) {
    const conf = layer.getConfig() as Config;
    if (x.shape.length !== 1) {
      throw new Error(`ONNX export: layer ${layer.name} is a Dense on shape [${x.shape}]; flatten first`);
    }
    const weights = layer.getWeights();
    const [inDim, units] = weights[0].shape;
    let a: string;
    let kernel: Float32Array;
    if (x.kind === "flatten") {
      // Flatten the NCHW map directly and reorder the kernel rows from (h, w, c) to (c, h, w).
      const [h, w, c] = x.source.shape;
      a = g.node("Flatten", [asNchw(g, x.source)], `${nameOf(x.source)}_flat`, [intAttr("axis", 1)]);
      kernel = weightData(weights[0], [2, 0, 1, 3], [h, w, c, units]);
    } else {
      a = asPlain(g, x);
      kernel = weightData(weights[0]);
    }
    const ins = [a, g.init(`${layer.name}/kernel`, [inDim, units], kernel)];
    if (conf.useBias) ins.push(g.init(`${layer.name}/bias`, [units], weightData(weights[1])));
    const gemm = g.node("Gemm", ins, conf.activation === "linear" ? layer.name : `${layer.name}/gemm`);
    return activation(g, plainValue(gemm, outShape), conf.activation, layer.name);
  },

  Flatten(g, layer, [x], outShape) {
    if (x.shape.length === 1) return x;
    if (x.shape.length !== 3) throw new Error(`ONNX export: layer ${layer.name} flattens shape [${x.shape}]`);
    const [h, w, c] = x.shape;
    if (x.kind === "plain" || c === 1 || h * w === 1) {
      // (h, w, c) and (c, h, w) orders coincide, or the tensor is already NHWC.
      const src = x.kind === "plain" ? x.name : asNchw(g, x);
      return plainValue(g.node("Flatten", [src], layer.name, [intAttr("axis", 1)]), outShape);
    }
    return { kind: "flatten", source: x, shape: outShape, memo: {} };
  },

  MaxPooling2D: pooling("MaxPool"),
  AveragePooling2D: pooling("AveragePool"),
  GlobalAveragePooling2D: globalPooling("GlobalAveragePool"),
  GlobalMaxPooling2D: globalPooling("GlobalMaxPool"),

  BatchNormalization(g, layer, [x], outShape) {
    const conf = layer.getConfig() as Config;
    const rank = x.shape.length + 1;
    const axis = conf.axis < 0 ? conf.axis + rank : conf.axis;
    if (axis !== rank - 1) {
      throw new Error(
        `ONNX export: layer ${layer.name} normalizes axis ${conf.axis}; only the channel (last) axis is supported`,
      );
    }
    const weights = layer.getWeights();
    const channels = x.shape.at(-1)!;
    let k = 0;
    const gamma = conf.scale ? weightData(weights[k++]) : new Float32Array(channels).fill(1);
    const beta = conf.center ? weightData(weights[k++]) : new Float32Array(channels);
    const mean = weightData(weights[k++]);
    const variance = weightData(weights[k++]);
    const params = [
      g.init(`${layer.name}/gamma`, [channels], gamma),
      g.init(`${layer.name}/beta`, [channels], beta),
      g.init(`${layer.name}/moving_mean`, [channels], mean),
      g.init(`${layer.name}/moving_variance`, [channels], variance),
    ];
    const attrs = [floatAttr("epsilon", conf.epsilon)];
    if (rank === 4) {
      return nchwValue(g.node("BatchNormalization", [asNchw(g, x), ...params], layer.name, attrs), outShape);
    }
    return plainValue(g.node("BatchNormalization", [asPlain(g, x), ...params], layer.name, attrs), outShape);
  },

  Activation(g, layer, [x]) {
    return activation(g, x, (layer.getConfig() as Config).activation, layer.name);
  },

  ReLU(g, layer, [x], outShape) {
    const conf = layer.getConfig() as Config;
    if (conf.maxValue === null || conf.maxValue === undefined) return activation(g, x, "relu", layer.name);
    const lo = g.init(`${layer.name}/min`, [], [0]);
    const hi = g.init(`${layer.name}/max`, [], [conf.maxValue]);
    if (x.shape.length === 3 && x.kind !== "flatten") {
      return nchwValue(g.node("Clip", [asNchw(g, x), lo, hi], layer.name), outShape);
    }
    return plainValue(g.node("Clip", [asPlain(g, x), lo, hi], layer.name), outShape);
  },

  Softmax(g, layer, [x]) {
    const axis = (layer.getConfig() as Config).axis ?? -1;
    if (axis !== -1 && axis !== x.shape.length) {
      throw new Error(
        `ONNX export: layer ${layer.name} takes a softmax over axis ${axis}; only the last axis is supported`,
      );
    }
    return activation(g, x, "softmax", layer.name);
  },

  Add(g, layer, inputs, outShape) {
    const maps = outShape.length === 3 && inputs.every((v) => v.kind !== "flatten");
    const names = inputs.map((v) => (maps ? asNchw(g, v) : asPlain(g, v)));
    let sum = names[0];
    for (let i = 1; i < names.length; i++) {
      sum = g.node("Add", [sum, names[i]], i === names.length - 1 ? layer.name : `${layer.name}/partial`);
    }
    return maps ? nchwValue(sum, outShape) : plainValue(sum, outShape);
  },

  Concatenate(g, layer, inputs, outShape) {
    const conf = layer.getConfig() as Config;
    const rank = outShape.length;
    const axis = conf.axis < 0 ? conf.axis + rank : conf.axis - 1; // tfjs counts the batch axis
    if (axis < 0 || axis >= rank) {
      throw new Error(
        `ONNX export: layer ${layer.name} concatenates on axis ${conf.axis} of rank ${rank + 1}`,
      );
    }
    if (rank === 3 && inputs.every((v) => v.kind !== "flatten")) {
      // Feature maps: (h, w, c) in tfjs is axis 2, 3, 1 in NCHW.
      const onnxAxis = [2, 3, 1][axis];
      const names = inputs.map((v) => asNchw(g, v));
      return nchwValue(g.node("Concat", names, layer.name, [intAttr("axis", onnxAxis)]), outShape);
    }
    const names = inputs.map((v) => asPlain(g, v));
    return plainValue(g.node("Concat", names, layer.name, [intAttr("axis", axis + 1)]), outShape);
  },

  Dropout(_g, _layer, [x]) {
    return x;
  },

  ZeroPadding2D(_g, layer, [x], outShape) {
    const conf = layer.getConfig() as Config;
    checkChannelsLast(layer, conf);
    const [[t, b], [l, r]] = conf.padding as [[number, number], [number, number]];
    if (x.kind === "padded") {
      const [t0, b0, l0, r0] = x.pads;
      return {
        kind: "padded",
        source: x.source,
        pads: [t0 + t, b0 + b, l0 + l, r0 + r],
        shape: outShape,
        memo: {},
      };
    }
    return { kind: "padded", source: x, pads: [t, b, l, r], shape: outShape, memo: {} };
  },
};

function pooling(op: "MaxPool" | "AveragePool"): LayerConverter {
  return (g, layer, [x], outShape) => {
    const conf = layer.getConfig() as Config;
    checkChannelsLast(layer, conf);
    const [kh, kw] = pair(conf.poolSize);
    const [sh, sw] = pair(conf.strides ?? conf.poolSize);
    let pads = [0, 0, 0, 0];
    if (conf.padding === "same") {
      const [t, b] = samePadding(x.shape[0], kh, sh);
      const [l, r] = samePadding(x.shape[1], kw, sw);
      pads = [t, l, b, r];
    }
    const attrs = [intsAttr("kernel_shape", [kh, kw]), intsAttr("strides", [sh, sw]), intsAttr("pads", pads)];
    // TensorFlow's average pooling leaves padding out of the count, as ONNX's count_include_pad = 0 does.
    if (op === "AveragePool") attrs.push(intAttr("count_include_pad", 0));
    return nchwValue(g.node(op, [asNchw(g, x)], layer.name, attrs), outShape);
  };
}

function globalPooling(op: "GlobalAveragePool" | "GlobalMaxPool"): LayerConverter {
  return (g, layer, [x], outShape) => {
    const conf = layer.getConfig() as Config;
    checkChannelsLast(layer, conf);
    if (conf.keepDims) throw new Error(`ONNX export: layer ${layer.name} keeps its dims; not supported`);
    const pooled = g.node(op, [asNchw(g, x)], `${layer.name}/pool`);
    return plainValue(g.node("Flatten", [pooled], layer.name, [intAttr("axis", 1)]), outShape);
  };
}
