/**
 * Importing an ONNX image classifier as a differentiable tfjs {@linkcode Classifier}, so that every attack in
 * advex can run against it (gradients flow through the imported graph to the input).
 *
 * The ONNX graph computes in NCHW; tfjs's convolutions and pooling want NHWC. Each rank-4 value is held as
 * an NHWC tensor standing for the ONNX NCHW one, and converted only where an operator depends on the axis
 * order (Flatten, Reshape, Transpose, MatMul, ...). Weights are converted once, at import: convolution
 * kernels from OIHW to HWIO, batch normalisation folded into a scale and a shift, Gemm weights transposed.
 *
 * Graphs as exporters write them are taken as they come. Constant subgraphs are folded at import: a node
 * whose inputs are all constants (initializers, Constant nodes, or outputs of nodes folded before it) is run
 * once and replaced by its value, so that Identity nodes over shared initializers, weights computed by
 * Transpose or Mul, and shape arithmetic become plain constants; Shape of a value whose shape the file
 * fixes (the graph input with a fixed batch) folds too. What remains of a shape computation on a symbolic
 * batch (PyTorch's `x.view(x.size(0), -1)`: Shape, Gather, Unsqueeze, Concat before Reshape) runs on small
 * integer arrays on the host, never as tensors, on each call.
 *
 * The operators are the keys of the lookup table below ({@linkcode IMPORTABLE_OPERATORS}); a model using
 * any other is refused at import with an error naming them.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Classifier } from "../models/classifier.ts";
import { samePadding } from "./export.ts";
import {
  AttributeType,
  DataType,
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
  /** Number of nodes computed once at import (constant subgraphs, Shape of fixed shapes). */
  foldedNodes: number;
  /** The file path, or a description of the in-memory source. */
  name: string;
  /** Frees the weights. */
  dispose(): void;
}

/**
 * Imports an ONNX image classifier (a file, its bytes, or a parsed model) as a differentiable tfjs
 * classifier taking advex images `[N, H, W, C]` in [0, 1]; NCHW graphs get their input transposed, and
 * `normalization` is applied first when given. A file that fixes the batch size runs any batch, in chunks
 * of that size.
 *
 * @example
 * ```ts
 * import type * as tf from "@tensorflow/tfjs";
 * import { pgd } from "../attacks/pgd.ts";
 * import { importOnnx } from "./import_tf.ts";
 * import { IMAGENET_NORMALIZATION } from "./signature.ts";
 * declare const images: tf.Tensor4D, labels: tf.Tensor1D;
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

/**
 * A small array on the host: a constant, or the result of shape arithmetic (Shape, Gather, Concat, ...).
 * `float` is false for integer (and boolean) element types.
 */
interface HostArray {
  dims: number[];
  data: number[];
  float: boolean;
}

/** What a name holds while the graph runs: a tensor, or a host array. */
type Value = RtValue | { host: HostArray };

type Env = Map<string, Value>;
type Step = (env: Env) => void;

const isHost = (v: Value): v is { host: HostArray } => "host" in v;

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
  const input = graph.inputs.find((i) => i.name === signature.inputName);
  const inputDims = input?.shape;
  const fixedBatch = typeof inputDims?.[0] === "number" && inputDims[0] > 0 ? inputDims[0] : undefined;
  if (inputDims && inputDims.every((d) => typeof d === "number" && d > 0)) {
    ctx.staticShapes.set(signature.inputName, inputDims as number[]);
  }
  const known = new Set<string>([signature.inputName, ...ctx.constNames()]);
  const steps: Step[] = [];
  let folded = 0;
  try {
    for (const node of graph.nodes) {
      for (const input of node.inputs) {
        if (input !== "" && !known.has(input)) {
          throw new Error(
            `${name}: node ${node.name || node.opType} reads ${input}, which no earlier node computes`,
          );
        }
      }
      if (node.opType !== "Constant" && foldable(ctx, node)) {
        fold(ctx, node);
        folded++;
      } else {
        const step = compile(ctx, node);
        if (step) steps.push(step);
      }
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
    if (images.shape[0] === 0) {
      throw new RangeError(
        `${name}: got a batch of 0 images; it takes at least one image [N, ${
          signature.inputShape.join(", ")
        }] (NHWC) with N >= 1`,
      );
    }
    if (images.dtype !== "float32") {
      throw new TypeError(
        `${name}: takes float32 images in [0, 1], got a ${images.dtype} tensor (convert with tf.cast and divide by 255)`,
      );
    }
    return tf.tidy(() => {
      const x = mean && std ? tf.div(tf.sub(images, mean), std) : images;
      const n = images.shape[0];
      if (fixedBatch === undefined || n === fixedBatch) return run(x as tf.Tensor4D);
      // The file fixes the batch (its shapes may be folded for it): run chunks of that size, the last one
      // padded with zeros, and keep the rows of the real images.
      const parts: tf.Tensor2D[] = [];
      for (let start = 0; start < n; start += fixedBatch) {
        const m = Math.min(fixedBatch, n - start);
        let chunk = tf.slice(x, [start, 0, 0, 0], [m, -1, -1, -1]) as tf.Tensor4D;
        if (m < fixedBatch) chunk = tf.pad(chunk, [[0, fixedBatch - m], [0, 0], [0, 0], [0, 0]]);
        const y = run(chunk);
        parts.push(m < fixedBatch ? tf.slice(y, [0, 0], [m, -1]) : y);
      }
      return tf.concat(parts, 0);
    });
  };
  const run = (x: tf.Tensor4D): tf.Tensor2D => {
    const env: Env = new Map();
    env.set(signature.inputName, { t: x, nhwc: signature.layout === "NCHW" });
    for (const step of steps) step(env);
    const y = toPlain(ctx.operand(env, outputName));
    return (y.rank === 2 ? tf.clone(y) : tf.reshape(y, [x.shape[0], -1])) as tf.Tensor2D;
  };
  return {
    classifier,
    signature,
    operators: [...new Set(graph.nodes.map((n) => n.opType))],
    parameterCount: graph.initializers.reduce((n, t) => n + elementCount(t), 0),
    foldedNodes: folded,
    name,
    dispose() {
      if (!disposed) tf.dispose(owned);
      ctx.disposeAll();
      disposed = true;
    },
  };
}

// ---------------------------------------------------------------------------------------- constant folding

/** Whether a node can be computed at import: every input is a constant, or it is Shape of a fixed shape. */
function foldable(ctx: Context, node: OnnxNode): boolean {
  if (node.opType === "Shape") return ctx.staticShapes.has(node.inputs[0]) || ctx.isConst(node.inputs[0]);
  return node.inputs.length > 0 && node.inputs.every((i) => i === "" || ctx.isConst(i));
}

/** Runs a node whose inputs are all known at import and records its outputs as constants. */
function fold(ctx: Context, node: OnnxNode): void {
  if (node.opType === "Shape" && !ctx.isConst(node.inputs[0])) {
    const shape = sliceShape(node, ctx.staticShapes.get(node.inputs[0])!);
    ctx.addHostConst(node.outputs[0], { dims: [shape.length], data: shape, float: false });
    return;
  }
  const step = compile(ctx, node);
  if (!step) return;
  const env: Env = new Map();
  ctx.folding = true;
  try {
    tf.tidy(() => {
      step(env);
      for (const out of node.outputs) {
        const v = env.get(out);
        if (!v) continue;
        if (isHost(v)) {
          ctx.addHostConst(out, v.host);
        } else {
          const t = toPlain(v);
          ctx.addHostConst(out, {
            dims: [...t.shape],
            data: Array.from(t.dataSync()),
            float: t.dtype === "float32",
          });
        }
      }
    });
  } finally {
    ctx.folding = false;
  }
}

/** The (sliced, from opset 15) shape Shape returns for a value of shape `dims`. */
function sliceShape(node: OnnxNode, dims: number[]): number[] {
  const r = dims.length;
  const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + r : i, 0), r);
  const start = clamp(intAttr(node, "start", 0));
  const endAttr = attr(node, "end")?.i;
  const end = endAttr === undefined ? r : clamp(endAttr);
  return dims.slice(start, end);
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

/** The ONNX (NCHW) shape of a runtime value. */
function logicalShape(v: Value): number[] {
  if (isHost(v)) return v.host.dims;
  const s = v.t.shape as number[];
  return v.nhwc ? [s[0], s[3], s[1], s[2]] : [...s];
}

/** Brings a plain tensor that broadcasts against an NCHW value into the NHWC frame. */
function broadcastToNhwc(t: tf.Tensor): tf.Tensor {
  if (t.size === 1 || t.rank === 0) return t;
  if (t.rank > 4) throw new Error(`cannot broadcast shape [${t.shape}] against a rank-4 tensor`);
  const padded = tf.reshape(t, [...new Array(4 - t.rank).fill(1), ...t.shape]);
  return tf.transpose(padded, [0, 2, 3, 1]);
}

const INT_TYPES: number[] = [
  DataType.int64,
  DataType.int32,
  DataType.int8,
  DataType.uint8,
  DataType.bool,
  4, // uint16
  5, // int16
  12, // uint32
  13, // uint64
];

/** Constants of the graph (initializers, Constant nodes, folded nodes) and the tensors made from them. */
class Context {
  #data = new Map<string, OnnxTensor>();
  #host = new Map<string, HostArray>();
  #tensors = new Map<string, tf.Tensor>();
  /** Shapes (NCHW, as in the file) known before any call: the graph input's when the file fixes it. */
  readonly staticShapes = new Map<string, number[]>();
  /** True while a node is being folded. */
  folding = false;
  /** Names that hold host arrays when the graph runs (results of shape arithmetic). */
  readonly hostNames = new Set<string>();

  constructor(
    inits: OnnxTensor[],
    readonly owned: tf.Tensor[],
    readonly name: string,
    readonly opset: number,
  ) {
    for (const t of inits) this.#data.set(t.name, t);
  }

  constNames(): string[] {
    return [...this.#data.keys(), ...this.#host.keys()];
  }

  isConst(name: string): boolean {
    return this.#data.has(name) || this.#host.has(name);
  }

  addConst(t: OnnxTensor): void {
    this.#data.set(t.name, t);
  }

  /** Records a folded value as a constant. */
  addHostConst(name: string, h: HostArray): void {
    this.#host.set(name, h);
    this.#data.delete(name);
    this.staticShapes.set(name, h.dims);
  }

  /** A constant as a host array (integer element types stay exact). */
  host(name: string): HostArray | undefined {
    const h = this.#host.get(name);
    if (h) return h;
    const d = this.#data.get(name);
    if (!d) return undefined;
    const float = !INT_TYPES.includes(d.dataType);
    const data = float ? Array.from(tensorToFloat32(d)) : tensorToInts(d);
    const made = { dims: [...d.dims], data, float };
    this.#host.set(name, made);
    return made;
  }

  #missing(what: string): never {
    throw new Error(
      `${this.name}: ${what} must be a constant (an initializer, a Constant node, or computed from constants only)`,
    );
  }

  /** A constant as an ONNX tensor (float data), for the converters that transform weights at import. */
  data(name: string, what: string): OnnxTensor {
    const t = this.#data.get(name);
    if (t) return t;
    const h = this.#host.get(name);
    if (!h) this.#missing(what);
    return { name, dims: h.dims, dataType: DataType.float, floatData: h.data };
  }

  floats(name: string, what: string): Float32Array {
    const h = this.#host.get(name);
    if (h) return Float32Array.from(h.data);
    return tensorToFloat32(this.data(name, what));
  }

  ints(name: string, what: string): number[] {
    const h = this.#host.get(name);
    if (h) return h.data.map((v) => Math.round(v));
    return tensorToInts(this.data(name, what));
  }

  /** A tensor kept for the model's lifetime. */
  keep<T extends tf.Tensor>(t: T): T {
    this.owned.push(t);
    return t;
  }

  tensor(name: string): tf.Tensor {
    // While folding, inside fold's tidy: a temporary, so that weights only folding reads are not kept.
    if (this.folding) return this.#tensors.get(name) ?? hostToTensor(this.host(name)!);
    let t = this.#tensors.get(name);
    if (!t) {
      const h = this.host(name)!;
      // Kept out of any enclosing tidy: the tensor lives as long as the model.
      t = this.keep(tf.keep(hostToTensor(h)));
      this.#tensors.set(name, t);
    }
    return t;
  }

  /** A value as a tensor (host arrays are uploaded). */
  operand(env: Env, name: string): RtValue {
    const v = env.get(name);
    if (!v) return { t: this.tensor(name), nhwc: false };
    if (isHost(v)) return { t: hostToTensor(v.host), nhwc: false };
    return v;
  }

  /** A value as a host array, when it is one (a constant or the result of shape arithmetic). */
  hostOperand(env: Env, name: string): HostArray | undefined {
    const v = env.get(name);
    if (v) return isHost(v) ? v.host : undefined;
    return this.host(name);
  }

  disposeAll(): void {
    this.#tensors.clear();
  }
}

function hostToTensor(h: HostArray): tf.Tensor {
  return tf.tensor(h.data, h.dims, h.float ? "float32" : "int32");
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

function reduce(
  f: (t: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor,
  axesInputOpset: number,
): (ctx: Context, node: OnnxNode) => Step {
  return (ctx, node) => {
    const axesGiven = axesOf(ctx, node, undefined, axesInputOpset);
    const keep = intAttr(node, "keepdims", 1) === 1;
    return (env) => {
      const v = ctx.operand(env, node.inputs[0]);
      const r = v.t.rank;
      const axes = (axesGiven ?? [...Array(r).keys()]).map((a) => axisOf(a, r));
      if (v.nhwc && keep) {
        // NCHW axis a is NHWC axis [0, 3, 1, 2][a]; with keepdims the result stays in the NHWC frame.
        env.set(node.outputs[0], { t: f(v.t, axes.map((a) => [0, 3, 1, 2][a]), true), nhwc: true });
      } else {
        env.set(node.outputs[0], { t: f(toPlain(v), axes, keep), nhwc: false });
      }
    };
  };
}

// ------------------------------------------------------------------------------ host arrays (shape arithmetic)

function stridesOf(dims: number[]): number[] {
  const s = new Array(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

const countOf = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** Numpy-style broadcasting of two shapes. */
function broadcastShapes(a: number[], b: number[], what: string): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`${what}: shapes [${a}] and [${b}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Element `flat` of a broadcast result, read from an input of shape `dims`. */
function broadcastIndex(flat: number, outDims: number[], outStrides: number[], dims: number[]): number {
  const inStrides = stridesOf(dims);
  const off = outDims.length - dims.length;
  let idx = 0;
  for (let d = 0; d < dims.length; d++) {
    const coord = Math.floor(flat / outStrides[d + off]) % outDims[d + off];
    if (dims[d] !== 1) idx += coord * inStrides[d];
  }
  return idx;
}

function elementwise(
  ins: HostArray[],
  f: (...v: number[]) => number,
  what: string,
  float = ins.some((h) => h.float),
): HostArray {
  const dims = ins.map((h) => h.dims).reduce((a, b) => broadcastShapes(a, b, what));
  const strides = stridesOf(dims);
  const data = Array.from(
    { length: countOf(dims) },
    (_, i) => f(...ins.map((h) => h.data[broadcastIndex(i, dims, strides, h.dims)])),
  );
  return { dims, data, float };
}

/** Integer results of integer inputs stay integers (ONNX's integer Div truncates). */
function arith(f: (a: number, b: number) => number): HostOp {
  return (ins, node) => {
    const [a, b] = ins as HostArray[];
    const float = a.float || b.float;
    return [elementwise([a, b], (x, y) => (float ? f(x, y) : Math.trunc(f(x, y))), node.opType, float)];
  };
}

function compare(f: (a: number, b: number) => boolean): HostOp {
  return (ins, node) => [elementwise(ins as HostArray[], (x, y) => (f(x, y) ? 1 : 0), node.opType, false)];
}

/** The axes of Squeeze/Unsqueeze/Reduce*: an attribute before opset 13 (18 for the reductions), an input after. */
function axesOf(ctx: Context, node: OnnxNode, ins: (HostArray | undefined)[] | undefined, inputOpset = 13) {
  if (ctx.opset < inputOpset || node.inputs.length < 2 || node.inputs[1] === "") {
    return attr(node, "axes")?.ints;
  }
  if (ins) return ins[1]!.data;
  return ctx.ints(node.inputs[1], `the axes of ${node.opType} ${node.name}`);
}

function gatherHost(x: HostArray, idx: HostArray, axis: number): HostArray {
  const a = axisOf(axis, x.dims.length);
  const outer = countOf(x.dims.slice(0, a));
  const inner = countOf(x.dims.slice(a + 1));
  const n = x.dims[a];
  const data: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const raw of idx.data) {
      const i = raw < 0 ? raw + n : raw;
      if (i < 0 || i >= n) throw new RangeError(`Gather: index ${raw} out of range for a dimension of ${n}`);
      for (let k = 0; k < inner; k++) data.push(x.data[(o * n + i) * inner + k]);
    }
  }
  return { dims: [...x.dims.slice(0, a), ...idx.dims, ...x.dims.slice(a + 1)], data, float: x.float };
}

function concatHost(parts: HostArray[], axis: number): HostArray {
  const r = parts[0].dims.length;
  const a = axisOf(axis, r);
  const outer = countOf(parts[0].dims.slice(0, a));
  const data: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const chunk = countOf(p.dims.slice(a));
      data.push(...p.data.slice(o * chunk, (o + 1) * chunk));
    }
  }
  const dims = [...parts[0].dims];
  dims[a] = parts.reduce((s, p) => s + p.dims[a], 0);
  return { dims, data, float: parts.some((p) => p.float) };
}

/** Start, end and step per axis of a Slice, clamped as ONNX says. */
function sliceRanges(
  dims: number[],
  starts: number[],
  ends: number[],
  axes: number[] | undefined,
  steps: number[] | undefined,
): { start: number; end: number; step: number }[] {
  const ranges = dims.map((d) => ({ start: 0, end: d, step: 1 }));
  starts.forEach((s, k) => {
    const a = axisOf(axes?.[k] ?? k, dims.length);
    const d = dims[a];
    const step = steps?.[k] ?? 1;
    if (step === 0) throw new RangeError("Slice: a step of 0");
    const norm = (v: number) => (v < 0 ? v + d : v);
    const lo = step > 0 ? 0 : -1;
    const hi = step > 0 ? d : d - 1;
    ranges[a] = {
      start: Math.min(Math.max(norm(s), lo), hi),
      end: Math.min(Math.max(norm(Math.max(Math.min(ends[k], 2 ** 53), -(2 ** 53))), lo), hi),
      step,
    };
  });
  return ranges;
}

function sliceArgs(ctx: Context, node: OnnxNode, ins: (HostArray | undefined)[] | undefined) {
  if (ctx.opset < 10) {
    return {
      starts: intsAttr(node, "starts", []),
      ends: intsAttr(node, "ends", []),
      axes: attr(node, "axes")?.ints,
      steps: undefined,
    };
  }
  const get = (k: number, what: string) =>
    node.inputs[k]
      ? (ins ? ins[k]!.data : ctx.ints(node.inputs[k], `the ${what} of Slice ${node.name}`))
      : undefined;
  return { starts: get(1, "starts")!, ends: get(2, "ends")!, axes: get(3, "axes"), steps: get(4, "steps") };
}

/**
 * Rows `indices` of `x` along `axis`, as slices of consecutive runs joined by concat: differentiable on every
 * backend (tf.gather's gradient needs UnsortedSegmentSum, which wasm lacks).
 */
function takeAlong(x: tf.Tensor, indices: number[], axis: number): tf.Tensor {
  const runs: [number, number][] = [];
  for (const i of indices) {
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === i) last[1]++;
    else runs.push([i, 1]);
  }
  const parts = runs.map(([start, count]) => {
    const begin = new Array(x.rank).fill(0);
    const size = new Array(x.rank).fill(-1);
    begin[axis] = start;
    size[axis] = count;
    return tf.slice(x, begin, size);
  });
  return parts.length === 1 ? parts[0] : tf.concat(parts, axis);
}

/** A Slice on a tensor: tf.slice for unit steps; larger steps by reshaping; negative ones through reverse. */
function sliceTensor(x: tf.Tensor, ranges: { start: number; end: number; step: number }[]): tf.Tensor {
  const counts = ranges.map((r) => Math.max(0, Math.ceil((r.end - r.start) / r.step)));
  let y = x;
  ranges.forEach((r, axis) => {
    const c = counts[axis];
    const d = x.shape[axis];
    if (r.step === 1) {
      if (r.start === 0 && c === d) return;
      const begin = new Array(x.rank).fill(0);
      const size = new Array(x.rank).fill(-1);
      begin[axis] = r.start;
      size[axis] = c;
      y = tf.slice(y, begin, size);
      return;
    }
    let start = r.start;
    let step = r.step;
    if (step < 0) {
      y = tf.reverse(y, axis);
      start = d - 1 - start;
      step = -step;
    }
    // Elements start, start + step, ...: pad to c * step from start, fold into [c, step], keep column 0.
    const begin = new Array(x.rank).fill(0);
    const size = new Array(x.rank).fill(-1);
    begin[axis] = start;
    size[axis] = Math.min(c * step, d - start);
    y = tf.slice(y, begin, size);
    const short = c * step - size[axis];
    if (short > 0) {
      y = tf.pad(
        y,
        y.shape.map((_, i) => (i === axis ? [0, short] : [0, 0]) as [number, number]),
      );
    }
    const shape = [...y.shape];
    y = tf.reshape(y, [...shape.slice(0, axis), c, step, ...shape.slice(axis + 1)]);
    const b2 = new Array(y.rank).fill(0);
    const s2 = new Array(y.rank).fill(-1);
    s2[axis + 1] = 1;
    y = tf.reshape(tf.slice(y, b2, s2), [...shape.slice(0, axis), c, ...shape.slice(axis + 1)]);
  });
  return y;
}

function sliceHost(x: HostArray, ranges: { start: number; end: number; step: number }[]): HostArray {
  const counts = ranges.map((r) => Math.max(0, Math.ceil((r.end - r.start) / r.step)));
  const strides = stridesOf(x.dims);
  const outStrides = stridesOf(counts);
  const data = Array.from({ length: countOf(counts) }, (_, i) => {
    let src = 0;
    for (let d = 0; d < counts.length; d++) {
      const c = Math.floor(i / outStrides[d]) % counts[d];
      src += (ranges[d].start + c * ranges[d].step) * strides[d];
    }
    return x.data[src];
  });
  return { dims: counts, data, float: x.float };
}

/** The output shape of Reshape: 0 copies the input dimension (unless allowzero), -1 is inferred. */
function reshapeTarget(target: number[], dims: number[], allowZero: boolean, what: string): number[] {
  const shape = target.map((d, i) => (d === 0 && !allowZero ? dims[i] : d));
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const total = countOf(dims);
  const free = shape.indexOf(-1);
  if (free >= 0) {
    if (known === 0 || total % known !== 0) {
      throw new Error(`${what}: cannot reshape [${dims}] to [${target}]`);
    }
    shape[free] = total / known;
  }
  if (countOf(shape) !== total) throw new Error(`${what}: cannot reshape [${dims}] to [${target}]`);
  return shape;
}

const FLOAT_TYPES: number[] = [DataType.float, DataType.float16, DataType.double, 16 /* bfloat16 */];

type HostOp = (ins: (HostArray | undefined)[], node: OnnxNode, ctx: Context) => HostArray[];

/** Operators computed on host arrays when their inputs are constants or results of shape arithmetic. */
const HOST_OPS: Record<string, HostOp> = {
  Identity: (ins) => [ins[0]!],
  Shape: (ins, node) => {
    const s = sliceShape(node, ins[0]!.dims);
    return [{ dims: [s.length], data: s, float: false }];
  },
  Cast(ins, node) {
    const to = intAttr(node, "to", DataType.float);
    const x = ins[0]!;
    if (FLOAT_TYPES.includes(to)) return [{ ...x, float: true }];
    const data = to === DataType.bool ? x.data.map((v) => (v !== 0 ? 1 : 0)) : x.data.map(Math.trunc);
    return [{ dims: x.dims, data, float: false }];
  },
  Gather: (ins, node) => [gatherHost(ins[0]!, ins[1]!, intAttr(node, "axis", 0))],
  Unsqueeze(ins, node, ctx) {
    const x = ins[0]!;
    const axes = axesOf(ctx, node, ins) ?? [];
    const r = x.dims.length + axes.length;
    const set = new Set(axes.map((a) => axisOf(a, r)));
    const dims: number[] = [];
    let k = 0;
    for (let i = 0; i < r; i++) dims.push(set.has(i) ? 1 : x.dims[k++]);
    return [{ ...x, dims }];
  },
  Squeeze(ins, node, ctx) {
    const x = ins[0]!;
    const axes = axesOf(ctx, node, ins);
    const set = new Set(
      (axes ?? x.dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => axisOf(a, x.dims.length)),
    );
    return [{ ...x, dims: x.dims.filter((_, i) => !set.has(i)) }];
  },
  Concat: (ins, node) => [concatHost(ins as HostArray[], intAttr(node, "axis", 0))],
  Slice(ins, node, ctx) {
    const x = ins[0]!;
    const { starts, ends, axes, steps } = sliceArgs(ctx, node, ins);
    return [sliceHost(x, sliceRanges(x.dims, starts, ends, axes, steps))];
  },
  Reshape(ins, node) {
    const x = ins[0]!;
    const what = `Reshape ${node.name}`;
    return [{ ...x, dims: reshapeTarget(ins[1]!.data, x.dims, intAttr(node, "allowzero", 0) === 1, what) }];
  },
  Flatten(ins, node) {
    const x = ins[0]!;
    const a = axisOf(intAttr(node, "axis", 1), x.dims.length);
    return [{ ...x, dims: [countOf(x.dims.slice(0, a)), countOf(x.dims.slice(a))] }];
  },
  ConstantOfShape(ins, node) {
    const t = attr(node, "value")?.t;
    const value = t ? tensorToFloat32(t)[0] : 0;
    const dims = ins[0]!.data;
    const float = t ? !INT_TYPES.includes(t.dataType) : true;
    return [{ dims, data: new Array(countOf(dims)).fill(value), float }];
  },
  Range(ins) {
    const [start, limit, delta] = ins.map((h) => h!.data[0]);
    const n = Math.max(Math.ceil((limit - start) / delta), 0);
    return [{
      dims: [n],
      data: Array.from({ length: n }, (_, i) => start + i * delta),
      float: ins[0]!.float,
    }];
  },
  Add: arith((a, b) => a + b),
  Sub: arith((a, b) => a - b),
  Mul: arith((a, b) => a * b),
  Div: arith((a, b) => a / b),
  Equal: compare((a, b) => a === b),
  Less: compare((a, b) => a < b),
  Greater: compare((a, b) => a > b),
  Not: (ins) => [{ ...ins[0]!, data: ins[0]!.data.map((v) => (v ? 0 : 1)) }],
  Where(ins, node) {
    const [c, a, b] = ins as HostArray[];
    return [elementwise([c, a, b], (p, x, y) => (p ? x : y), node.opType, a.float || b.float)];
  },
  Max: (ins, node) => [elementwise(ins as HostArray[], Math.max, node.opType)],
  Min: (ins, node) => [elementwise(ins as HostArray[], Math.min, node.opType)],
  Neg: (ins) => [{ ...ins[0]!, data: ins[0]!.data.map((v) => -v) }],
  Abs: (ins) => [{ ...ins[0]!, data: ins[0]!.data.map(Math.abs) }],
  ReduceProd(ins, node, ctx) {
    const x = ins[0]!;
    const axes = axesOf(ctx, node, ins, 18);
    if (axes && !(x.dims.length === 1 && axes.length === 1)) {
      throw new Error(`${ctx.name}: ReduceProd ${node.name}: only the product of a 1-D shape is supported`);
    }
    const p = x.data.reduce((a, b) => a * b, 1);
    return [{ dims: intAttr(node, "keepdims", 1) ? [1] : [], data: [p], float: x.float }];
  },
};

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
    const target = ctx.isConst(node.inputs[1]) ? ctx.ints(node.inputs[1], "") : undefined;
    if (!target && !ctx.hostNames.has(node.inputs[1])) {
      throw new Error(
        `${ctx.name}: the shape of Reshape ${node.name} must be a constant or computed from shapes (Shape, Gather, Concat, ...)`,
      );
    }
    const allowZero = intAttr(node, "allowzero", 0) === 1;
    const what = `${ctx.name}: Reshape ${node.name}`;
    return (env) => {
      const x = toPlain(ctx.operand(env, node.inputs[0]));
      const shape = reshapeTarget(
        target ?? ctx.hostOperand(env, node.inputs[1])!.data,
        x.shape,
        allowZero,
        what,
      );
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

  Shape(ctx, node) {
    ctx.hostNames.add(node.outputs[0]);
    return (env) => {
      const v = env.get(node.inputs[0]) ?? ctx.operand(env, node.inputs[0]);
      const s = sliceShape(node, logicalShape(v));
      env.set(node.outputs[0], { host: { dims: [s.length], data: s, float: false } });
    };
  },

  Cast(ctx, node) {
    const to = intAttr(node, "to", DataType.float);
    const float = FLOAT_TYPES.includes(to);
    return (env) => {
      const v = ctx.operand(env, node.inputs[0]);
      const t = float ? (v.t.dtype === "float32" ? v.t : tf.cast(v.t, "float32")) : tf.cast(v.t, "int32");
      env.set(node.outputs[0], { t, nhwc: v.nhwc });
    };
  },

  Gather(ctx, node) {
    const idx = ctx.host(node.inputs[1]);
    if (!idx) throw new Error(`${ctx.name}: Gather ${node.name}: the indices must be constant`);
    const axisAttr = intAttr(node, "axis", 0);
    return (env) => {
      const x = toPlain(ctx.operand(env, node.inputs[0]));
      const a = axisOf(axisAttr, x.rank);
      const n = x.shape[a];
      const g = takeAlong(x, idx.data.map((i) => (i < 0 ? i + n : i)), a);
      const shape = [...x.shape.slice(0, a), ...idx.dims, ...x.shape.slice(a + 1)];
      env.set(node.outputs[0], { t: tf.reshape(g, shape), nhwc: false });
    };
  },

  Unsqueeze(ctx, node) {
    const axes = axesOf(ctx, node, undefined) ?? [];
    return (env) => {
      const x = toPlain(ctx.operand(env, node.inputs[0]));
      const r = x.rank + axes.length;
      const set = new Set(axes.map((a) => axisOf(a, r)));
      const dims: number[] = [];
      let k = 0;
      for (let i = 0; i < r; i++) dims.push(set.has(i) ? 1 : x.shape[k++]);
      env.set(node.outputs[0], { t: tf.reshape(x, dims), nhwc: false });
    };
  },

  Squeeze(ctx, node) {
    const axes = axesOf(ctx, node, undefined);
    return (env) => {
      const x = toPlain(ctx.operand(env, node.inputs[0]));
      const set = new Set(
        (axes ?? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => axisOf(a, x.rank)),
      );
      env.set(node.outputs[0], { t: tf.reshape(x, x.shape.filter((_, i) => !set.has(i))), nhwc: false });
    };
  },

  Slice(ctx, node) {
    // Starts and ends may be computed from shapes (ShuffleNet's channel split): read on each call.
    const args = ctx.opset < 10 ? sliceArgs(ctx, node, undefined) : undefined;
    for (const i of node.inputs.slice(1)) {
      if (i !== "" && !ctx.isConst(i) && !ctx.hostNames.has(i)) {
        throw new Error(
          `${ctx.name}: the ${i} input of Slice ${node.name} must be a constant or computed from shapes`,
        );
      }
    }
    return (env) => {
      const x = toPlain(ctx.operand(env, node.inputs[0]));
      const { starts, ends, axes, steps } = args ??
        sliceArgs(ctx, node, node.inputs.map((i) => (i === "" ? undefined : ctx.hostOperand(env, i))));
      const ranges = sliceRanges(x.shape, starts, ends, axes, steps);
      env.set(node.outputs[0], { t: sliceTensor(x, ranges), nhwc: false });
    };
  },

  Expand(ctx, node) {
    return (env) => {
      const v = ctx.operand(env, node.inputs[0]);
      const target = ctx.hostOperand(env, node.inputs[1]);
      if (!target) {
        throw new Error(`${ctx.name}: Expand ${node.name}: the shape must be a constant or a shape`);
      }
      const x = toPlain(v);
      const shape = broadcastShapes(x.shape, target.data, `Expand ${node.name}`);
      const padded = tf.reshape(x, [...new Array(shape.length - x.rank).fill(1), ...x.shape]);
      env.set(node.outputs[0], { t: tf.broadcastTo(padded, shape), nhwc: false });
    };
  },

  Split(ctx, node) {
    const axisAttr = intAttr(node, "axis", 0);
    const given = ctx.opset >= 13 && node.inputs[1]
      ? ctx.ints(node.inputs[1], `the split of Split ${node.name}`)
      : attr(node, "split")?.ints;
    const parts = node.outputs.length;
    return (env) => {
      const v = ctx.operand(env, node.inputs[0]);
      const onChannels = v.nhwc && axisOf(axisAttr, 4) === 1;
      const x = onChannels ? v.t : toPlain(v);
      const a = onChannels ? 3 : axisOf(axisAttr, x.rank);
      const sizes = given ?? new Array(parts).fill(x.shape[a] / parts);
      tf.split(x, sizes, a).forEach((t, k) => env.set(node.outputs[k], { t, nhwc: onChannels }));
    };
  },

  ReduceMean: reduce((t, axes, keep) => tf.mean(t, axes, keep), 18),
  ReduceSum: reduce((t, axes, keep) => tf.sum(t, axes, keep), 13),
  ReduceMax: reduce((t, axes, keep) => tf.max(t, axes, keep), 18),
  ReduceMin: reduce((t, axes, keep) => tf.min(t, axes, keep), 18),

  LRN(ctx, node) {
    const size = intAttr(node, "size", 1);
    const alpha = floatAttr(node, "alpha", 1e-4);
    const beta = floatAttr(node, "beta", 0.75);
    const bias = floatAttr(node, "bias", 1);
    const below = Math.floor((size - 1) / 2);
    const above = Math.ceil((size - 1) / 2);
    return (env) => {
      // Written with pad and slices (not tf's LRN kernel, which has no gradient on every backend).
      const x = toNhwc(ctx.operand(env, node.inputs[0]), `LRN ${node.name}`);
      const c = x.shape[3];
      const sq = tf.pad(tf.square(x), [[0, 0], [0, 0], [0, 0], [below, above]]);
      let sum: tf.Tensor = tf.slice(sq, [0, 0, 0, 0], [-1, -1, -1, c]);
      for (let k = 1; k < size; k++) sum = tf.add(sum, tf.slice(sq, [0, 0, 0, k], [-1, -1, -1, c]));
      const y = tf.div(x, tf.pow(tf.add(tf.mul(sum, alpha / size), bias), beta));
      env.set(node.outputs[0], { t: y, nhwc: true });
    };
  },

  PRelu: broadcast((x, slope) => tf.add(tf.relu(x), tf.mul(slope, tf.neg(tf.relu(tf.neg(x)))))),
  Pow: broadcast((a, b) => tf.pow(a, b)),
  Max: broadcast((a, b) => tf.maximum(a, b)),
  Min: broadcast((a, b) => tf.minimum(a, b)),
  Mean(ctx, node) {
    const add = broadcast((a, b) => tf.add(a, b))(ctx, node);
    return (env) => {
      add(env);
      const v = env.get(node.outputs[0]) as RtValue;
      env.set(node.outputs[0], { t: tf.div(v.t, node.inputs.length), nhwc: v.nhwc });
    };
  },
  Exp: unary((t) => tf.exp(t)),
  Log: unary((t) => tf.log(t)),
  Sqrt: unary((t) => tf.sqrt(t)),
  Neg: unary((t) => tf.neg(t)),
  Abs: unary((t) => tf.abs(t)),
  Reciprocal: unary((t) => tf.reciprocal(t)),
  Erf: unary((t) => tf.erf(t)),
  Softplus: unary((t) => tf.softplus(t)),
  Softsign: unary((t) => tf.div(t, tf.add(tf.abs(t), 1))),
  HardSwish: unary((t) => tf.mul(t, tf.div(tf.clipByValue(tf.add(t, 3), 0, 6), 6))),
  HardSigmoid(ctx, node) {
    const alpha = floatAttr(node, "alpha", 0.2);
    const beta = floatAttr(node, "beta", 0.5);
    return unary((t) => tf.clipByValue(tf.add(tf.mul(t, alpha), beta), 0, 1))(ctx, node);
  },
  Elu(ctx, node) {
    const alpha = floatAttr(node, "alpha", 1);
    return unary((
      t,
    ) => (alpha === 1 ? tf.elu(t) : tf.where(tf.greater(t, 0), t, tf.mul(tf.sub(tf.exp(t), 1), alpha))))(
      ctx,
      node,
    );
  },
  Selu(ctx, node) {
    const alpha = floatAttr(node, "alpha", 1.67326319217681884765625);
    const gamma = floatAttr(node, "gamma", 1.05070102214813232421875);
    return unary((t) =>
      tf.mul(tf.where(tf.greater(t, 0), t, tf.mul(tf.sub(tf.exp(tf.minimum(t, 0)), 1), alpha)), gamma)
    )(ctx, node);
  },
  Gelu(ctx, node) {
    const tanh = stringAttr(node, "approximate", "none") === "tanh";
    return unary((t) =>
      tanh
        ? tf.mul(
          tf.mul(t, 0.5),
          tf.add(tf.tanh(tf.mul(tf.add(t, tf.mul(tf.pow(t, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1),
        )
        : tf.mul(tf.mul(t, 0.5), tf.add(tf.erf(tf.div(t, Math.SQRT2)), 1))
    )(ctx, node);
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

/**
 * The step that runs a node: on host arrays when the operator has a host form and every input is a
 * constant or a result of shape arithmetic, else on tensors.
 */
function compile(ctx: Context, node: OnnxNode): Step | undefined {
  const host = HOST_OPS[node.opType];
  const onHost = (i: string) => i === "" || ctx.isConst(i) || ctx.hostNames.has(i);
  if (host && node.inputs.every(onHost)) {
    node.outputs.forEach((o) => ctx.hostNames.add(o));
    return (env) => {
      const ins = node.inputs.map((i) => (i === "" ? undefined : ctx.hostOperand(env, i)));
      host(ins, node, ctx).forEach((h, k) => env.set(node.outputs[k], { host: h }));
    };
  }
  const op = OPS[node.opType];
  if (!op) {
    const tensors = node.inputs.filter((i) => !onHost(i));
    throw new Error(
      `${ctx.name}: ${node.opType} ${node.name} is supported on constants and shapes only, but reads ${
        tensors.join(", ")
      }, computed from the image`,
    );
  }
  return op(ctx, node);
}

/** The operator types {@linkcode importOnnx} runs: the keys of its conversion tables. */
export const IMPORTABLE_OPERATORS: readonly string[] = [
  ...new Set([...Object.keys(OPS), ...Object.keys(HOST_OPS)]),
]
  .sort();
