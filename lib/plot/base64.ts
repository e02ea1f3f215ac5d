/**
 * Base64 encoding of bytes, for data URLs.
 * @module
 */

/**
 * Encodes `bytes` as standard base64 (with padding).
 *
 * @example
 * ```ts
 * import { encodeBase64 } from "./base64.ts";
 * console.assert(encodeBase64(new TextEncoder().encode("PNG")) === "UE5H");
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  const CHUNK = 0x8000;
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}
