/**
 * Long dataset constructions (an attack or an optimisation per training image) done chunk by chunk, so
 * that they can be interrupted and resumed: each finished chunk is written atomically to its own file and
 * then recorded in a manifest; a later run with the same configuration skips the recorded chunks. When all
 * chunks are done they are assembled into one dataset file, and later runs load that.
 * @module
 */
import { join } from "node:path";
import { canonicalJson } from "../config/cache.ts";
import { type Dataset, makeDataset } from "../data/dataset.ts";
import { exists, readJsonIfExists, writeFileAtomic } from "../util/fs.ts";
import { createProgress, type ProgressMode } from "../util/progress.ts";
import { loadDatasetFile, saveDataset } from "./file.ts";

/** What building one chunk produces. */
export interface ChunkResult {
  /** The chunk's images, [n, H, W, C] flattened. */
  images: Float32Array;
  /** The chunk's labels. */
  labels: Int32Array;
  /** Per-example numbers recorded with the images (e.g. attack success, a distance), n values each. */
  columns?: Record<string, ArrayLike<number>>;
}

/**
 * Builds the examples [start, end) as chunk number `chunk`, calling `progress(done)` with the number of
 * its examples finished so far. Must depend only on its arguments (not on earlier chunks), so that a
 * resumed construction equals an uninterrupted one.
 */
export type ChunkBuilder = (
  start: number,
  end: number,
  chunk: number,
  progress: (done: number) => void,
) => Promise<ChunkResult>;

/** Options of {@linkcode buildInChunks}. */
/** Options every chunked dataset construction takes. */
export interface ChunkedBuildOptions {
  /** Images per saved chunk. Default 1000. */
  chunkSize?: number;
  /** Folder of the resumable construction (see `buildInChunks`); absent: nothing is saved. */
  dir?: string;
  /** Identity of the model and the source data, recorded with the construction's settings. */
  source?: unknown;
  /** Stop (as if interrupted) once this many chunks are done. */
  stopAfterChunks?: number;
  /** Progress label. */
  label?: string;
  progress?: ProgressMode;
}

export interface ChunkedOptions {
  /** Name of the resulting dataset. */
  name: string;
  /** Image shape [H, W, C]. */
  shape: [number, number, number];
  /** Class names. */
  classes: string[];
  /** Number of examples. */
  total: number;
  /** Examples per chunk. Default 1000. */
  chunkSize?: number;
  /** Folder for the chunk files, the manifest and the assembled dataset; absent: built in memory only. */
  dir?: string;
  /** The construction's settings, recorded in the manifest; resuming with other settings is an error. */
  config?: unknown;
  /** Stop (as if interrupted) once this many chunks are done; used to test resuming. */
  stopAfterChunks?: number;
  /** Progress label. Default: `build <name>`. */
  label?: string;
  progress?: ProgressMode;
}

/** The outcome of {@linkcode buildInChunks}. */
export interface ChunkedBuild {
  /** The examples built so far: the whole dataset when `finished`. */
  dataset: Dataset;
  /** The per-example columns, concatenated over the chunks. */
  columns: Record<string, Float32Array>;
  /** Whether every chunk is done. */
  finished: boolean;
  /** Whether the assembled dataset was loaded from `dir` (nothing was built in this call). */
  fromCache: boolean;
  /** Chunks done, in total. */
  chunksDone: number;
  /** Chunks the construction has. */
  chunks: number;
  /** Chunks found done on disk when this call started. */
  resumedFrom: number;
  /** Seconds spent building, over all the calls that built this dataset. */
  seconds: number;
  /** Seconds each chunk took to build. */
  chunkSeconds: number[];
}

/** Bumped when the on-disk layout of a chunked construction changes. */
export const CHUNKED_VERSION = 1;

const MANIFEST = "manifest.json";
const ASSEMBLED = "dataset.ds";

interface Manifest {
  version: number;
  config: unknown;
  total: number;
  chunkSize: number;
  /** Chunks 0 .. done - 1 are on disk. */
  done: number;
  chunkSeconds: number[];
  complete: boolean;
}

function chunkFile(dir: string, k: number): string {
  return join(dir, `chunk-${String(k).padStart(5, "0")}.ds`);
}

function toColumns(meta: Record<string, unknown>, path: string): Record<string, number[]> {
  const cols = meta.columns;
  if (cols === undefined) return {};
  if (typeof cols !== "object" || cols === null) throw new Error(`${path}: bad columns in metadata`);
  return cols as Record<string, number[]>;
}

/**
 * Runs `build` over the chunks of a `total`-example construction and returns the assembled dataset. With
 * `dir`, every chunk is saved as it finishes and a rerun resumes after the last saved chunk (or loads the
 * finished dataset); the result equals that of an uninterrupted run.
 *
 * @example
 * ```ts ignore
 * const built = await buildInChunks({ name: "copy", shape: [28, 28, 1], classes, total: 5000, dir },
 *   async (start, end) => ({ images: src.images.slice(start * 784, end * 784), labels: src.labels.slice(start, end) }));
 * ```
 */
export async function buildInChunks(options: ChunkedOptions, build: ChunkBuilder): Promise<ChunkedBuild> {
  const { total, shape, classes, dir } = options;
  const chunkSize = options.chunkSize ?? 1000;
  if (!Number.isInteger(total) || total < 1) {
    throw new RangeError(`buildInChunks: total must be a positive integer, got ${total}`);
  }
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new RangeError(`buildInChunks: chunkSize must be a positive integer, got ${chunkSize}`);
  }
  const chunks = Math.ceil(total / chunkSize);
  const per = shape[0] * shape[1] * shape[2];
  const config = options.config ?? null;
  const fresh: Manifest = {
    version: CHUNKED_VERSION,
    config,
    total,
    chunkSize,
    done: 0,
    chunkSeconds: [],
    complete: false,
  };
  let manifest = fresh;
  if (dir) {
    const saved = await readJsonIfExists<Manifest>(join(dir, MANIFEST));
    if (saved) {
      const same = saved.version === CHUNKED_VERSION && saved.total === total &&
        saved.chunkSize === chunkSize && canonicalJson(saved.config) === canonicalJson(config);
      if (!same) {
        throw new Error(
          `${dir} holds a construction with other settings (${
            canonicalJson({ total: saved.total, chunkSize: saved.chunkSize, config: saved.config })
          }): remove the folder or use another one`,
        );
      }
      manifest = saved;
      if (saved.complete && await exists(join(dir, ASSEMBLED))) {
        const { dataset, meta } = await loadDatasetFile(join(dir, ASSEMBLED));
        const columns = Object.fromEntries(
          Object.entries(toColumns(meta, join(dir, ASSEMBLED))).map(([k, v]) => [k, Float32Array.from(v)]),
        );
        return {
          dataset,
          columns,
          finished: true,
          fromCache: true,
          chunksDone: chunks,
          chunks,
          resumedFrom: chunks,
          seconds: saved.chunkSeconds.reduce((a, b) => a + b, 0),
          chunkSeconds: saved.chunkSeconds,
        };
      }
      if (saved.complete) manifest = { ...saved, complete: false };
    }
  }

  const images = new Float32Array(total * per);
  const labels = new Int32Array(total);
  const columns: Record<string, Float32Array> = {};
  const store = (k: number, part: ChunkResult) => {
    const start = k * chunkSize;
    const n = Math.min(total, start + chunkSize) - start;
    if (part.images.length !== n * per || part.labels.length !== n) {
      throw new RangeError(
        `${options.name}: chunk ${k} holds ${part.labels.length} labels and ${part.images.length} pixels, expected ${n} images of ${per}`,
      );
    }
    images.set(part.images, start * per);
    labels.set(part.labels, start);
    for (const [key, values] of Object.entries(part.columns ?? {})) {
      if (values.length !== n) {
        throw new RangeError(`${options.name}: column ${key} of chunk ${k} has ${values.length} values`);
      }
      columns[key] ??= new Float32Array(total);
      columns[key].set(values, start);
    }
  };

  // Chunks recorded as done are read back; a missing one is rebuilt from there on.
  let done = 0;
  if (dir) {
    while (done < manifest.done && await exists(chunkFile(dir, done))) {
      const { dataset, meta } = await loadDatasetFile(chunkFile(dir, done));
      store(done, {
        images: dataset.images,
        labels: dataset.labels,
        columns: toColumns(meta, chunkFile(dir, done)),
      });
      done++;
    }
  }
  const resumedFrom = done;
  const chunkSeconds = manifest.chunkSeconds.slice(0, done);
  const stopAt = Math.min(chunks, options.stopAfterChunks ?? chunks);
  const progress = createProgress({
    label: options.label ?? `build ${options.name}`,
    total,
    unit: "images",
    mode: options.progress,
  });
  progress.update(Math.min(total, done * chunkSize), done > 0 ? `resumed after ${done} chunk(s)` : undefined);
  for (let k = done; k < stopAt; k++) {
    const start = k * chunkSize;
    const end = Math.min(total, start + chunkSize);
    const t0 = performance.now();
    const part = await build(start, end, k, (d) => progress.update(start + d, `chunk ${k + 1}/${chunks}`));
    store(k, part);
    chunkSeconds.push((performance.now() - t0) / 1000);
    done = k + 1;
    if (dir) {
      const chunk = makeDataset(
        `${options.name} chunk ${k}`,
        images.subarray(start * per, end * per),
        labels.subarray(start, end),
        shape,
        classes,
      );
      const cols = Object.fromEntries(
        Object.entries(columns).map(([key, v]) => [key, Array.from(v.subarray(start, end))]),
      );
      await saveDataset(chunkFile(dir, k), chunk, { columns: cols });
      manifest = { ...manifest, done, chunkSeconds: chunkSeconds.slice() };
      await writeFileAtomic(join(dir, MANIFEST), JSON.stringify(manifest, null, 1));
    }
  }
  const finished = done === chunks;
  await progress.finish(finished ? undefined : `stopped after ${done}/${chunks} chunks`);
  const n = Math.min(total, done * chunkSize);
  const dataset = makeDataset(
    options.name,
    images.subarray(0, n * per),
    labels.subarray(0, n),
    shape,
    classes,
  );
  const outColumns = Object.fromEntries(Object.entries(columns).map(([k, v]) => [k, v.subarray(0, n)]));
  if (dir && finished) {
    const cols = Object.fromEntries(Object.entries(outColumns).map(([k, v]) => [k, Array.from(v)]));
    await saveDataset(join(dir, ASSEMBLED), dataset, { columns: cols, config });
    await writeFileAtomic(join(dir, MANIFEST), JSON.stringify({ ...manifest, complete: true }, null, 1));
    for (let k = 0; k < chunks; k++) await Deno.remove(chunkFile(dir, k)).catch(() => {});
  }
  return {
    dataset,
    columns: outColumns,
    finished,
    fromCache: false,
    chunksDone: done,
    chunks,
    resumedFrom,
    seconds: chunkSeconds.reduce((a, b) => a + b, 0),
    chunkSeconds,
  };
}
