/**
 * Importing an ONNX image classifier as a differentiable tfjs {@linkcode Classifier}, so that every attack in
 * advex can run against it (gradients flow through the imported graph to the input).
 *
 * The ONNX graph computes in NCHW; tfjs's convolutions and pooling want NHWC. Each rank-4 value is held as
 * an NHWC tensor standing for the ONNX NCHW one, and converted only where an operator depends on the axis
 * order (Flatten, Reshape, Transpose, MatMul, ...). Weights are converted once, at import: convolution
 * kernels from OIHW to HWIO, batch normalisation folded into a scale and a shift, Gemm weights transposed.
 *
 * Operators: Conv (plain, grouped and depthwise), BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh, Clip, MaxPool,
 * AveragePool, GlobalAveragePool, GlobalMaxPool, Add, Sub, Mul, Div, Sum, Flatten, Gemm, MatMul, Reshape,
 * Transpose, Softmax, LogSoftmax, Concat, Pad (constant), Constant, Identity, Dropout. A model using any
 * other is refused at import with an error naming them.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Classifier } from "../models/classifier.ts";
import { samePadding } from "./export.ts";
import {
  AttributeType,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  standardOpset,
} from "./model_proto.ts";
import { loadOnnx, type OnnxSource } from "./read.ts";
import { checkImageBatch, type ImageSignature, imageSignature, type SignatureOptions } from "./signature.ts";
import { elementCount, permuteAxes, tensorToFloat32, tensorToInts } from "./tensor_data.ts";

/** Options of {@linkcode importOnnx}. */
export type ImportOnnxOptions = SignatureOptions;

/** An ONNX model imported into tfjs. */
export interface ImportedOnnx {
  /** The model as a differentiable function from images `[N, H, W, C]` in [0, 1] to logits. */
  classifier: Classifier;
  signature: ImageSignature;
  /** The distinct operator types of the graph. */
  operators: string[];
  /** Number of weights (elements of the initializers). */
  parameterCount: number;
  /** The file path, or a description of the in-memory source. */
  name: string;
  /** Frees the weights. */
  dispose(): void;
}

/** The operator types {@linkcode importOnnx} runs. */
export const IMPORTABLE_OPERATORS: readonly string[] = [
  "Conv",
  "BatchNormalization",
  "Relu",
  "LeakyRelu",
  "Sigmoid",
  "Tanh",
  "Clip",
  "MaxPool",
  "AveragePool",
  "GlobalAveragePool",
  "GlobalMaxPool",
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Sum",
  "Flatten",
  "Gemm",
  "MatMul",
  "Reshape",
  "Transpose",
  "Softmax",
  "LogSoftmax",
  "Concat",
  "Pad",
  "Constant",
  "Identity",
  "Dropout",
];

/**
 * Imports an ONNX image classifier (a file, its bytes, or a parsed model) as a differentiable tfjs
 * classifier taking advex images `[N, H, W, C]` in [0, 1]; NCHW graphs get their input transposed, and
 * `normalization` is applied first when given.
 *
 * @example
 * ```ts ignore
 * const resnet = await importOnnx("resnet50.onnx", { normalization: IMAGENET_NORMALIZATION });
 * const result = pgd(resnet.classifier, images, labels, { eps: 4 / 255, steps: 10 });
 * ```
 */
export async function importOnnx(source: OnnxSource, options: ImportOnnxOptions = {}): Promise<ImportedOnnx> {
  const { model, name } = await loadOnnx(source);
  return importOnnxModel(model, options, name);
}

/** A runtime value: `nhwc` marks a rank-4 tensor held transposed (NHWC) for an ONNX NCHW value. */
interface RtValue {
  t: tf.Tensor;
  nhwc: boolean;
}

type Env = Map<string, RtValue>;
type Step = (env: Env) => void;

/** The synchronous core of {@linkcode importOnnx}, for a parsed model. */
export function importOnnxModel(
  model: OnnxModel,
  options: ImportOnnxOptions = {},
  name = "ONNX model",
): ImportedOnnx {
  const signature = imageSignature(model, options, name);
  const graph = model.graph;
  const foreign = graph.nodes.filter((n) => n.domain !== "" && n.domain !== "ai.onnx").map((n) =>
    `${n.domain}.${n.opType}`
  );
  const unknown = graph.nodes.map((n) => n.opType).filter((op) => !IMPORTABLE_OPERATORS.includes(op));
  if (foreign.length + unknown.length > 0) {
    throw new Error(
      `${name}: unsupported ONNX operators: ${[...new Set([...foreign, ...unknown])].join(", ")} ` +
        `(the tfjs import runs ${IMPORTABLE_OPERATORS.join(", ")})`,
    );
  }
  const opset = standardOpset(model);
  const owned: tf.Tensor[] = [];
  const ctx = new Context(graph.initializers, owned, name, opset);
  const known = new Set<string>([signature.inputName, ...ctx.constNames()]);
  const steps: Step[] = [];
  try {
    for (const node of graph.nodes) {
      for (const input of node.inputs) {
        if (input !== "" && !known.has(input)) {
          throw new Error(
            `${name}: node ${node.name || node.opType} reads ${input}, which no earlier node computes`,
          );
        }
      }
      const step = compile(ctx, node);
      if (step) steps.push(step);
      node.outputs.forEach((o) => known.add(o));
    }
    if (!known.has(signature.outputName)) {
      throw new Error(`${name}: no node computes the output ${signature.outputName}`);
    }
  } catch (e) {
    tf.dispose(owned);
    throw e;
  }

  const norm = signature.normalization;
  const mean = norm ? tf.tensor1d(norm.mean) : undefined;
  const std = norm ? tf.tensor1d(norm.std) : undefined;
  if (mean && std) owned.push(mean, std);
  const outputName = signature.outputName;
  let disposed = false;
  const classifier: Classifier = (images) => {
    if (disposed) throw new Error(`${name}: this imported model was disposed`);
    checkImageBatch(signature, images.shape, name);
    return tf.tidy(() => {
      const x = mean && std ? tf.div(tf.sub(images, mean), std) : images;
      const env: Env = new Map();
      env.set(signature.inputName, { t: x, nhwc: signature.layout === "NCHW" });
      for (const step of steps) step(env);
      const out = ctx.operand(env, outputName);
      const y = toPlain(out);
      return (y.rank === 2 ? tf.clone(y) : tf.reshape(y, [images.shape[0], -1])) as tf.Tensor2D;
    });
  };
  return {
    classifier,
    signature,
    operators: [...new Set(graph.nodes.map((n) => n.opType))],
    parameterCount: graph.initializers.reduce((n, t) => n + elementCount(t), 0),
    name,
    dispose() {
      if (!disposed) tf.dispose(owned);
      ctx.disposeAll();
      disposed = true;
    },
  };
}

// ---------------------------------------------------------------------------------------------- helpers

function toPlain(v: RtValue): tf.Tensor {
  return v.nhwc ? tf.transpose(v.t, [0, 3, 1, 2]) : v.t;
}

function toNhwc(v: RtValue, what: string): tf.Tensor4D {
  if (v.nhwc) return v.t as tf.Tensor4D;
  if (v.t.rank !== 4) throw new Error(`${what}: expected a rank-4 NCHW tensor, got shape [${v.t.shape}]`);
  return tf.transpose(v.t as tf.Tensor4D, [0, 2, 3, 1]);
}

/** Brings a plain tensor that broadcasts against an NCHW value into the NHWC frame. */
function broadcastToNhwc(t: tf.Tensor): tf.Tensor {
  if (t.size === 1 || t.rank === 0) return t;
  if (t.rank > 4) throw new Error(`cannot broadcast shape [${t.shape}] against a rank-4 tensor`);
  const padded = tf.reshape(t, [...new Array(4 - t.rank).fill(1), ...t.shape]);
  return tf.transpose(padded, [0, 2, 3, 1]);
}

/** Constants of the graph (initializers and Constant nodes) and the tensors made from them. */
class Context {
  #data = new Map<string, OnnxTensor>();
  #tensors = new Map<string, tf.Tensor>();

  constructor(
    inits: OnnxTensor[],
    readonly owned: tf.Tensor[],
    readonly name: string,
    readonly opset: number,
  ) {
    for (const t of inits) this.#data.set(t.name, t);
  }

  constNames(): string[] {
    return [...this.#data.keys()];
  }

  isConst(name: string): boolean {
    return this.#data.has(name);
  }

  addConst(t: OnnxTensor): void {
    this.#data.set(t.name, t);
  }

  data(name: string, what: string): OnnxTensor {
    const t = this.#data.get(name);
    if (!t) throw new Error(`${this.name}: ${what} must be a constant (an initializer or a Constant node)`);
    return t;
  }

  floats(name: string, what: string): Float32Array {
    return tensorToFloat32(this.data(name, what));
  }

  ints(name: string, what: string): number[] {
    return tensorToInts(this.data(name, what));
  }

  /** A tensor kept for the model's lifetime. */
  keep<T extends tf.Tensor>(t: T): T {
    this.owned.push(t);
    return t;
  }

  tensor(name: string): tf.Tensor {
    let t = this.#tensors.get(name);
    if (!t) {
      const d = this.#data.get(name)!;
      // Kept out of any enclosing tidy: the tensor lives as long as the model.
      t = this.keep(tf.keep(tf.tensor(tensorToFloat32(d), d.dims)));
      this.#tensors.set(name, t);
    }
    return t;
  }

  operand(env: Env, name: string): RtValue {
    return env.get(name) ?? { t: this.tensor(name), nhwc: false };
  }

  disposeAll(): void {
    this.#tensors.clear();
  }
}

function attr(node: OnnxNode, name: string) {
  return node.attributes.find((a) => a.name === name);
}

function intAttr(node: OnnxNode, name: string, fallback: number): number {
  return attr(node, name)?.i ?? fallback;
}

function floatAttr(node: OnnxNode, name: string, fallback: number): number {
  return attr(node, name)?.f ?? fallback;
}

function intsAttr(node: OnnxNode, name: string, fallback: number[]): number[] {
  return attr(node, name)?.ints ?? fallback;
}

function stringAttr(node: OnnxNode, name: string, fallback: string): string {
  const s = attr(node, name)?.s;
  return s ? new TextDecoder().decode(s) : fallback;
}

type Pads = [[number, number], [number, number]];

/** Spatial padding of a window operator for an input of `h` x `w`: explicit, auto_pad, and ceil_mode. */
function windowPads(node: OnnxNode, h: number, w: number, k: number[], s: number[], d: number[]): Pads {
  const auto = stringAttr(node, "auto_pad", "NOTSET");
  let pads: Pads;
  if (auto === "SAME_UPPER" || auto === "SAME_LOWER") {
    const ph = samePadding(h, k[0], s[0], d[0]);
    const pw = samePadding(w, k[1], s[1], d[1]);
    pads = auto === "SAME_UPPER" ? [ph, pw] : [[ph[1], ph[0]], [pw[1], pw[0]]];
  } else if (auto === "VALID") {
    pads = [[0, 0], [0, 0]];
  } else {
    const p = intsAttr(node, "pads", [0, 0, 0, 0]);
    pads = [[p[0], p[2]], [p[1], p[3]]];
  }
  if (intAttr(node, "ceil_mode", 0) === 1) {
    [h, w].forEach((size, i) => {
      const span = size + pads[i][0] + pads[i][1];
      const eff = (k[i] - 1) * d[i] + 1;
      const out = Math.ceil((span - eff) / s[i]) + 1;
      const extra = (out - 1) * s[i] + eff - span;
      if (extra > 0) pads[i][1] += extra;
    });
  }
  return pads;
}

function isZero(p: Pads): boolean {
  return p[0][0] === 0 && p[0][1] === 0 && p[1][0] === 0 && p[1][1] === 0;
}

function isSame(p: Pads, h: number, w: number, k: number[], s: number[], d: number[]): boolean {
  const ph = samePadding(h, k[0], s[0], d[0]);
  const pw = samePadding(w, k[1], s[1], d[1]);
  return p[0][0] === ph[0] && p[0][1] === ph[1] && p[1][0] === pw[0] && p[1][1] === pw[1];
}

function padNhwc(x: tf.Tensor4D, p: Pads, value = 0): tf.Tensor4D {
  return tf.pad(x, [[0, 0], p[0], p[1], [0, 0]], value);
}

function unary(f: (t: tf.Tensor) => tf.Tensor): (ctx: Context, node: OnnxNode) => Step {
  return (ctx, node) => (env) => {
    const v = ctx.operand(env, node.inputs[0]);
    env.set(node.outputs[0], { t: f(v.t), nhwc: v.nhwc });
  };
}

function broadcast(f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): (ctx: Context, node: OnnxNode) => Step {
  return (ctx, node) => (env) => {
    const vals = node.inputs.map((i) => ctx.operand(env, i));
    const nhwc = vals.some((v) => v.nhwc);
    const ts = vals.map((v) => (nhwc && !v.nhwc ? broadcastToNhwc(v.t) : v.t));
    env.set(node.outputs[0], { t: ts.slice(1).reduce((acc, t) => f(acc, t), ts[0]), nhwc });
  };
}

/** Axis `axis` of a rank-`rank` tensor, negative counting from the end. */
function axisOf(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function softmaxLike(log: boolean): (ctx: Context, node: OnnxNode) => Step {
  const fn = (t: tf.Tensor) => (log ? tf.logSoftmax(t) : tf.softmax(t));
  return (ctx, node) => {
    const legacy = ctx.opset < 13;
    const axisAttr = intAttr(node, "axis", legacy ? 1 : -1);
    return (env) => {
      const v = ctx.operand(env, node.inputs[0]);
      if (!legacy && v.nhwc && axisOf(axisAttr, 4) === 1) {
        env.set(node.outputs[0], { t: fn(v.t), nhwc: true });
        return;
      }
      const x = toPlain(v);
      const axis = axisOf(axisAttr, x.rank);
      let y: tf.Tensor;
      if (legacy) {
        const rows = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
        y = tf.reshape(fn(tf.reshape(x, [rows, -1])), x.shape);
      } else if (axis === x.rank - 1) {
        y = fn(x);
      } else {
        const perm = [...Array(x.rank).keys()];
        [perm[axis], perm[x.rank - 1]] = [perm[x.rank - 1], perm[axis]];
        y = tf.transpose(fn(tf.transpose(x, perm)), perm);
      }
      env.set(node.outputs[0], { t: y, nhwc: false });
    };
  };
}

function pool(kind: "max" | "avg"): (ctx: Context, node: OnnxNode) => Step {
  return (ctx, node) => {
    const k = intsAttr(node, "kernel_shape", []);
    if (k.length !== 2) throw new Error(`${ctx.name}: node ${node.name}: only 2-D pooling is supported`);
    const s = intsAttr(node, "strides", [1, 1]);
    const d = intsAttr(node, "dilations", [1, 1]);
    if (d[0] !== 1 || d[1] !== 1) {
      throw new Error(`${ctx.name}: node ${node.name}: dilated pooling is not supported`);
    }
    if (node.outputs.length > 1 && node.outputs[1] !== "") {
      throw new Error(`${ctx.name}: node ${node.name}: the Indices output of MaxPool is not supported`);
    }
    const includePad = intAttr(node, "count_include_pad", 0) === 1;
    const window = [k[0], k[1]] as [number, number];
    const strides = [s[0], s[1]] as [number, number];
    return (env) => {
      const x = toNhwc(ctx.operand(env, node.inputs[0]), `${node.opType} ${node.name}`);
      const [, h, w] = x.shape;
      const p = windowPads(node, h, w, k, s, d);
      let y: tf.Tensor4D;
      if (isZero(p)) {
        y = kind === "max"
          ? tf.maxPool(x, window, strides, "valid")
          : tf.avgPool(x, window, strides, "valid");
      } else if (kind === "max") {
        y = isSame(p, h, w, k, s, d)
          ? tf.maxPool(x, window, strides, "same")
          : tf.maxPool(padNhwc(x, p, -Infinity), window, strides, "valid");
      } else {
        const sum = tf.avgPool(padNhwc(x, p), window, strides, "valid");
        if (includePad) {
          y = sum;
        } else {
          // Divide by the number of real pixels in each window, as count_include_pad = 0 asks.
          const count = tf.avgPool(padNhwc(tf.ones([1, h, w, 1]), p), window, strides, "valid");
          y = tf.div(sum, count);
        }
      }
      env.set(node.outputs[0], { t: y, nhwc: true });
    };
  };
}

function globalPool(kind: "max" | "avg"): (ctx: Context, node: OnnxNode) => Step {
  return (ctx, node) => (env) => {
    const v = ctx.operand(env, node.inputs[0]);
    const reduce = (
      t: tf.Tensor,
      axes: number[],
    ) => (kind === "max" ? tf.max(t, axes, true) : tf.mean(t, axes, true));
    if (v.nhwc) env.set(node.outputs[0], { t: reduce(v.t, [1, 2]), nhwc: true });
    else env.set(node.outputs[0], { t: reduce(v.t, [...Array(v.t.rank).keys()].slice(2)), nhwc: false });
  };
}

const OPS: Record<string, (ctx: Context, node: OnnxNode) => Step | undefined> = {
  Conv(ctx, node) {
    const w = ctx.data(node.inputs[1], `the weight of Conv ${node.name}`);
    if (w.dims.length !== 4) {
      throw new Error(`${ctx.name}: Conv ${node.name}: only 2-D convolutions are supported`);
    }
    const [m, cg, kh, kw] = w.dims;
    const group = intAttr(node, "group", 1);
    const s = intsAttr(node, "strides", [1, 1]);
    const d = intsAttr(node, "dilations", [1, 1]);
    const k = intsAttr(node, "kernel_shape", [kh, kw]);
    if ((s[0] > 1 || s[1] > 1) && (d[0] > 1 || d[1] > 1)) {
      throw new Error(`${ctx.name}: Conv ${node.name}: strides and dilations both above 1 are not supported`);
    }
    const raw = tensorToFloat32(w);
    const channels = cg * group;
    if (m % group !== 0) {
      throw new Error(
        `${ctx.name}: Conv ${node.name}: ${m} output channels do not split into ${group} groups`,
      );
    }
    // A depthwise convolution runs as one where this backend can also differentiate it (wasm cannot);
    // other grouped convolutions, and depthwise ones there, as a plain convolution with a block-diagonal
    // kernel: the same function, computed densely.
    const depthwise = group > 1 && cg === 1 &&
      tf.getKernel("DepthwiseConv2dNativeBackpropInput", tf.getBackend()) !== undefined;
    let filter: tf.Tensor4D;
    if (group === 1) {
      filter = ctx.keep(tf.tensor4d(permuteAxes(raw, [m, cg, kh, kw], [2, 3, 1, 0]), [kh, kw, cg, m]));
    } else if (depthwise) {
      filter = ctx.keep(
        tf.tensor4d(permuteAxes(raw, [group, m / group, kh, kw], [2, 3, 0, 1]), [kh, kw, group, m / group]),
      );
    } else {
      const hwio = permuteAxes(raw, [m, cg, kh, kw], [2, 3, 1, 0]); // [kh, kw, cg, m]
      const dense = new Float32Array(kh * kw * channels * m);
      const perGroup = m / group;
      for (let p = 0; p < kh * kw; p++) {
        for (let i = 0; i < cg; i++) {
          for (let o = 0; o < m; o++) {
            const ci = Math.floor(o / perGroup) * cg + i;
            dense[(p * channels + ci) * m + o] = hwio[(p * cg + i) * m + o];
          }
        }
      }
      filter = ctx.keep(tf.tensor4d(dense, [kh, kw, channels, m]));
    }
    const bias = node.inputs[2]
      ? ctx.keep(tf.tensor1d(ctx.floats(node.inputs[2], `the bias of Conv ${node.name}`)))
      : undefined;
    const strides = [s[0], s[1]] as [number, number];
    const dilations = [d[0], d[1]] as [number, number];
    return (env) => {
      let x = toNhwc(ctx.operand(env, node.inputs[0]), `Conv ${node.name}`);
      const [, h, wd, c] = x.shape;
      if (c !== channels) {
        throw new Error(`${ctx.name}: Conv ${node.name} expects ${channels} input channels, got ${c}`);
      }
      const p = windowPads(node, h, wd, k, s, d);
      let pad: "valid" | "same" = "valid";
      if (isSame(p, h, wd, k, s, d) && !isZero(p)) pad = "same";
      else if (!isZero(p)) x = padNhwc(x, p);
      let y = depthwise
        ? tf.depthwiseConv2d(x, filter, strides, pad, "NHWC", dilations)
        : tf.conv2d(x, filter, strides, pad, "NHWC", dilations);
      if (bias) y = tf.add(y, bias);
      env.set(node.outputs[0], { t: y, nhwc: true });
    };
  },

  BatchNormalization(ctx, node) {
    const what = `the parameters of BatchNormalization ${node.name}`;
    const [scale, bias, mean, variance] = node.inputs.slice(1, 5).map((i) => ctx.floats(i, what));
    const eps = floatAttr(node, "epsilon", 1e-5);
    const a = new Float32Array(scale.length);
    const b = new Float32Array(scale.length);
    for (let i = 0; i < scale.length; i++) {
      a[i] = scale[i] / Math.sqrt(variance[i] + eps);
      b[i] = bias[i] - mean[i] * a[i];
    }
    const at = ctx.keep(tf.tensor1d(a));
    const bt = ctx.keep(tf.tensor1d(b));
    return (env) => {
      const v = ctx.operand(env, node.inputs[0]);
      if (v.nhwc || v.t.rank === 4 || v.t.rank === 2) {
        const x = v.t.rank === 4 ? toNhwc(v, `BatchNormalization ${node.name}`) : v.t;
        env.set(node.outputs[0], { t: tf.add(tf.mul(x, at), bt), nhwc: v.t.rank === 4 });
      } else {
        const shape = [a.length, ...new Array(v.t.rank - 2).fill(1)];
        env.set(node.outputs[0], {
          t: tf.add(tf.mul(v.t, tf.reshape(at, shape)), tf.reshape(bt, shape)),
          nhwc: false,
        });
      }
    };
  },

  Relu: unary((t) => tf.relu(t)),
  Sigmoid: unary((t) => tf.sigmoid(t)),
  Tanh: unary((t) => tf.tanh(t)),
  Identity: unary((t) => t),
  Dropout: unary((t) => t),
  LeakyRelu(ctx, node) {
    const alpha = floatAttr(node, "alpha", 0.01);
    return unary((t) => tf.leakyRelu(t, alpha))(ctx, node);
  },
  Clip(ctx, node) {
    let lo = -3.4e38;
    let hi = 3.4e38;
    if (ctx.opset < 11) {
      lo = floatAttr(node, "min", lo);
      hi = floatAttr(node, "max", hi);
    } else {
      if (node.inputs[1]) lo = ctx.floats(node.inputs[1], `the min of Clip ${node.name}`)[0];
      if (node.inputs[2]) hi = ctx.floats(node.inputs[2], `the max of Clip ${node.name}`)[0];
    }
    return unary((t) => tf.clipByValue(t, lo, hi))(ctx, node);
  },

  MaxPool: pool("max"),
  AveragePool: pool("avg"),
  GlobalAveragePool: globalPool("avg"),
  GlobalMaxPool: globalPool("max"),

  Add: broadcast((a, b) => tf.add(a, b)),
  Sub: broadcast((a, b) => tf.sub(a, b)),
  Mul: broadcast((a, b) => tf.mul(a, b)),
  Div: broadcast((a, b) => tf.div(a, b)),
  Sum: broadcast((a, b) => tf.add(a, b)),

  Flatten(ctx, node) {
    const axisAttr = intAttr(node, "axis", 1);
    return (env) => {
      const x = toPlain(ctx.operand(env, node.inputs[0]));
      const axis = axisOf(axisAttr, x.rank);
      const rows = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
      env.set(node.outputs[0], { t: tf.reshape(x, [rows, -1]), nhwc: false });
    };
  },

  Gemm(ctx, node) {
    const transA = intAttr(node, "transA", 0) === 1;
    const transB = intAttr(node, "transB", 0) === 1;
    const alpha = floatAttr(node, "alpha", 1);
    const beta = floatAttr(node, "beta", 1);
    let constB: tf.Tensor2D | undefined;
    if (ctx.isConst(node.inputs[1])) {
      const d = ctx.data(node.inputs[1], "");
      const raw = tensorToFloat32(d);
      constB = ctx.keep(
        transB
          ? tf.tensor2d(permuteAxes(raw, [d.dims[0], d.dims[1]], [1, 0]), [d.dims[1], d.dims[0]])
          : tf.tensor2d(raw, [d.dims[0], d.dims[1]]),
      );
    }
    let constC: tf.Tensor | undefined;
    if (node.inputs[2] && ctx.isConst(node.inputs[2])) {
      const d = ctx.data(node.inputs[2], "");
      constC = ctx.keep(tf.tensor(tensorToFloat32(d).map((v) => v * beta), d.dims));
    }
    return (env) => {
      let a = toPlain(ctx.operand(env, node.inputs[0])) as tf.Tensor2D;
      if (transA) a = tf.transpose(a);
      const b = constB ?? (() => {
        const t = toPlain(ctx.operand(env, node.inputs[1])) as tf.Tensor2D;
        return transB ? tf.transpose(t) : t;
      })();
      let y: tf.Tensor = tf.matMul(a, b);
      if (alpha !== 1) y = tf.mul(y, alpha);
      if (node.inputs[2]) {
        const c = constC ?? tf.mul(toPlain(ctx.operand(env, node.inputs[2])), beta);
        y = tf.add(y, c);
      }
      env.set(node.outputs[0], { t: y, nhwc: false });
    };
  },

  MatMul(ctx, node) {
    return (env) => {
      const a = toPlain(ctx.operand(env, node.inputs[0]));
      const b = toPlain(ctx.operand(env, node.inputs[1]));
      let y: tf.Tensor;
      if (a.rank >= 2 && b.rank === 2) {
        const rows = tf.reshape(a, [-1, a.shape[a.rank - 1]]) as tf.Tensor2D;
        y = tf.reshape(tf.matMul(rows, b as tf.Tensor2D), [...a.shape.slice(0, -1), b.shape[1] as number]);
      } else if (a.rank === b.rank && a.rank > 2) {
        y = tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D);
      } else {
        throw new Error(
          `${ctx.name}: MatMul ${node.name}: shapes [${a.shape}] and [${b.shape}] are not supported`,
        );
      }
      env.set(node.outputs[0], { t: y, nhwc: false });
    };
  },

  Reshape(ctx, node) {
    const target = ctx.ints(node.inputs[1], `the shape of Reshape ${node.name}`);
    const allowZero = intAttr(node, "allowzero", 0) === 1;
    return (env) => {
      const x = toPlain(ctx.operand(env, node.inputs[0]));
      const shape = target.map((d, i) => (d === 0 && !allowZero ? x.shape[i] : d));
      env.set(node.outputs[0], { t: tf.reshape(x, shape), nhwc: false });
    };
  },

  Transpose(ctx, node) {
    const permAttr = attr(node, "perm")?.ints;
    return (env) => {
      const v = ctx.operand(env, node.inputs[0]);
      const rank = v.t.rank;
      const perm = permAttr ?? [...Array(rank).keys()].reverse();
      const key = perm.join(",");
      if (rank === 4 && v.nhwc && key === "0,2,3,1") {
        env.set(node.outputs[0], { t: v.t, nhwc: false });
      } else if (rank === 4 && !v.nhwc && key === "0,3,1,2") {
        env.set(node.outputs[0], { t: v.t, nhwc: true });
      } else {
        env.set(node.outputs[0], { t: tf.transpose(toPlain(v), perm), nhwc: false });
      }
    };
  },

  Softmax: softmaxLike(false),
  LogSoftmax: softmaxLike(true),

  Concat(ctx, node) {
    const axisAttr = intAttr(node, "axis", 1);
    return (env) => {
      const vals = node.inputs.map((i) => ctx.operand(env, i));
      const rank = vals[0].t.rank;
      if (rank === 4 && axisOf(axisAttr, 4) === 1 && vals.every((v) => v.nhwc)) {
        env.set(node.outputs[0], { t: tf.concat(vals.map((v) => v.t), 3), nhwc: true });
      } else {
        env.set(node.outputs[0], { t: tf.concat(vals.map(toPlain), axisOf(axisAttr, rank)), nhwc: false });
      }
    };
  },

  Pad(ctx, node) {
    const mode = stringAttr(node, "mode", "constant");
    if (mode !== "constant") {
      throw new Error(`${ctx.name}: Pad ${node.name}: mode ${mode} is not supported (constant only)`);
    }
    const pads = ctx.opset < 11
      ? intsAttr(node, "pads", [])
      : ctx.ints(node.inputs[1], `the pads of Pad ${node.name}`);
    const value = ctx.opset < 11
      ? floatAttr(node, "value", 0)
      : node.inputs[2]
      ? ctx.floats(node.inputs[2], `the value of Pad ${node.name}`)[0]
      : 0;
    if (pads.some((p) => p < 0)) {
      throw new Error(`${ctx.name}: Pad ${node.name}: negative pads are not supported`);
    }
    return (env) => {
      const v = ctx.operand(env, node.inputs[0]);
      const r = v.t.rank;
      if (pads.length !== 2 * r) {
        throw new Error(`${ctx.name}: Pad ${node.name}: ${pads.length} pads for rank ${r}`);
      }
      const pairs = Array.from({ length: r }, (_, i) => [pads[i], pads[i + r]] as [number, number]);
      if (v.nhwc) {
        env.set(node.outputs[0], {
          t: tf.pad(v.t, [pairs[0], pairs[2], pairs[3], pairs[1]], value),
          nhwc: true,
        });
      } else {
        env.set(node.outputs[0], { t: tf.pad(v.t, pairs, value), nhwc: false });
      }
    };
  },

  Constant(ctx, node) {
    const a = node.attributes[0];
    const out = node.outputs[0];
    if (!a) throw new Error(`${ctx.name}: Constant ${node.name} has no value`);
    if (a.type === AttributeType.tensor && a.t) {
      ctx.addConst({ ...a.t, name: out });
    } else if (a.name === "value_float" && a.f !== undefined) {
      ctx.addConst({ name: out, dims: [], dataType: 1, floatData: [a.f] });
    } else if (a.name === "value_floats" && a.floats) {
      ctx.addConst({ name: out, dims: [a.floats.length], dataType: 1, floatData: a.floats });
    } else if (a.name === "value_int" && a.i !== undefined) {
      ctx.addConst({ name: out, dims: [], dataType: 7, int64Data: [a.i] });
    } else if (a.name === "value_ints" && a.ints) {
      ctx.addConst({ name: out, dims: [a.ints.length], dataType: 7, int64Data: a.ints });
    } else {
      throw new Error(`${ctx.name}: Constant ${node.name}: attribute ${a.name} is not supported`);
    }
    return undefined;
  },
};

function compile(ctx: Context, node: OnnxNode): Step | undefined {
  return OPS[node.opType](ctx, node);
}
