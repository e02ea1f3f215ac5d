/**
 * Compiles advex's native CPU kernels (the C sources in `native/`) with the system C compiler into
 * `.cache/native/` (or `ADVEX_NATIVE_DIR`), then loads them to check that a BLAS library is found.
 *
 * ```
 * deno task build:native [--force]
 * ```
 *
 * Needs a C compiler and libc headers (Debian: gcc, libc6-dev); at run time the kernels call OpenBLAS
 * (Debian: libopenblas0-pthread). Without them the wasm kernels are used and nothing else changes.
 * @module
 */
import { buildNative, loadNative } from "../lib/backend/native.ts";

if (import.meta.main) {
  const force = Deno.args.includes("--force");
  const unknown = Deno.args.filter((a) => a !== "--force");
  if (unknown.length > 0) {
    console.error(
      `build_native: unknown arguments ${unknown.join(" ")} (usage: deno task build:native [--force])`,
    );
    Deno.exit(2);
  }
  try {
    const path = await buildNative({ force, log: (l) => console.log(l) });
    console.log(`native library: ${path}`);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
  const status = await loadNative();
  console.log(status.ok ? `loads, with ${status.detail}` : `built, but not usable here: ${status.detail}`);
}
