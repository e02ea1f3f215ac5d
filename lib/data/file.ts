/**
 * Datasets as files: constructed datasets hold float pixels (an attack moves them by less than one grey
 * level), so they are stored exactly, as float32, rather than as the byte-valued IDX of MNIST. One file: an
 * 8-byte prefix (the header length, little-endian), a JSON header (magic, name, count, shape, classes and
 * free metadata), padding to 4 bytes, the images as float32 [N, H, W, C], then the labels as int32 [N].
 * @module
 */
import { type Dataset, makeDataset, pixelsPerImage, size } from "../data/dataset.ts";
import { writeFileAtomic } from "../util/fs.ts";

/** The file name of a dataset inside its artifact in the store. */
export const DATASET_FILE = "dataset.ds";

/** The magic string of a dataset file. */
export const DATASET_FILE_MAGIC = "ADVEXDS1";

/** Thrown for a missing or malformed dataset file; the message names the file and what is wrong. */
export class DatasetFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatasetFileError";
  }
}

interface Header {
  magic: string;
  name: string;
  count: number;
  shape: [number, number, number];
  classes: string[];
  meta: Record<string, unknown>;
}

/** A dataset read back from a file, with the metadata stored alongside it. */
export interface DatasetFile {
  dataset: Dataset;
  meta: Record<string, unknown>;
}

/** Encodes `ds` (and JSON-serialisable `meta`) as the bytes of a dataset file. */
export function encodeDataset(ds: Dataset, meta: Record<string, unknown> = {}): Uint8Array {
  const n = size(ds);
  const per = pixelsPerImage(ds);
  if (ds.images.length !== n * per) {
    throw new RangeError(
      `encodeDataset: ${ds.name} has ${ds.images.length} pixels for ${n} images of ${per}`,
    );
  }
  const header: Header = {
    magic: DATASET_FILE_MAGIC,
    name: ds.name,
    count: n,
    shape: ds.shape,
    classes: ds.classes,
    meta,
  };
  const head = new TextEncoder().encode(JSON.stringify(header));
  const offset = Math.ceil((8 + head.length) / 4) * 4;
  const out = new Uint8Array(offset + 4 * n * per + 4 * n);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 8);
  new Float32Array(out.buffer, offset, n * per).set(ds.images);
  new Int32Array(out.buffer, offset + 4 * n * per, n).set(ds.labels);
  return out;
}

/** Decodes the bytes of a dataset file (`name` is used in error messages). */
export function decodeDataset(bytes: Uint8Array, name = "dataset file"): DatasetFile {
  if (bytes.length < 8) {
    throw new DatasetFileError(`${name}: too short to be a dataset file (${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headLength = view.getUint32(0, true);
  if (8 + headLength > bytes.length) {
    throw new DatasetFileError(`${name}: not a dataset file (header length ${headLength} exceeds the file)`);
  }
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headLength)));
  } catch {
    throw new DatasetFileError(`${name}: not a dataset file (its header is not JSON)`);
  }
  if (header?.magic !== DATASET_FILE_MAGIC) {
    throw new DatasetFileError(`${name}: not a dataset file (magic ${JSON.stringify(header?.magic)})`);
  }
  const { count, shape, classes } = header;
  const shapeOk = Array.isArray(shape) && shape.length === 3 &&
    shape.every((d) => Number.isInteger(d) && d > 0);
  if (!Number.isInteger(count) || count < 0 || !shapeOk || !Array.isArray(classes) || classes.length < 1) {
    throw new DatasetFileError(
      `${name}: bad header (count ${count}, shape ${JSON.stringify(shape)}, ${classes?.length} classes)`,
    );
  }
  const per = shape[0] * shape[1] * shape[2];
  const offset = Math.ceil((8 + headLength) / 4) * 4;
  const expected = offset + 4 * count * per + 4 * count;
  if (bytes.length !== expected) {
    throw new DatasetFileError(
      `${name}: header promises ${count} images of ${
        shape.join("x")
      } (${expected} bytes) but the file has ${bytes.length}`,
    );
  }
  // Copy into fresh, aligned buffers (the input may sit at any byte offset).
  const body = bytes.slice(offset);
  const images = new Float32Array(body.buffer, 0, count * per);
  const labels = new Int32Array(body.buffer, 4 * count * per, count);
  try {
    return { dataset: makeDataset(header.name, images, labels, shape, classes), meta: header.meta ?? {} };
  } catch (e) {
    throw new DatasetFileError(`${name}: ${(e as Error).message}`);
  }
}

/** Saves `ds` (with `meta`) to `path`, atomically: an interrupted save never leaves a partial file there. */
export async function saveDataset(
  path: string,
  ds: Dataset,
  meta: Record<string, unknown> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeDataset(ds, meta));
}

/** Loads a dataset saved with {@linkcode saveDataset}; a missing or malformed file is a {@linkcode DatasetFileError}. */
export async function loadDatasetFile(path: string): Promise<DatasetFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DatasetFileError(`dataset file ${path} does not exist`);
    throw e;
  }
  return decodeDataset(bytes, path);
}
