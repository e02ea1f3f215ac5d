/**
 * Committed units: a folder of files that appears whole or not at all. A unit is written into a temporary
 * folder beside its final place, every file flushed to disk, with a manifest (`manifest.json`) of each
 * file's size and SHA-256, and then moved into place by one rename. Loading checks the manifest against the
 * files, so a unit that is partial, edited or corrupt is reported and never used.
 *
 * Temporary and discarded folders carry the host and process id of their writer in their names
 * (`.tmp.<name>.<host>.<pid>.<random>`, `.trash.<name>.<host>.<pid>.<random>`), so that those of a process
 * that died can be recognised and removed ({@linkcode removeStaleTemps}).
 * @module
 */
import { basename, dirname, join } from "node:path";
import { sha256Hex } from "./key.ts";

/** The manifest's file name inside a unit. */
export const MANIFEST = "manifest.json";

/** Bumped when the layout of a unit's manifest changes. */
export const UNIT_VERSION = 1;

/** A unit's manifest: what it is and every file's size and SHA-256. */
export interface UnitManifest {
  version: number;
  /** What the unit holds, e.g. "model" or "checkpoint". */
  kind: string;
  /** The spec the unit was made from (any JSON), recorded for readers. */
  spec: unknown;
  /** ISO time of the commit. */
  committed: string;
  files: Record<string, { size: number; sha256: string }>;
}

/** A unit read back and verified: its manifest and its files' bytes. */
export interface LoadedUnit {
  dir: string;
  manifest: UnitManifest;
  files: Map<string, Uint8Array>;
}

/** Why a unit could not be used; `path` names the unit's folder or the bad file. */
export class CorruptUnitError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`${path}: ${reason}`);
    this.name = "CorruptUnitError";
  }
}

let hostName: string | undefined;

/** This machine's host name (or "localhost" where it may not be read). */
export function host(): string {
  if (hostName === undefined) {
    try {
      hostName = Deno.hostname().replace(/[^A-Za-z0-9_-]/g, "_") || "localhost";
    } catch {
      hostName = "localhost";
    }
  }
  return hostName;
}

/** Whether process `pid` runs on this machine (Linux: its /proc entry exists). */
export function processAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    return true;
  }
}

function randomTag(): string {
  return crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
}

function scratchName(prefix: ".tmp" | ".trash", name: string): string {
  return `${prefix}.${name}.${host()}.${Deno.pid}.${randomTag()}`;
}

/** fsync of a file or folder; folders that cannot be opened for it are skipped. */
async function sync(path: string): Promise<void> {
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    await file.sync();
  } catch {
    // Some file systems refuse fsync on folders; the rename is still atomic.
  } finally {
    file?.close();
  }
}

async function writeSynced(path: string, data: Uint8Array): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let off = 0;
    while (off < data.length) off += await file.write(data.subarray(off));
    await file.sync();
  } finally {
    file.close();
  }
}

/** Removes `path` (a file or folder) if it exists. */
export async function removePath(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/**
 * Moves the unit at `dir` out of the way (renamed to a `.trash` folder, then deleted), so that a reader never
 * sees it half removed. Nothing happens when it does not exist.
 */
export async function discardUnit(dir: string): Promise<void> {
  const trash = join(dirname(dir), scratchName(".trash", basename(dir)));
  try {
    await Deno.rename(dir, trash);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  await removePath(trash);
}

/** Options of {@linkcode commitUnit}. */
export interface CommitOptions {
  /** What the unit holds, recorded in its manifest. */
  kind: string;
  /** The spec it was made from, recorded in its manifest. */
  spec?: unknown;
  /** Replace a unit already at `dir` (default false: an existing unit is an error). */
  replace?: boolean;
}

/**
 * Commits `files` (name to bytes or text) as the unit `dir`: all of them, with their manifest, or nothing.
 * Returns `dir`.
 */
export async function commitUnit(
  dir: string,
  files: Record<string, Uint8Array | string>,
  options: CommitOptions,
): Promise<string> {
  for (const name of Object.keys(files)) {
    if (name === MANIFEST || name.includes("/") || name.startsWith(".") || name === "") {
      throw new RangeError(`commitUnit: bad file name ${JSON.stringify(name)} for ${dir}`);
    }
  }
  const parent = dirname(dir);
  await Deno.mkdir(parent, { recursive: true });
  await removeStaleTemps(parent);
  const tmp = join(parent, scratchName(".tmp", basename(dir)));
  try {
    await Deno.mkdir(tmp);
    const manifest: UnitManifest = {
      version: UNIT_VERSION,
      kind: options.kind,
      spec: options.spec ?? null,
      committed: new Date().toISOString(),
      files: {},
    };
    for (const [name, content] of Object.entries(files)) {
      const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
      await writeSynced(join(tmp, name), bytes);
      manifest.files[name] = { size: bytes.length, sha256: await sha256Hex(bytes) };
    }
    await writeSynced(join(tmp, MANIFEST), new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
    await sync(tmp);
    if (options.replace) await discardUnit(dir);
    try {
      await Deno.rename(tmp, dir);
    } catch (e) {
      // rename(2) onto a non-empty folder fails: another writer committed the same unit first.
      if (await isDir(dir)) {
        throw new Error(`commitUnit: ${dir} already exists (committed by another run)`, { cause: e });
      }
      throw e;
    }
    await sync(parent);
    return dir;
  } catch (e) {
    await removePath(tmp).catch(() => {});
    throw e;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** Whether a unit folder (verified or not) is at `dir`. */
export function unitExists(dir: string): Promise<boolean> {
  return isDir(dir);
}

/** Parses JSON text, naming `path` when it is not valid JSON. */
export function parseJson<T>(text: string, path: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new CorruptUnitError(path, `not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Reads and verifies the unit at `dir`: undefined when there is none, a {@linkcode CorruptUnitError} when its
 * manifest is missing or unreadable, a file is missing, has another size or another SHA-256, or the folder
 * holds a file the manifest does not list.
 */
export async function loadUnit(dir: string): Promise<LoadedUnit | undefined> {
  if (!await isDir(dir)) return undefined;
  // An empty folder (one a caller made for the unit to go into) holds no unit yet.
  if ((await Array.fromAsync(Deno.readDir(dir))).length === 0) return undefined;
  const manifestPath = join(dir, MANIFEST);
  let text: string;
  try {
    text = await Deno.readTextFile(manifestPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new CorruptUnitError(dir, `no ${MANIFEST} (a partial unit)`);
    throw e;
  }
  const manifest = parseJson<UnitManifest>(text, manifestPath);
  if (
    typeof manifest !== "object" || manifest === null || manifest.version !== UNIT_VERSION ||
    typeof manifest.files !== "object" || manifest.files === null
  ) {
    throw new CorruptUnitError(manifestPath, `not a version-${UNIT_VERSION} unit manifest`);
  }
  const files = new Map<string, Uint8Array>();
  for (const [name, want] of Object.entries(manifest.files)) {
    const path = join(dir, name);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new CorruptUnitError(path, "missing");
      throw e;
    }
    if (bytes.length !== want.size) {
      throw new CorruptUnitError(path, `${bytes.length} bytes, the manifest says ${want.size}`);
    }
    const got = await sha256Hex(bytes);
    if (got !== want.sha256) {
      throw new CorruptUnitError(path, `SHA-256 ${got}, the manifest says ${want.sha256}`);
    }
    files.set(name, bytes);
  }
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name !== MANIFEST && !(entry.name in manifest.files)) {
      throw new CorruptUnitError(join(dir, entry.name), "a file the manifest does not list");
    }
  }
  return { dir, manifest, files };
}

/** The text of file `name` of a loaded unit, parsed as JSON (errors name the file). */
export function unitJson<T>(unit: LoadedUnit, name: string): T {
  const bytes = unit.files.get(name);
  if (!bytes) throw new CorruptUnitError(join(unit.dir, name), "missing from the unit");
  return parseJson<T>(new TextDecoder().decode(bytes), join(unit.dir, name));
}

/** The bytes of file `name` of a loaded unit. */
export function unitFile(unit: LoadedUnit, name: string): Uint8Array {
  const bytes = unit.files.get(name);
  if (!bytes) throw new CorruptUnitError(join(unit.dir, name), "missing from the unit");
  return bytes;
}

const SCRATCH = /^\.(tmp|trash)\..*\.([A-Za-z0-9_-]+)\.(\d+)\.[0-9a-z]+$/;

/**
 * Removes the temporary and discarded folders in `parent` left by processes of this host that no longer run.
 * Returns the paths removed.
 */
export async function removeStaleTemps(parent: string): Promise<string[]> {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(parent));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return removed;
    throw e;
  }
  for (const entry of entries) {
    const m = SCRATCH.exec(entry.name);
    if (!m) continue;
    const [, , h, pid] = m;
    if (h === host() && processAlive(Number(pid))) continue;
    if (h !== host()) {
      // Another machine's scratch (a shared cache folder): only when it is a day old.
      const info = await Deno.stat(join(parent, entry.name)).catch(() => undefined);
      if (!info?.mtime || Date.now() - info.mtime.getTime() < 86_400_000) continue;
    }
    await removePath(join(parent, entry.name)).catch(() => {});
    removed.push(join(parent, entry.name));
  }
  return removed;
}
