/**
 * The artifact store: everything advex caches (trained models, checkpoints, constructed datasets, ONNX
 * exports, results) lives under `ADVEX_CACHE_DIR` as committed units ({@link ./unit.ts}), at
 * `<root>/<kind>/<key>`, where the key is derived from the artifact's whole spec ({@linkcode specKey}).
 *
 * - An artifact appears whole or not at all, and is verified against its manifest on every load; a partial or
 *   corrupt one is reported with its path, removed, and rebuilt by its caller, never used.
 * - Jobs that build an artifact hold its lock ({@linkcode withArtifactLock}): a second process on the same
 *   job waits for the first and then loads what it committed.
 * - Checkpoints ({@linkcode checkpointSlots}) are units too, one folder per step, the newest valid one used.
 * - Temporary folders left by processes that died are removed the first time a process uses the store.
 * @module
 */
import { join } from "node:path";
import { readEnv, readEnvNumber } from "../util/env.ts";
import { repoRoot } from "../util/fs.ts";
import { specKey } from "./key.ts";
import { withLock } from "./lock.ts";
import {
  commitUnit,
  CorruptUnitError,
  discardUnit,
  type LoadedUnit,
  loadUnit,
  removePath,
  removeStaleTemps,
} from "./unit.ts";

/** Bumped when the store's layout changes; part of every artifact's folder (`<root>/v<N>/...`). */
export const STORE_VERSION = 2;

/** The cache folder: env `ADVEX_CACHE_DIR`, else `.cache/advex` in the repository. */
export function cacheRoot(): string {
  return readEnv("ADVEX_CACHE_DIR") || join(repoRoot, ".cache", "advex");
}

/** Thrown when the cache folder cannot be written; the message names `ADVEX_CACHE_DIR`. */
export class CacheDirError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CacheDirError";
  }
}

function explainFsError(e: unknown, path: string): unknown {
  const code = (e as { code?: string })?.code;
  const notFolder = e instanceof Deno.errors.NotADirectory || code === "ENOTDIR";
  if (
    notFolder || e instanceof Deno.errors.PermissionDenied || code === "EROFS" || code === "EACCES" ||
    code === "EPERM"
  ) {
    const from = readEnv("ADVEX_CACHE_DIR")
      ? `ADVEX_CACHE_DIR=${cacheRoot()}`
      : `the default cache folder ${cacheRoot()}`;
    return new CacheDirError(
      `cannot write ${path}: ${(e as Error).message}. advex keeps its models, checkpoints, datasets and ` +
        `results in ${from}; ${
          notFolder ? "a part of that path is a file, not a folder" : "make it writable"
        }, ` +
        `or set ADVEX_CACHE_DIR to a writable folder`,
      { cause: e },
    );
  }
  return e;
}

/** Runs `fn`, turning permission errors under the cache folder into a {@linkcode CacheDirError}. */
async function inCache<T>(path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw explainFsError(e, path);
  }
}

/** The kinds of artifacts the store holds. */
export type ArtifactKind = "models" | "datasets" | "onnx" | "results";

/** Where an artifact lives: its kind, its key and its folder. */
export interface ArtifactRef {
  kind: ArtifactKind;
  key: string;
  dir: string;
}

/** The folder of artifacts of `kind`. */
export function kindDir(kind: ArtifactKind | "checkpoints" | "partial" | "locks"): string {
  return join(cacheRoot(), `v${STORE_VERSION}`, kind);
}

/** The reference of the artifact of `kind` made from `spec` (its key is the spec's {@linkcode specKey}). */
export async function artifactRef(kind: ArtifactKind, spec: unknown): Promise<ArtifactRef> {
  const key = await specKey(spec);
  return { kind, key, dir: join(kindDir(kind), key) };
}

/** The reference of the artifact of `kind` whose key is already known (e.g. named by another spec). */
export function refOf(kind: ArtifactKind, key: string): ArtifactRef {
  if (!/^[A-Za-z0-9_.-]+$/.test(key) || key.startsWith(".")) {
    throw new RangeError(`artifact key ${JSON.stringify(key)} is not a plain name`);
  }
  return { kind, key, dir: join(kindDir(kind), key) };
}

let cleaned: Promise<void> | undefined;

/** Removes what processes that died left in the store (temporary and discarded folders); once per process. */
export function cleanStore(): Promise<void> {
  cleaned ??= (async () => {
    const base = join(cacheRoot(), `v${STORE_VERSION}`);
    const parents = [base];
    for (const kind of ["models", "datasets", "onnx", "results", "checkpoints", "partial"] as const) {
      parents.push(kindDir(kind));
      if (kind === "checkpoints" || kind === "partial") {
        try {
          for await (const e of Deno.readDir(kindDir(kind))) {
            if (e.isDirectory) parents.push(join(kindDir(kind), e.name));
          }
        } catch {
          // Nothing there yet, or not readable: cleaning up is best effort; writing will say what is wrong.
        }
      }
    }
    for (const p of parents) await removeStaleTemps(p).catch(() => {});
  })();
  return cleaned;
}

/** Writes a warning line (corrupt artifacts and the like) to stderr. */
export function warn(message: string): void {
  console.error(`advex: ${message}`);
}

/**
 * Loads and verifies the unit at `dir` (any folder) and reads it with `read` (default: the unit itself):
 * undefined when there is none. One that is partial or corrupt, or that `read` cannot make sense of (a file
 * inside does not parse), is reported as `what` with the reason, removed, and undefined returned.
 */
export async function readVerifiedUnit<T = LoadedUnit>(
  dir: string,
  what: string,
  read: (unit: LoadedUnit) => T | Promise<T> = (unit) => unit as T,
  then = "it will be rebuilt",
): Promise<T | undefined> {
  let problem: string;
  try {
    const unit = await loadUnit(dir);
    if (!unit) return undefined;
    try {
      return await read(unit);
    } catch (e) {
      problem = `cannot be read (${(e as Error).message})`;
    }
  } catch (e) {
    if (!(e instanceof CorruptUnitError)) throw e;
    problem = `cannot be used (${e.message})`;
  }
  warn(`${what} ${dir} ${problem}; removing it, ${then}`);
  await inCache(dir, () => discardUnit(dir));
  return undefined;
}

/**
 * Loads and verifies the artifact `ref`: undefined when there is none. One that is partial or corrupt is
 * reported (with the bad file's path) and removed, and undefined returned, so that the caller rebuilds it.
 */
export async function loadArtifact(ref: ArtifactRef): Promise<LoadedUnit | undefined> {
  await cleanStore();
  return await readVerifiedUnit(ref.dir, `${ref.kind} artifact`);
}

/**
 * Loads the artifact `ref` and reads it with `read`; when reading fails (a file inside does not parse), the
 * artifact is reported, removed, and undefined returned, as for a corrupt one.
 */
export async function readArtifact<T>(
  ref: ArtifactRef,
  read: (unit: LoadedUnit) => T | Promise<T>,
): Promise<T | undefined> {
  await cleanStore();
  return await readVerifiedUnit(ref.dir, `${ref.kind} artifact`, read);
}

/** Commits `files` as the artifact `ref` (replacing it when `replace`). Returns its folder. */
export async function commitArtifact(
  ref: ArtifactRef,
  files: Record<string, Uint8Array | string>,
  options: { spec?: unknown; replace?: boolean } = {},
): Promise<string> {
  await cleanStore();
  return await inCache(ref.dir, () => commitUnit(ref.dir, files, { kind: ref.kind, ...options }));
}

/** Removes the artifact `ref` (nothing when absent). */
export function removeArtifact(ref: ArtifactRef): Promise<void> {
  return inCache(ref.dir, () => discardUnit(ref.dir));
}

/** Seconds a job waits for another process holding its lock: env `ADVEX_LOCK_TIMEOUT`, default no limit. */
export function lockTimeoutSeconds(): number {
  return readEnvNumber("ADVEX_LOCK_TIMEOUT", "seconds to wait for a job another process runs") ?? Infinity;
}

/**
 * Runs `fn` holding the lock of the job that builds `ref`, so that one process at a time builds it; a second
 * one waits (saying which process it waits for) for at most `ADVEX_LOCK_TIMEOUT` seconds, then fails.
 */
export async function withArtifactLock<T>(
  ref: ArtifactRef,
  what: string,
  fn: () => Promise<T>,
  options: { onWait?: (message: string) => void; timeoutMs?: number } = {},
): Promise<T> {
  await cleanStore();
  const path = join(kindDir("locks"), `${ref.kind}-${ref.key}.lock`);
  return await inCache(path, () =>
    withLock(path, {
      what: `${what} (${ref.kind}/${ref.key})`,
      timeoutMs: options.timeoutMs ?? lockTimeoutSeconds() * 1000,
      onWait: options.onWait ?? ((m) => warn(m)),
    }, fn));
}

/** A numbered series of committed units (checkpoints, chunks) in one folder. */
export interface UnitSlots {
  /** The folder holding the units. */
  dir: string;
  /** The newest valid unit; corrupt ones are reported and removed on the way. */
  latest(): Promise<{ index: number; unit: LoadedUnit } | undefined>;
  /** The unit at `index`, verified (undefined when absent; a corrupt one is reported, removed, undefined). */
  get(index: number): Promise<LoadedUnit | undefined>;
  /** Commits unit `index`; with `keepOnly`, removes every other unit once it is in place. */
  commit(index: number, files: Record<string, Uint8Array | string>, keepOnly?: boolean): Promise<void>;
  /** Removes every unit and the folder. */
  clear(): Promise<void>;
}

function slotName(index: number): string {
  return `unit-${String(index).padStart(9, "0")}`;
}

async function slotIndices(dir: string): Promise<number[]> {
  const found: number[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = /^unit-(\d{9})$/.exec(e.name);
      if (m && e.isDirectory) found.push(Number(m[1]));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return found.sort((a, b) => a - b);
}

/**
 * Numbered units in folder `dir` (any folder: the store's, or one a caller chose), of kind `kind`; `then`
 * says, when a corrupt one is removed, what happens instead.
 */
export function unitSlots(
  dir: string,
  kind: string,
  spec?: unknown,
  then = "it will be rebuilt",
): UnitSlots {
  const verified = (index: number): Promise<LoadedUnit | undefined> =>
    readVerifiedUnit(join(dir, slotName(index)), kind, undefined, then);
  return {
    dir,
    async latest() {
      await removeStaleTemps(dir).catch(() => {});
      const indices = await slotIndices(dir);
      for (let i = indices.length - 1; i >= 0; i--) {
        const unit = await verified(indices[i]);
        if (unit) return { index: indices[i], unit };
      }
      return undefined;
    },
    get: verified,
    async commit(index, files, keepOnly = false) {
      const path = join(dir, slotName(index));
      await inCache(path, () => commitUnit(path, files, { kind, spec, replace: true }));
      if (keepOnly) {
        for (const other of await slotIndices(dir)) {
          if (other !== index) await inCache(dir, () => discardUnit(join(dir, slotName(other))));
        }
      }
    },
    async clear() {
      await inCache(dir, () => removePath(dir));
    },
  };
}

/** The checkpoint units of the job that builds `ref` (`<root>/checkpoints/<kind>-<key>/`). */
export function checkpointSlots(ref: ArtifactRef): UnitSlots {
  return unitSlots(
    join(kindDir("checkpoints"), `${ref.kind}-${ref.key}`),
    "checkpoint",
    { of: ref.dir },
    "an earlier checkpoint is used",
  );
}

/** The partial units (e.g. dataset chunks) of the job that builds `ref` (`<root>/partial/<kind>-<key>/`). */
export function partialSlots(ref: ArtifactRef): UnitSlots {
  return unitSlots(
    join(kindDir("partial"), `${ref.kind}-${ref.key}`),
    "chunk",
    { of: ref.dir },
    "it will be built again",
  );
}
