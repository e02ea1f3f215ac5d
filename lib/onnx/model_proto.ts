/**
 * The ONNX messages advex reads and writes (`onnx.proto`: ModelProto, GraphProto, NodeProto, AttributeProto,
 * TensorProto, ValueInfoProto), as plain objects, with their encoding and decoding. Fields advex does not
 * use are skipped when reading and never written.
 * @module
 */
import { ProtobufError, ProtoReader, ProtoWriter, WireType } from "./protobuf.ts";

/** ONNX tensor element types (`TensorProto.DataType`) that advex handles. */
export const DataType = {
  float: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  double: 11,
} as const;

/** ONNX attribute types (`AttributeProto.AttributeType`). */
export const AttributeType = {
  float: 1,
  int: 2,
  string: 3,
  tensor: 4,
  graph: 5,
  floats: 6,
  ints: 7,
  strings: 8,
} as const;

/** A tensor: an initializer, or the value of a Constant node or tensor attribute. */
export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** Little-endian element bytes (how advex writes every tensor). */
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  doubleData?: number[];
  /** Whether the data lives in an external file (not supported by advex's readers). */
  external?: boolean;
}

/** A node attribute; exactly one of the value fields is set, as `type` says. */
export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
}

/** One operator application. */
export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  /** Operator-set domain; "" (or "ai.onnx") is the standard one. */
  domain: string;
  attributes: OnnxAttribute[];
}

/** A graph input or output: name, element type and shape (a number per fixed dimension, a name per symbolic one). */
export interface OnnxValueInfo {
  name: string;
  elemType: number;
  shape?: (number | string)[];
}

/** A computation graph. */
export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

/** A whole model file. */
export interface OnnxModel {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  docString: string;
  graph: OnnxGraph;
  /** `metadata_props` as a record. */
  metadata: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------- attributes

/** An integer attribute. */
export function intAttr(name: string, i: number): OnnxAttribute {
  return { name, type: AttributeType.int, i };
}

/** An integer-list attribute. */
export function intsAttr(name: string, ints: number[]): OnnxAttribute {
  return { name, type: AttributeType.ints, ints };
}

/** A float attribute. */
export function floatAttr(name: string, f: number): OnnxAttribute {
  return { name, type: AttributeType.float, f };
}

/** A string attribute. */
export function stringAttr(name: string, s: string): OnnxAttribute {
  return { name, type: AttributeType.string, s: new TextEncoder().encode(s) };
}

/** A tensor attribute. */
export function tensorAttr(name: string, t: OnnxTensor): OnnxAttribute {
  return { name, type: AttributeType.tensor, t };
}

// ------------------------------------------------------------------------------------------------ encoding

function writeTensor(t: OnnxTensor): ProtoWriter {
  if (t.rawData === undefined) {
    throw new ProtobufError(`tensor ${t.name}: advex writes tensors with raw_data only`);
  }
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.dataType);
  if (t.name) w.string(8, t.name);
  w.bytes(9, t.rawData);
  return w;
}

function writeAttribute(a: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter();
  w.string(1, a.name);
  if (a.f !== undefined) w.float(2, a.f);
  if (a.i !== undefined) w.int(3, a.i);
  if (a.s !== undefined) w.bytes(4, a.s);
  if (a.t !== undefined) w.message(5, writeTensor(a.t));
  for (const f of a.floats ?? []) w.float(7, f);
  for (const i of a.ints ?? []) w.int(8, i);
  for (const s of a.strings ?? []) w.bytes(9, s);
  w.int(20, a.type);
  return w;
}

function writeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes) w.message(5, writeAttribute(a));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function writeValueInfo(v: OnnxValueInfo): ProtoWriter {
  const tensorType = new ProtoWriter().int(1, v.elemType);
  if (v.shape) {
    const shape = new ProtoWriter();
    for (const d of v.shape) {
      const dim = new ProtoWriter();
      if (typeof d === "number") dim.int(1, d);
      else dim.string(2, d);
      shape.message(1, dim);
    }
    tensorType.message(2, shape);
  }
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

function writeGraph(g: OnnxGraph): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, writeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, writeTensor(t));
  for (const v of g.inputs) w.message(11, writeValueInfo(v));
  for (const v of g.outputs) w.message(12, writeValueInfo(v));
  return w;
}

/** Serializes a model to the bytes of an `.onnx` file. */
export function encodeModel(model: OnnxModel): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, model.irVersion);
  if (model.producerName) w.string(2, model.producerName);
  if (model.producerVersion) w.string(3, model.producerVersion);
  if (model.docString) w.string(6, model.docString);
  for (const o of model.opsetImport) {
    const op = new ProtoWriter();
    if (o.domain) op.string(1, o.domain);
    op.int(2, o.version);
    w.message(8, op);
  }
  for (const [key, value] of Object.entries(model.metadata)) {
    w.message(14, new ProtoWriter().string(1, key).string(2, value));
  }
  // The graph goes last: a file cut short anywhere then ends inside it, where the reader notices.
  w.message(7, writeGraph(model.graph));
  return w.finish();
}

// ------------------------------------------------------------------------------------------------ decoding

function readTensor(r: ProtoReader): OnnxTensor {
  const t: OnnxTensor = { name: "", dims: [], dataType: 0 };
  while (!r.done()) {
    const f = r.next();
    switch (f.field) {
      case 1:
        r.repeatedInt(f.wire, t.dims);
        break;
      case 2:
        r.expect(f, WireType.varint, "data_type");
        t.dataType = r.varint();
        break;
      case 4:
        r.repeatedFloat(f.wire, t.floatData ??= []);
        break;
      case 5:
        r.repeatedInt(f.wire, t.int32Data ??= []);
        break;
      case 7:
        r.repeatedInt(f.wire, t.int64Data ??= []);
        break;
      case 8:
        r.expect(f, WireType.bytes, "name");
        t.name = r.string();
        break;
      case 9:
        r.expect(f, WireType.bytes, "raw_data");
        t.rawData = r.bytesField();
        break;
      case 10:
        r.repeatedDouble(f.wire, t.doubleData ??= []);
        break;
      case 13:
        t.external = true;
        r.skip(f.wire);
        break;
      case 14:
        r.expect(f, WireType.varint, "data_location");
        if (r.varint() === 1) t.external = true;
        break;
      default:
        r.skip(f.wire);
    }
  }
  return t;
}

function readAttribute(r: ProtoReader): OnnxAttribute {
  const a: OnnxAttribute = { name: "", type: 0 };
  while (!r.done()) {
    const f = r.next();
    switch (f.field) {
      case 1:
        r.expect(f, WireType.bytes, "name");
        a.name = r.string();
        break;
      case 2:
        r.expect(f, WireType.fixed32, "f");
        a.f = r.float();
        break;
      case 3:
        r.expect(f, WireType.varint, "i");
        a.i = r.varint();
        break;
      case 4:
        r.expect(f, WireType.bytes, "s");
        a.s = r.bytesField();
        break;
      case 5:
        r.expect(f, WireType.bytes, "t");
        a.t = readTensor(r.message("TensorProto"));
        break;
      case 7:
        r.repeatedFloat(f.wire, a.floats ??= []);
        break;
      case 8:
        r.repeatedInt(f.wire, a.ints ??= []);
        break;
      case 9:
        r.expect(f, WireType.bytes, "strings");
        (a.strings ??= []).push(r.bytesField());
        break;
      case 20:
        r.expect(f, WireType.varint, "type");
        a.type = r.varint();
        break;
      default:
        r.skip(f.wire);
    }
  }
  if (a.type === 0) {
    // IR version 1 files carry no type: infer it from the field present.
    a.type = a.f !== undefined
      ? AttributeType.float
      : a.i !== undefined
      ? AttributeType.int
      : a.s !== undefined
      ? AttributeType.string
      : a.t !== undefined
      ? AttributeType.tensor
      : a.floats
      ? AttributeType.floats
      : a.ints
      ? AttributeType.ints
      : a.strings
      ? AttributeType.strings
      : 0;
  }
  return a;
}

function readNode(r: ProtoReader): OnnxNode {
  const n: OnnxNode = { opType: "", inputs: [], outputs: [], name: "", domain: "", attributes: [] };
  while (!r.done()) {
    const f = r.next();
    switch (f.field) {
      case 1:
        r.expect(f, WireType.bytes, "input");
        n.inputs.push(r.string());
        break;
      case 2:
        r.expect(f, WireType.bytes, "output");
        n.outputs.push(r.string());
        break;
      case 3:
        r.expect(f, WireType.bytes, "name");
        n.name = r.string();
        break;
      case 4:
        r.expect(f, WireType.bytes, "op_type");
        n.opType = r.string();
        break;
      case 5:
        r.expect(f, WireType.bytes, "attribute");
        n.attributes.push(readAttribute(r.message("AttributeProto")));
        break;
      case 7:
        r.expect(f, WireType.bytes, "domain");
        n.domain = r.string();
        break;
      default:
        r.skip(f.wire);
    }
  }
  return n;
}

function readShape(r: ProtoReader): (number | string)[] {
  const dims: (number | string)[] = [];
  while (!r.done()) {
    const f = r.next();
    if (f.field !== 1) {
      r.skip(f.wire);
      continue;
    }
    r.expect(f, WireType.bytes, "dim");
    const d = r.message("TensorShapeProto.Dimension");
    let dim: number | string = "?";
    while (!d.done()) {
      const g = d.next();
      if (g.field === 1 && g.wire === WireType.varint) dim = d.varint();
      else if (g.field === 2 && g.wire === WireType.bytes) dim = d.string();
      else d.skip(g.wire);
    }
    dims.push(dim);
  }
  return dims;
}

function readValueInfo(r: ProtoReader): OnnxValueInfo {
  const v: OnnxValueInfo = { name: "", elemType: 0 };
  while (!r.done()) {
    const f = r.next();
    if (f.field === 1 && f.wire === WireType.bytes) {
      v.name = r.string();
    } else if (f.field === 2 && f.wire === WireType.bytes) {
      const type = r.message("TypeProto");
      while (!type.done()) {
        const g = type.next();
        if (g.field !== 1 || g.wire !== WireType.bytes) {
          type.skip(g.wire);
          continue;
        }
        const tensor = type.message("TypeProto.Tensor");
        while (!tensor.done()) {
          const h = tensor.next();
          if (h.field === 1 && h.wire === WireType.varint) v.elemType = tensor.varint();
          else if (h.field === 2 && h.wire === WireType.bytes) {
            v.shape = readShape(tensor.message("TensorShapeProto"));
          } else tensor.skip(h.wire);
        }
      }
    } else {
      r.skip(f.wire);
    }
  }
  return v;
}

function readGraph(r: ProtoReader): OnnxGraph {
  const g: OnnxGraph = { name: "", nodes: [], initializers: [], inputs: [], outputs: [] };
  while (!r.done()) {
    const f = r.next();
    switch (f.field) {
      case 1:
        r.expect(f, WireType.bytes, "node");
        g.nodes.push(readNode(r.message("NodeProto")));
        break;
      case 2:
        r.expect(f, WireType.bytes, "name");
        g.name = r.string();
        break;
      case 5:
        r.expect(f, WireType.bytes, "initializer");
        g.initializers.push(readTensor(r.message("TensorProto")));
        break;
      case 11:
        r.expect(f, WireType.bytes, "input");
        g.inputs.push(readValueInfo(r.message("ValueInfoProto")));
        break;
      case 12:
        r.expect(f, WireType.bytes, "output");
        g.outputs.push(readValueInfo(r.message("ValueInfoProto")));
        break;
      default:
        r.skip(f.wire);
    }
  }
  return g;
}

/**
 * Parses the bytes of an `.onnx` file. Throws a {@linkcode ProtobufError} when the bytes are truncated or are
 * not a protocol-buffer message, and when the message lacks what every ONNX model has (a graph with nodes
 * and outputs, an operator set).
 */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  const r = new ProtoReader(bytes, 0, bytes.length, "ModelProto");
  const m: OnnxModel = {
    irVersion: 0,
    opsetImport: [],
    producerName: "",
    producerVersion: "",
    docString: "",
    graph: { name: "", nodes: [], initializers: [], inputs: [], outputs: [] },
    metadata: {},
  };
  let hasGraph = false;
  while (!r.done()) {
    const f = r.next();
    switch (f.field) {
      case 1:
        r.expect(f, WireType.varint, "ir_version");
        m.irVersion = r.varint();
        break;
      case 2:
        r.expect(f, WireType.bytes, "producer_name");
        m.producerName = r.string();
        break;
      case 3:
        r.expect(f, WireType.bytes, "producer_version");
        m.producerVersion = r.string();
        break;
      case 6:
        r.expect(f, WireType.bytes, "doc_string");
        m.docString = r.string();
        break;
      case 7:
        r.expect(f, WireType.bytes, "graph");
        m.graph = readGraph(r.message("GraphProto"));
        hasGraph = true;
        break;
      case 8: {
        r.expect(f, WireType.bytes, "opset_import");
        const o = r.message("OperatorSetIdProto");
        const entry = { domain: "", version: 0 };
        while (!o.done()) {
          const g = o.next();
          if (g.field === 1 && g.wire === WireType.bytes) entry.domain = o.string();
          else if (g.field === 2 && g.wire === WireType.varint) entry.version = o.varint();
          else o.skip(g.wire);
        }
        m.opsetImport.push(entry);
        break;
      }
      case 14: {
        r.expect(f, WireType.bytes, "metadata_props");
        const e = r.message("StringStringEntryProto");
        let key = "";
        let value = "";
        while (!e.done()) {
          const g = e.next();
          if (g.field === 1 && g.wire === WireType.bytes) key = e.string();
          else if (g.field === 2 && g.wire === WireType.bytes) value = e.string();
          else e.skip(g.wire);
        }
        m.metadata[key] = value;
        break;
      }
      default:
        r.skip(f.wire);
    }
  }
  if (!hasGraph) throw new ProtobufError("ModelProto: no graph (the file is truncated or not an ONNX model)");
  if (m.opsetImport.length === 0) {
    throw new ProtobufError("ModelProto: no opset_import (the file is truncated or not an ONNX model)");
  }
  if (m.graph.nodes.length === 0 || m.graph.outputs.length === 0) {
    throw new ProtobufError(
      "GraphProto: no nodes or no outputs (the file is truncated or not an ONNX model)",
    );
  }
  return m;
}

/** The version of the standard operator set a model imports (0 when it imports none). */
export function standardOpset(model: OnnxModel): number {
  return model.opsetImport.find((o) => o.domain === "" || o.domain === "ai.onnx")?.version ?? 0;
}
