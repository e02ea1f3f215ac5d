/**
 * The protocol-buffer wire format, as much of it as ONNX files use: varints, 32- and 64-bit fixed fields
 * and length-delimited fields (strings, bytes, nested messages, packed repeated scalars).
 *
 * The writer keeps large byte fields (tensor data) by reference and copies them once, when the message is
 * finished. The reader returns views into the input and checks every length against the bytes that remain,
 * so a truncated or corrupt file is a {@linkcode ProtobufError} that says where it broke, never a silent
 * misread.
 * @module
 */

/** Wire types of the protocol-buffer encoding. */
export const WireType = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;

/** Malformed or truncated protocol-buffer data. */
export class ProtobufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtobufError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/** Builds one protocol-buffer message. Nested messages are writers of their own, appended with {@linkcode ProtoWriter.message}. */
export class ProtoWriter {
  #parts: Uint8Array[] = [];
  #scratch = new Uint8Array(256);
  #used = 0;
  #length = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  #flush(): void {
    if (this.#used > 0) {
      this.#parts.push(this.#scratch.slice(0, this.#used));
      this.#used = 0;
    }
  }

  #byte(b: number): void {
    if (this.#used === this.#scratch.length) this.#flush();
    this.#scratch[this.#used++] = b;
    this.#length++;
  }

  #raw(bytes: Uint8Array): void {
    if (bytes.length <= 64) {
      for (const b of bytes) this.#byte(b);
      return;
    }
    this.#flush();
    this.#parts.push(bytes);
    this.#length += bytes.length;
  }

  /** An unsigned varint; negative values are written as 64-bit two's complement (ten bytes), as int64 fields are. */
  varint(value: number | bigint): this {
    if (typeof value === "number" && value >= 0 && value <= 0xffffffff && Number.isInteger(value)) {
      let v = value;
      while (v > 0x7f) {
        this.#byte((v & 0x7f) | 0x80);
        v = Math.floor(v / 128);
      }
      this.#byte(v);
      return this;
    }
    if (typeof value === "number" && !Number.isSafeInteger(value)) {
      throw new ProtobufError(`cannot write ${value} as a varint: not a safe integer`);
    }
    let v = BigInt.asUintN(64, BigInt(value));
    while (v > 0x7fn) {
      this.#byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.#byte(Number(v));
    return this;
  }

  /** A field key: field number and wire type. */
  key(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  /** An integer field (int32, int64, enum, bool as 0/1). */
  int(field: number, value: number): this {
    return this.key(field, WireType.varint).varint(value);
  }

  /** A float (32-bit) field. */
  float(field: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.key(field, WireType.fixed32);
    for (const x of b) this.#byte(x);
    return this;
  }

  /** A bytes field; the data is kept by reference until {@linkcode ProtoWriter.finish}. */
  bytes(field: number, data: Uint8Array): this {
    this.key(field, WireType.bytes).varint(data.length);
    this.#raw(data);
    return this;
  }

  /** A UTF-8 string field. */
  string(field: number, value: string): this {
    return this.bytes(field, encoder.encode(value));
  }

  /** A nested message field. */
  message(field: number, sub: ProtoWriter): this {
    this.key(field, WireType.bytes).varint(sub.length);
    this.#flush();
    sub.#flush();
    this.#parts.push(...sub.#parts);
    this.#length += sub.length;
    return this;
  }

  /** The message as one byte array. */
  finish(): Uint8Array {
    this.#flush();
    const out = new Uint8Array(this.#length);
    let off = 0;
    for (const p of this.#parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

/** One field read by {@linkcode ProtoReader.next}. */
export interface ProtoField {
  field: number;
  wire: number;
  /** Byte offset of the field's key in the whole input. */
  at: number;
}

/** Reads one protocol-buffer message (a view of `bytes` from `start` to `end`). */
export class ProtoReader {
  pos: number;
  readonly end: number;

  /** `what` names the message in error messages, e.g. "ModelProto.graph". */
  constructor(readonly bytes: Uint8Array, start = 0, end = bytes.length, readonly what = "message") {
    this.pos = start;
    this.end = end;
  }

  /** Whether the message is fully read. */
  done(): boolean {
    return this.pos >= this.end;
  }

  #fail(detail: string): never {
    throw new ProtobufError(`${this.what}: ${detail} (byte ${this.pos} of ${this.bytes.length})`);
  }

  /** Reads the next field key. */
  next(): ProtoField {
    const at = this.pos;
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) this.#fail("field number 0 is invalid: the data is corrupt");
    if (wire === 3 || wire === 4 || wire > 5) this.#fail(`unsupported wire type ${wire} for field ${field}`);
    return { field, wire, at };
  }

  /** A varint, as a number; 64-bit negative values (int64 two's complement) come back negative. */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.#fail("truncated: the data ends inside a varint");
      const b = this.bytes[this.pos++];
      if (i < 7) {
        result += (b & 0x7f) * scale;
        scale *= 128;
        if (b < 0x80) return result;
      } else {
        // Past 49 bits: finish in BigInt so that int64 values such as -1 keep their sign.
        let big = BigInt(result) + (BigInt(b & 0x7f) << 49n);
        let shift = 56n;
        let last = b;
        while (last >= 0x80) {
          if (shift > 63n) this.#fail("varint longer than 10 bytes: the data is corrupt");
          if (this.pos >= this.end) this.#fail("truncated: the data ends inside a varint");
          last = this.bytes[this.pos++];
          big += BigInt(last & 0x7f) << shift;
          shift += 7n;
        }
        return Number(BigInt.asIntN(64, big));
      }
    }
    this.#fail("varint longer than 10 bytes: the data is corrupt");
  }

  /** A little-endian 32-bit float. */
  float(): number {
    if (this.end - this.pos < 4) this.#fail("truncated: the data ends inside a 32-bit field");
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  /** A little-endian 64-bit float. */
  double(): number {
    if (this.end - this.pos < 8) this.#fail("truncated: the data ends inside a 64-bit field");
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  /** A length-delimited field's bytes, as a view into the input. */
  bytesField(): Uint8Array {
    const start = this.pos;
    const n = this.varint();
    if (n < 0 || n > this.end - this.pos) {
      const left = this.end - this.pos;
      this.pos = start;
      this.#fail(`truncated: a field claims ${n} bytes but only ${left} remain`);
    }
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A UTF-8 string field. */
  string(): string {
    return decoder.decode(this.bytesField());
  }

  /** A reader for a nested message field. */
  message(what: string): ProtoReader {
    const view = this.bytesField();
    return new ProtoReader(
      this.bytes,
      view.byteOffset - this.bytes.byteOffset,
      view.byteOffset - this.bytes.byteOffset + view.length,
      what,
    );
  }

  /** Skips a field of the given wire type. */
  skip(wire: number): void {
    switch (wire) {
      case WireType.varint:
        this.varint();
        return;
      case WireType.fixed64:
        if (this.end - this.pos < 8) this.#fail("truncated: the data ends inside a 64-bit field");
        this.pos += 8;
        return;
      case WireType.bytes:
        this.bytesField();
        return;
      case WireType.fixed32:
        if (this.end - this.pos < 4) this.#fail("truncated: the data ends inside a 32-bit field");
        this.pos += 4;
        return;
      default:
        this.#fail(`cannot skip wire type ${wire}`);
    }
  }

  /** Appends the values of a repeated integer field, packed or not, to `out`. */
  repeatedInt(wire: number, out: number[]): void {
    if (wire === WireType.bytes) {
      const sub = this.message(this.what);
      while (!sub.done()) out.push(sub.varint());
    } else if (wire === WireType.varint) {
      out.push(this.varint());
    } else {
      this.#fail(`expected an integer field, got wire type ${wire}`);
    }
  }

  /** Appends the values of a repeated float field, packed or not, to `out`. */
  repeatedFloat(wire: number, out: number[]): void {
    if (wire === WireType.bytes) {
      const sub = this.message(this.what);
      while (!sub.done()) out.push(sub.float());
    } else if (wire === WireType.fixed32) {
      out.push(this.float());
    } else {
      this.#fail(`expected a float field, got wire type ${wire}`);
    }
  }

  /** Appends the values of a repeated double field, packed or not, to `out`. */
  repeatedDouble(wire: number, out: number[]): void {
    if (wire === WireType.bytes) {
      const sub = this.message(this.what);
      while (!sub.done()) out.push(sub.double());
    } else if (wire === WireType.fixed64) {
      out.push(this.double());
    } else {
      this.#fail(`expected a double field, got wire type ${wire}`);
    }
  }

  /** Fails unless the field has the expected wire type. */
  expect(f: ProtoField, wire: number, name: string): void {
    if (f.wire !== wire) {
      throw new ProtobufError(
        `${this.what}.${name}: wire type ${f.wire} where ${wire} was expected (byte ${f.at}): the data is corrupt`,
      );
    }
  }
}
