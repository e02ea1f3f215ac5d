/**
 * Each notebook's headline numbers, written as JSON next to the cache so that a run's results can be read
 * (and compared between scales and machines) without opening the notebook.
 * @module
 */
import { join } from "node:path";
import { cacheRoot } from "../config/cache.ts";
import { writeFileAtomic } from "../util/fs.ts";

/** Writes `results` for `chapter` at `scale` to `<cacheRoot>/results/<chapter>-<scale>.json`; returns the path. */
export async function saveResults(
  chapter: string,
  scale: string,
  results: Record<string, unknown>,
): Promise<string> {
  const path = join(cacheRoot(), "results", `${chapter}-${scale}.json`);
  const body = { chapter, scale, date: new Date().toISOString(), ...results };
  await writeFileAtomic(path, JSON.stringify(body, null, 2) + "\n");
  return path;
}
