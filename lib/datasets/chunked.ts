/**
 * Long dataset constructions (an attack or an optimisation per training image) done chunk by chunk, so
 * that they can be interrupted and resumed: each finished chunk is committed as a unit of its own (see
 * lib/store), and a later run with the same configuration reads the committed chunks back and builds only
 * the rest. When all chunks are done they are assembled into one dataset artifact, verified on every load,
 * and the chunks are removed.
 * @module
 */
import { join } from "node:path";
import { type Dataset, makeDataset, size } from "../data/dataset.ts";
import { withOrigin } from "../data/spec.ts";
import { canonicalJson } from "../store/key.ts";
import {
  type ArtifactRef,
  commitArtifact,
  partialSlots,
  readArtifact,
  readVerifiedUnit,
  type UnitSlots,
  unitSlots,
} from "../store/store.ts";
import { commitUnit, type LoadedUnit, unitFile, unitJson } from "../store/unit.ts";
import { createProgress, type ProgressMode } from "../util/progress.ts";
import { DATASET_FILE, type DatasetFile, decodeDataset, encodeDataset } from "../data/file.ts";

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
  /** The artifact the construction is committed as (chunks kept as partial units until then). */
  artifact?: ArtifactRef;
  /** A folder of the caller's for the finished unit (`<dir>`) and the chunks (`<dir>.partial`), instead. */
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
  /** The artifact the construction is committed as; chunks are partial units until it is whole. */
  artifact?: ArtifactRef;
  /** Instead of `artifact`, a folder of the caller's: the dataset unit at `dir`, chunks in `<dir>.partial`. */
  dir?: string;
  /** The construction's settings, recorded in the manifest; resuming with other settings is an error. */
  config?: unknown;
  /** Stop (as if interrupted) once this many chunks are done; used to test resuming. */
  stopAfterChunks?: number;
  /** Progress label. Default: `build <name>`. */
  label?: string;
  progress?: ProgressMode;
}

/**
 * The options of {@linkcode buildInChunks} for a construction from `source`: its shape and classes, the
 * caller's chunking, storage, stop and progress options, `total` examples and the recorded `config`.
 */
export function chunkedFrom(
  source: { shape: [number, number, number]; classes: string[] },
  options: ChunkedBuildOptions,
  build: { name: string; total: number; config: unknown; label: string },
): ChunkedOptions {
  return {
    name: build.name,
    shape: source.shape,
    classes: source.classes,
    total: build.total,
    chunkSize: options.chunkSize,
    artifact: options.artifact,
    dir: options.dir,
    config: build.config,
    stopAfterChunks: options.stopAfterChunks,
    label: options.label ?? build.label,
    progress: options.progress,
  };
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
export const CHUNKED_VERSION = 2;

/** The file of one chunk inside its committed unit. */
const CHUNK_FILE = "chunk.ds";

/** What a chunk unit records of its construction, checked on resume. */
interface ChunkHeader {
  version: number;
  config: unknown;
  total: number;
  chunkSize: number;
  seconds: number;
}

/**
 * Where a construction is kept: the assembled dataset as a committed unit at `dir`, and each finished chunk
 * as a committed unit of `partial` until the whole is assembled.
 */
interface Target {
  dir: string;
  partial: UnitSlots;
}

function targetOf(options: ChunkedOptions): Target | undefined {
  if (options.artifact) return { dir: options.artifact.dir, partial: partialSlots(options.artifact) };
  if (options.dir) {
    return {
      dir: options.dir,
      partial: unitSlots(`${options.dir}.partial`, "chunk", undefined, "it will be built again"),
    };
  }
  return undefined;
}

function toColumns(meta: Record<string, unknown>, path: string): Record<string, number[]> {
  const cols = meta.columns;
  if (cols === undefined) return {};
  if (typeof cols !== "object" || cols === null) throw new Error(`${path}: bad columns in metadata`);
  return cols as Record<string, number[]>;
}

/** The assembled dataset of a finished construction at `dir`, or undefined (a corrupt one is reported and removed). */
async function loadAssembled(dir: string, artifact?: ArtifactRef): Promise<
  { file: DatasetFile; seconds: number[] } | undefined
> {
  const read = (unit: LoadedUnit) => {
    const path = join(unit.dir, DATASET_FILE);
    const file = decodeDataset(unitFile(unit, DATASET_FILE), path);
    const seconds = file.meta.chunkSeconds;
    return { file, seconds: Array.isArray(seconds) ? seconds as number[] : [] };
  };
  return artifact ? await readArtifact(artifact, read) : await readVerifiedUnit(dir, "dataset", read);
}

/**
 * Runs `build` over the chunks of a `total`-example construction and returns the assembled dataset. With
 * `artifact` (or `dir`), every chunk is committed as it finishes and a rerun resumes after the last committed
 * chunk (or loads the finished dataset); the result equals that of an uninterrupted run.
 *
 * @example
 * ```ts
 * import type { Dataset } from "../data/dataset.ts";
 * import { refOf } from "../store/store.ts";
 * import { buildInChunks } from "./chunked.ts";
 * declare const src: Dataset;
 * const built = await buildInChunks(
 *   { name: "copy", shape: [28, 28, 1], classes: src.classes, total: 5000, artifact: refOf("datasets", "copy") },
 *   async (start, end) => ({ images: src.images.slice(start * 784, end * 784), labels: src.labels.slice(start, end) }),
 * );
 * ```
 */
export async function buildInChunks(options: ChunkedOptions, build: ChunkBuilder): Promise<ChunkedBuild> {
  const { total } = options;
  const chunkSize = options.chunkSize ?? 1000;
  if (!Number.isInteger(total) || total < 1) {
    throw new RangeError(`buildInChunks: total must be a positive integer, got ${total}`);
  }
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new RangeError(`buildInChunks: chunkSize must be a positive integer, got ${chunkSize}`);
  }
  const chunks = Math.ceil(total / chunkSize);
  const config = options.config ?? null;
  const target = targetOf(options);
  const finished = target && await finishedBuild(target, options, chunks, config);
  if (finished) return finished;

  const parts = new Parts(options, chunkSize);
  const head = { version: CHUNKED_VERSION, config, total, chunkSize };
  const chunkSeconds = target ? await readCommittedChunks(target, parts, head, chunks) : [];
  let done = chunkSeconds.length;
  const resumedFrom = done;
  const stopAt = Math.min(chunks, options.stopAfterChunks ?? chunks);
  const progress = createProgress({
    label: options.label ?? `build ${options.name}`,
    total,
    unit: "images",
    mode: options.progress,
  });
  progress.update(Math.min(total, done * chunkSize), done > 0 ? `resumed after ${done} chunk(s)` : undefined);
  for (let k = done; k < stopAt; k++) {
    const [start, end] = parts.range(k);
    const t0 = performance.now();
    parts.store(k, await build(start, end, k, (d) => progress.update(start + d, `chunk ${k + 1}/${chunks}`)));
    const seconds = (performance.now() - t0) / 1000;
    chunkSeconds.push(seconds);
    done = k + 1;
    if (target) {
      const { dataset, columns } = parts.chunk(k);
      await target.partial.commit(k, {
        [CHUNK_FILE]: encodeDataset(dataset, { columns }),
        "chunk.json": JSON.stringify({ ...head, seconds } satisfies ChunkHeader),
      });
    }
  }
  const complete = done === chunks;
  await progress.finish(complete ? undefined : `stopped after ${done}/${chunks} chunks`);
  const { dataset, columns } = parts.first(Math.min(total, done * chunkSize));
  if (target && complete) await commitAssembled(target, options, dataset, columns, config, chunkSeconds);
  return {
    dataset: options.artifact && complete ? withOrigin(dataset, options.artifact.key) : dataset,
    columns,
    finished: complete,
    fromCache: false,
    chunksDone: done,
    chunks,
    resumedFrom,
    seconds: chunkSeconds.reduce((a, b) => a + b, 0),
    chunkSeconds,
  };
}

/** The examples and columns of a construction, filled in chunk by chunk. */
class Parts {
  readonly per: number;
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly columns: Record<string, Float32Array> = {};
  constructor(readonly options: ChunkedOptions, readonly chunkSize: number) {
    const [h, w, c] = options.shape;
    this.per = h * w * c;
    this.images = new Float32Array(options.total * this.per);
    this.labels = new Int32Array(options.total);
  }
  /** The example range [start, end) of chunk `k`. */
  range(k: number): [number, number] {
    const start = k * this.chunkSize;
    return [start, Math.min(this.options.total, start + this.chunkSize)];
  }
  /** Puts chunk `k`'s result in place, checking its sizes. */
  store(k: number, part: ChunkResult): void {
    const [start, end] = this.range(k);
    const n = end - start;
    if (part.images.length !== n * this.per || part.labels.length !== n) {
      throw new RangeError(
        `${this.options.name}: chunk ${k} holds ${part.labels.length} labels and ${part.images.length} ` +
          `pixels, expected ${n} images of ${this.per}`,
      );
    }
    this.images.set(part.images, start * this.per);
    this.labels.set(part.labels, start);
    for (const [key, values] of Object.entries(part.columns ?? {})) {
      if (values.length !== n) {
        throw new RangeError(`${this.options.name}: column ${key} of chunk ${k} has ${values.length} values`);
      }
      this.columns[key] ??= new Float32Array(this.options.total);
      this.columns[key].set(values, start);
    }
  }
  /** Chunk `k` as a dataset with its columns (as plain arrays, for its file). */
  chunk(k: number): { dataset: Dataset; columns: Record<string, number[]> } {
    const [start, end] = this.range(k);
    const { name, shape, classes } = this.options;
    return {
      dataset: makeDataset(
        `${name} chunk ${k}`,
        this.images.subarray(start * this.per, end * this.per),
        this.labels.subarray(start, end),
        shape,
        classes,
      ),
      columns: Object.fromEntries(
        Object.entries(this.columns).map(([key, v]) => [key, Array.from(v.subarray(start, end))]),
      ),
    };
  }
  /** The first `n` examples as the dataset and its columns. */
  first(n: number): { dataset: Dataset; columns: Record<string, Float32Array> } {
    const { name, shape, classes } = this.options;
    return {
      dataset: makeDataset(
        name,
        this.images.subarray(0, n * this.per),
        this.labels.subarray(0, n),
        shape,
        classes,
      ),
      columns: Object.fromEntries(Object.entries(this.columns).map(([k, v]) => [k, v.subarray(0, n)])),
    };
  }
}

/** The finished construction at the target, when there is one with the same settings. */
async function finishedBuild(
  target: Target,
  options: ChunkedOptions,
  chunks: number,
  config: unknown,
): Promise<ChunkedBuild | undefined> {
  const saved = await loadAssembled(target.dir, options.artifact);
  if (!saved) return undefined;
  const { dataset, meta } = saved.file;
  if (size(dataset) !== options.total || canonicalJson(meta.config ?? null) !== canonicalJson(config)) {
    throw new Error(
      `${target.dir} holds a construction with other settings (${
        canonicalJson({ total: size(dataset), config: meta.config })
      }): remove the folder or use another one`,
    );
  }
  const columns = Object.fromEntries(
    Object.entries(toColumns(meta, join(target.dir, DATASET_FILE))).map((
      [k, v],
    ) => [k, Float32Array.from(v)]),
  );
  return {
    dataset: options.artifact ? withOrigin(dataset, options.artifact.key) : dataset,
    columns,
    finished: true,
    fromCache: true,
    chunksDone: chunks,
    chunks,
    resumedFrom: chunks,
    seconds: saved.seconds.reduce((a, b) => a + b, 0),
    chunkSeconds: saved.seconds,
  };
}

/**
 * Reads back, in order, the chunks earlier runs committed (up to the first one missing, which is rebuilt
 * from there on) into `parts`; returns the seconds each took to build.
 */
async function readCommittedChunks(
  target: Target,
  parts: Parts,
  head: Omit<ChunkHeader, "seconds">,
  chunks: number,
): Promise<number[]> {
  const seconds: number[] = [];
  for (let k = 0; k < chunks; k++) {
    const unit = await target.partial.get(k);
    if (!unit) break;
    const saved = unitJson<ChunkHeader>(unit, "chunk.json");
    const { seconds: _s, ...settings } = saved;
    if (canonicalJson(settings) !== canonicalJson(head)) {
      throw new Error(
        `${target.partial.dir} holds a construction with other settings (${
          canonicalJson({ total: saved.total, chunkSize: saved.chunkSize, config: saved.config })
        }): remove the folder or use another one`,
      );
    }
    const path = join(unit.dir, CHUNK_FILE);
    const { dataset, meta } = decodeDataset(unitFile(unit, CHUNK_FILE), path);
    parts.store(k, { images: dataset.images, labels: dataset.labels, columns: toColumns(meta, path) });
    seconds.push(saved.seconds);
  }
  return seconds;
}

/** Commits the whole construction as one unit (the artifact, or the caller's folder) and drops its chunks. */
async function commitAssembled(
  target: Target,
  options: ChunkedOptions,
  dataset: Dataset,
  columns: Record<string, Float32Array>,
  config: unknown,
  chunkSeconds: number[],
): Promise<void> {
  const cols = Object.fromEntries(Object.entries(columns).map(([k, v]) => [k, Array.from(v)]));
  const files = { [DATASET_FILE]: encodeDataset(dataset, { columns: cols, config, chunkSeconds }) };
  if (options.artifact) await commitArtifact(options.artifact, files, { spec: config, replace: true });
  else await commitUnit(target.dir, files, { kind: "dataset", spec: config, replace: true });
  await target.partial.clear();
}
