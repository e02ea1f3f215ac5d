/**
 * Saving and loading model weights as one binary blob: a JSON header (shapes, in the model's weight order)
 * followed by the float32 values. Order-based, so a model rebuilt from the same spec loads it whatever
 * names tfjs gave its layers.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

const MAGIC = "ADVEXW1";

/** Packs tensors (their shapes and float32 values) into bytes. */
export function packTensors(tensors: tf.Tensor[], meta: Record<string, unknown> = {}): Uint8Array {
  const header = new TextEncoder().encode(
    JSON.stringify({ magic: MAGIC, shapes: tensors.map((t) => t.shape), meta }),
  );
  const total = tensors.reduce((n, t) => n + t.size, 0);
  const padded = Math.ceil((8 + header.length) / 4) * 4;
  const out = new Uint8Array(padded + 4 * total);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 8);
  const floats = new Float32Array(out.buffer, padded, total);
  let off = 0;
  for (const t of tensors) {
    floats.set(t.dataSync() as Float32Array, off);
    off += t.size;
  }
  return out;
}

/** Unpacks bytes made by {@linkcode packTensors} into shapes, values and metadata. */
export function unpackTensors(
  bytes: Uint8Array,
  name = "weights",
): { shapes: number[][]; values: Float32Array[]; meta: Record<string, unknown> } {
  if (bytes.length < 8) throw new Error(`${name}: too short to hold advex weights`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = view.getUint32(0, true);
  let header: { magic: string; shapes: number[][]; meta: Record<string, unknown> };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)));
  } catch {
    throw new Error(`${name}: not an advex weights file (bad header)`);
  }
  if (header.magic !== MAGIC) throw new Error(`${name}: not an advex weights file (magic ${header.magic})`);
  const padded = Math.ceil((8 + hlen) / 4) * 4;
  const total = header.shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  if (bytes.length !== padded + 4 * total) {
    throw new Error(`${name}: truncated (expected ${padded + 4 * total} bytes)`);
  }
  const all = new Float32Array(bytes.slice(padded).buffer);
  const values: Float32Array[] = [];
  let off = 0;
  for (const s of header.shapes) {
    const n = s.reduce((a, b) => a * b, 1);
    values.push(all.subarray(off, off + n));
    off += n;
  }
  return { shapes: header.shapes, values, meta: header.meta };
}

/** The model's weights (trainable and not, e.g. batch-norm statistics) as bytes. */
export function serializeWeights(model: tf.LayersModel, meta: Record<string, unknown> = {}): Uint8Array {
  return packTensors(model.weights.map((w) => w.read()), meta);
}

/** Loads bytes from {@linkcode serializeWeights} into `model`, checking every shape. */
export function loadWeightsInto(
  model: tf.LayersModel,
  bytes: Uint8Array,
  name = "weights",
): Record<string, unknown> {
  const { shapes, values, meta } = unpackTensors(bytes, name);
  const ws = model.weights;
  if (ws.length !== shapes.length) {
    throw new Error(`${name}: holds ${shapes.length} tensors, model has ${ws.length}`);
  }
  const tensors = ws.map((w, i) => {
    if (w.shape.join("x") !== shapes[i].join("x")) {
      throw new Error(
        `${name}: tensor ${i} has shape ${shapes[i].join("x")}, model expects ${w.shape.join("x")}`,
      );
    }
    return tf.tensor(values[i], shapes[i]);
  });
  model.setWeights(tensors);
  tf.dispose(tensors);
  return meta;
}
