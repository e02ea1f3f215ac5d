/**
 * File helpers shared by the cache, checkpoints and datasets: atomic writes (temp file then rename, so an
 * interrupted run never leaves a half-written file under the final name) and the repository root.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (the folder holding `deno.json`), found from this module's location. */
export const repoRoot: string = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Writes `data` to `path` atomically: to a temp file in the same folder, then renamed over `path`. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  if (path.endsWith("/")) throw new Error(`writeFileAtomic(): "${path}" names a folder, not a file`);
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${Deno.pid}.${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
