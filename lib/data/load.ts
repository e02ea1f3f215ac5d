/**
 * Loading MNIST and Fashion-MNIST from their IDX files, verifying each file's SHA-256 before use.
 * @module
 */
import { join } from "node:path";
import { sha256Hex } from "../store/key.ts";
import { type Dataset, makeDataset } from "./dataset.ts";
import { parseIdx } from "./idx.ts";
import { type DataFile, type DatasetName, DATASETS } from "./sources.ts";

/** Thrown when a data file is missing or does not match its checksum; the message names the file and the fix. */
export class DataFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DataFileError";
  }
}

/** Options of {@linkcode loadDataset}. */
export interface LoadOptions {
  /** Folder holding the files instead of the default one. */
  dir?: string;
  /** Skip the checksum (only for files you made yourself, e.g. in tests). Default false. */
  skipChecksum?: boolean;
}

const memo = new Map<string, Dataset>();

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Reads one data file, checks its SHA-256 and decompresses it when it ends in `.gz`. */
export async function readDataFile(
  dir: string,
  file: DataFile,
  hint: string,
  skipChecksum = false,
): Promise<Uint8Array> {
  const path = join(dir, file.file);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DataFileError(`data file ${path} is missing. ${hint}`);
    throw e;
  }
  if (!skipChecksum) {
    const actual = await sha256Hex(bytes);
    if (actual !== file.sha256) {
      throw new DataFileError(
        `data file ${path} is corrupt: its SHA-256 is ${actual}, expected ${file.sha256}. ${hint}`,
      );
    }
  }
  if (file.file.endsWith(".gz")) {
    try {
      bytes = await gunzip(bytes);
    } catch (e) {
      throw new DataFileError(`data file ${path} is not valid gzip (${(e as Error).message}). ${hint}`);
    }
  }
  return bytes;
}

/**
 * Loads a whole split of MNIST or Fashion-MNIST: images as floats in [0, 1] shaped [N, 28, 28, 1] and integer
 * labels. Checksums are verified on first load; results are memoised per process.
 *
 * @example
 * ```ts
 * import { loadDataset } from "./load.ts";
 * const train = await loadDataset("mnist", "train"); // 60,000 images
 * ```
 */
export async function loadDataset(
  name: DatasetName,
  split: "train" | "test",
  options: LoadOptions = {},
): Promise<Dataset> {
  const source = DATASETS[name];
  if (!source) {
    throw new DataFileError(`unknown dataset "${name}"; known: ${Object.keys(DATASETS).join(", ")}`);
  }
  if (split !== "train" && split !== "test") {
    throw new DataFileError(`unknown split "${split}"; use "train" or "test"`);
  }
  const dir = options.dir ?? source.dir;
  const key = `${name}|${split}|${dir}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const files = source[split];
  const [imgBytes, lblBytes] = await Promise.all([
    readDataFile(dir, files.images, source.restoreHint, options.skipChecksum),
    readDataFile(dir, files.labels, source.restoreHint, options.skipChecksum),
  ]);
  const img = parseIdx(imgBytes, join(dir, files.images.file));
  const lbl = parseIdx(lblBytes, join(dir, files.labels.file));
  if (img.dims.length !== 3) {
    throw new DataFileError(`${files.images.file}: expected 3 dims, got ${img.dims.length}`);
  }
  if (lbl.dims.length !== 1 || lbl.dims[0] !== img.dims[0]) {
    throw new DataFileError(`${files.labels.file}: ${lbl.dims[0]} labels for ${img.dims[0]} images`);
  }
  const images = new Float32Array(img.data.length);
  for (let i = 0; i < img.data.length; i++) images[i] = img.data[i] / 255;
  const labels = Int32Array.from(lbl.data);
  const ds = makeDataset(`${name}/${split}`, images, labels, [img.dims[1], img.dims[2], 1], source.classes);
  memo.set(key, ds);
  return ds;
}
