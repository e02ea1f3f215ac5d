/**
 * Tensor values in ONNX files: building float and int64 tensors, and reading a tensor's elements whichever
 * field of `TensorProto` holds them.
 * @module
 */
import { DataType, type OnnxTensor } from "./model_proto.ts";

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A float32 tensor (raw little-endian data). */
export function floatTensor(name: string, dims: number[], values: Float32Array | number[]): OnnxTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  if (values.length !== n) {
    throw new RangeError(`floatTensor(${name}): ${values.length} values for dims [${dims}] (${n} elements)`);
  }
  const data = new Float32Array(values);
  const raw = new Uint8Array(data.buffer);
  if (!littleEndian) swapBytes(raw, 4);
  return { name, dims: [...dims], dataType: DataType.float, rawData: raw };
}

/** An int64 tensor (raw little-endian data), e.g. the shape input of Reshape or the pads of Pad. */
export function int64Tensor(name: string, dims: number[], values: number[]): OnnxTensor {
  const data = new BigInt64Array(values.map((v) => BigInt(v)));
  const raw = new Uint8Array(data.buffer);
  if (!littleEndian) swapBytes(raw, 8);
  return { name, dims: [...dims], dataType: DataType.int64, rawData: raw };
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/** Number of elements of a tensor. */
export function elementCount(t: OnnxTensor): number {
  return t.dims.reduce((a, b) => a * b, 1);
}

function rawView(t: OnnxTensor, width: number): DataView {
  const raw = t.rawData!;
  const n = elementCount(t);
  if (raw.length !== n * width) {
    throw new RangeError(
      `tensor ${t.name || "(unnamed)"}: raw_data holds ${raw.length} bytes, dims [${t.dims}] need ${
        n * width
      }`,
    );
  }
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** The elements of a numeric tensor as float32 (integers and doubles are converted). */
export function tensorToFloat32(t: OnnxTensor): Float32Array {
  if (t.external) {
    throw new Error(
      `tensor ${t.name}: its data is stored in an external file, which advex does not read; save the model with all tensors inside the .onnx file`,
    );
  }
  const n = elementCount(t);
  const check = (got: number, field: string) => {
    if (got !== n) {
      throw new RangeError(`tensor ${t.name}: ${field} holds ${got} values, dims [${t.dims}] need ${n}`);
    }
  };
  if (t.rawData !== undefined) {
    const out = new Float32Array(n);
    switch (t.dataType) {
      case DataType.float: {
        const v = rawView(t, 4);
        if (littleEndian) return new Float32Array(t.rawData.slice().buffer);
        for (let i = 0; i < n; i++) out[i] = v.getFloat32(4 * i, true);
        return out;
      }
      case DataType.double: {
        const v = rawView(t, 8);
        for (let i = 0; i < n; i++) out[i] = v.getFloat64(8 * i, true);
        return out;
      }
      case DataType.float16: {
        const v = rawView(t, 2);
        for (let i = 0; i < n; i++) out[i] = halfToFloat(v.getUint16(2 * i, true));
        return out;
      }
      case DataType.int64: {
        const v = rawView(t, 8);
        for (let i = 0; i < n; i++) out[i] = Number(v.getBigInt64(8 * i, true));
        return out;
      }
      case DataType.int32: {
        const v = rawView(t, 4);
        for (let i = 0; i < n; i++) out[i] = v.getInt32(4 * i, true);
        return out;
      }
      case DataType.uint8:
      case DataType.bool: {
        const v = rawView(t, 1);
        for (let i = 0; i < n; i++) out[i] = v.getUint8(i);
        return out;
      }
      case DataType.int8: {
        const v = rawView(t, 1);
        for (let i = 0; i < n; i++) out[i] = v.getInt8(i);
        return out;
      }
    }
    throw new RangeError(`tensor ${t.name}: unsupported element type ${t.dataType}`);
  }
  if (t.floatData) {
    check(t.floatData.length, "float_data");
    return new Float32Array(t.floatData);
  }
  if (t.doubleData) {
    check(t.doubleData.length, "double_data");
    return new Float32Array(t.doubleData);
  }
  if (t.int64Data) {
    check(t.int64Data.length, "int64_data");
    return new Float32Array(t.int64Data);
  }
  if (t.int32Data) {
    check(t.int32Data.length, "int32_data");
    if (t.dataType === DataType.float16) return new Float32Array(t.int32Data.map(halfToFloat));
    return new Float32Array(t.int32Data);
  }
  if (n === 0) return new Float32Array(0);
  throw new RangeError(`tensor ${t.name}: holds no data`);
}

/** The elements of an integer tensor (such as a Reshape shape) as numbers. */
export function tensorToInts(t: OnnxTensor): number[] {
  if (t.rawData !== undefined && t.dataType === DataType.int64) {
    const v = rawView(t, 8);
    return Array.from({ length: elementCount(t) }, (_, i) => Number(v.getBigInt64(8 * i, true)));
  }
  if (t.int64Data && t.rawData === undefined) return [...t.int64Data];
  return Array.from(tensorToFloat32(t), (x) => Math.round(x));
}

/**
 * Permutes the axes of a row-major array, like a transpose: axis `i` of the result is axis `perm[i]` of the
 * input. Plain loops, used for weights at export and import (faster and more predictable there than a
 * backend's transpose kernel).
 */
export function permuteAxes(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const rank = shape.length;
  if (perm.length !== rank || [...perm].sort().some((p, i) => p !== i)) {
    throw new RangeError(`permuteAxes: [${perm}] is not a permutation of ${rank} axes`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new RangeError(`permuteAxes: ${data.length} values for shape [${shape}]`);
  const strides = new Array(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  const outShape = perm.map((p) => shape[p]);
  const inStride = perm.map((p) => strides[p]);
  const out = new Float32Array(n);
  const idx = new Array(rank).fill(0);
  let src = 0;
  for (let o = 0; o < n; o++) {
    out[o] = data[src];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      src += inStride[d];
      if (idx[d] < outShape[d]) break;
      src -= inStride[d] * outShape[d];
      idx[d] = 0;
    }
  }
  return out;
}
