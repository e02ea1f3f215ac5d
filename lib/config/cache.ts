/**
 * The on-disk cache: results keyed by the SHA-256 of their configuration, so that re-running a notebook with
 * the same settings loads instead of recomputing, and changing any setting computes afresh.
 * @module
 */
import { join } from "node:path";
import { repoRoot } from "../util/fs.ts";
import { readEnv } from "../util/env.ts";

/** The cache folder: env `ADVEX_CACHE_DIR`, else `.cache/advex` in the repository. */
export function cacheRoot(): string {
  const env = readEnv("ADVEX_CACHE_DIR");
  if (env) return env;
  return join(repoRoot, ".cache", "advex");
}

/** JSON with object keys sorted, so equal configs give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (v && typeof v === "object" && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    return v;
  });
}

/** A short stable key (16 hex digits of SHA-256) for a configuration. */
export async function configKey(config: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(canonicalJson(config));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The cache folder of one configured job: `<cacheRoot>/<kind>/<key>`. */
export async function cacheDir(kind: string, config: unknown): Promise<string> {
  return join(cacheRoot(), kind, await configKey(config));
}
