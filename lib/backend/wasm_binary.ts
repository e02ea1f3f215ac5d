/**
 * Where the wasm backend's `.wasm` binaries live.
 *
 * Imported through npm in Deno, `@tensorflow/tfjs-backend-wasm` runs its Node build, which reads
 * `tfjs-backend-wasm-simd.wasm` (or the plain or threaded variant) from its own `dist/` folder with
 * `fs.readFileSync`. That works from a `node_modules` folder and from Deno's global npm cache, but needs
 * read permission (`--allow-read`); without it the backend fails to initialize.
 * @module
 */
import { createRequire } from "node:module";

/** Returns the folder holding the wasm backend's binaries, or undefined if it cannot be resolved. */
export function wasmBinaryFolder(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm");
    return entry.slice(0, Math.max(entry.lastIndexOf("/"), entry.lastIndexOf("\\")) + 1);
  } catch {
    return undefined;
  }
}

/** Explains a failed wasm initialization: where the binary is expected and which permission it needs. */
export function wasmFailureHint(): string {
  const folder = wasmBinaryFolder();
  const where = folder === undefined ? "its npm package" : folder;
  return `the .wasm binary is read from ${where} and Deno needs read permission for it (--allow-read)`;
}
