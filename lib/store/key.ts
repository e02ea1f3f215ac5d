/**
 * Keys of artifacts: the SHA-256 of a spec's canonical JSON, so that equal specs (whatever their key order)
 * share one artifact and any change to a spec gives another.
 * @module
 */

/** JSON with object keys sorted, so equal specs give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (v && typeof v === "object" && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    return v;
  });
}

/** Lower-case hex of `bytes`. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The SHA-256 of `bytes`, as 64 hex digits. */
export async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>)));
}

/**
 * A short stable key (16 hex digits of SHA-256) for a spec.
 *
 * @example
 * ```ts
 * import { specKey } from "./key.ts";
 * const a = await specKey({ model: "mlp", seed: 1 });
 * const b = await specKey({ seed: 1, model: "mlp" });
 * if (a !== b || a.length !== 16) throw new Error("keys differ");
 * ```
 */
export async function specKey(spec: unknown): Promise<string> {
  return (await sha256Hex(canonicalJson(spec))).slice(0, 16);
}
