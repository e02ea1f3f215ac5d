/**
 * The IDX file format of MNIST and Fashion-MNIST: a magic number giving the element type and the number of
 * dimensions, the dimensions as big-endian 32-bit integers, then the data.
 * @module
 */

/** A parsed IDX file of unsigned bytes. */
export interface IdxArray {
  /** The dimensions, e.g. [60000, 28, 28] for images or [60000] for labels. */
  dims: number[];
  /** The elements in row-major order. */
  data: Uint8Array;
}

/** Thrown for a malformed IDX file; the message names the file. */
export class IdxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IdxFormatError";
  }
}

/**
 * Parses an uncompressed IDX file holding unsigned bytes (type code 0x08).
 *
 * @param bytes the file's bytes
 * @param name the file's name, used in error messages
 */
export function parseIdx(bytes: Uint8Array, name = "IDX file"): IdxArray {
  if (bytes.length < 8) {
    throw new IdxFormatError(`${name}: too short to be an IDX file (${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== 0) {
    throw new IdxFormatError(`${name}: bad IDX magic number (first two bytes not zero)`);
  }
  const type = bytes[2];
  if (type !== 0x08) {
    throw new IdxFormatError(
      `${name}: IDX element type 0x${type.toString(16)} is not supported (expected 0x08, ubyte)`,
    );
  }
  const rank = bytes[3];
  if (rank < 1 || rank > 4) throw new IdxFormatError(`${name}: IDX rank ${rank} is out of range 1..4`);
  const headerSize = 4 + 4 * rank;
  if (bytes.length < headerSize) throw new IdxFormatError(`${name}: truncated IDX header`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== headerSize + count) {
    throw new IdxFormatError(
      `${name}: IDX header promises ${count} elements (dims ${dims.join("x")}) but the file holds ${
        bytes.length - headerSize
      }`,
    );
  }
  return { dims, data: bytes.subarray(headerSize) };
}

/** Encodes unsigned bytes as an IDX file (used by tests and dataset exports). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`encodeIdx: dims ${dims.join("x")} do not match ${data.length} bytes`);
  }
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
