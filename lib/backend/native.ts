/**
 * The native CPU kernel library (the C sources in `native/`): where its build lives, building it, and loading
 * it through Deno's FFI together with the BLAS library it calls (OpenBLAS from Debian's
 * `libopenblas0-pthread`, which uses every core).
 *
 * Loading is optional at every step: without a C compiler, without OpenBLAS, without `--allow-ffi`, or with
 * `ADVEX_NATIVE=0`, {@linkcode loadNative} says why and the wasm kernels stay in charge.
 * @module
 */
import { join } from "node:path";
import { readEnv, readEnvChoice } from "../util/env.ts";
import { exists } from "../util/fs.ts";
import { CONV_GEOMETRY_FIELDS, POOL_GEOMETRY_FIELDS } from "./conv_geometry.ts";

/** The C sources of the library (compiled together; the header is part of its hash). */
export const NATIVE_SOURCES: readonly string[] = ["advex_native.c", "advex_direct.c", "advex_elementwise.c"]
  .map((f) => new URL(`../../native/${f}`, import.meta.url).pathname);

/** The header the sources share. */
const NATIVE_HEADER: string = new URL("../../native/advex_direct.h", import.meta.url).pathname;

/** The environment variable that turns the native kernels off ("0", "off", "false", "no"). */
export const NATIVE_ENV_VAR = "ADVEX_NATIVE";

/** BLAS libraries tried in order: OpenBLAS (threaded), then whatever provides the system's libblas. */
export const BLAS_CANDIDATES: readonly string[] = ["libopenblas.so.0", "libopenblas.so", "libblas.so.3"];

const SYMBOLS = {
  advex_init: { parameters: ["buffer"], result: "i32" },
  advex_threads: { parameters: ["i32"], result: "i32" },
  advex_blas_config: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  advex_batch_matmul: {
    // a, b, bias (or null), activation, c; batch, batch of a, batch of b, m, n, k, transpose a, transpose b
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
    ],
    result: "void",
  },
  // The geometry arguments ("buffer" last) are advex_conv_geometry / advex_pool_geometry structs, packed by
  // packConvGeometry / packPoolGeometry (conv_geometry.ts).
  advex_geometry_fields: { parameters: ["i32"], result: "i32" },
  advex_conv2d: { parameters: ["buffer", "buffer", "buffer", "i32", "buffer", "buffer"], result: "i32" },
  advex_conv_direct: { parameters: ["buffer", "i32"], result: "i32" },
  advex_direct_threads: { parameters: [], result: "i32" },
  advex_direct_enable: { parameters: ["i32"], result: "i32" },
  advex_max_pool: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  advex_sum_rows: { parameters: ["buffer", "buffer", "i32", "i32"], result: "i32" },
  advex_relu_grad: { parameters: ["buffer", "buffer", "buffer", "i32"], result: "void" },
  // x, g, lo, hi, out; n; the step's size
  advex_linf_step: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "i32", "f32"],
    result: "void",
  },
  advex_binary_channel: {
    parameters: ["buffer", "buffer", "buffer", "i32", "i32", "i32", "i32"],
    result: "void",
  },
  advex_adam: {
    // x, m, v, g, and the new x, m, v; n; lr, beta1, beta2, epsilon, 1 - beta1, 1 - beta2
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "f32",
      "f32",
      "f32",
      "f32",
      "f32",
      "f32",
    ],
    result: "void",
  },
  advex_conv2d_backprop_filter: { parameters: ["buffer", "buffer", "buffer", "buffer"], result: "i32" },
  advex_conv2d_backprop_input: { parameters: ["buffer", "buffer", "buffer", "buffer"], result: "i32" },
  advex_max_pool_grad: { parameters: ["buffer", "buffer", "buffer", "buffer"], result: "i32" },
  advex_max_pool_grad_relu: { parameters: ["buffer", "buffer", "buffer", "buffer"], result: "i32" },
} as const;

/** The library's functions, as Deno's FFI exposes them. */
export type NativeSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** A loaded native library. */
export interface NativeLibrary {
  symbols: NativeSymbols;
  /** The shared object loaded. */
  path: string;
  /** The BLAS library it calls, and its build description when it gives one. */
  blas: string;
  /** Threads the BLAS library uses. */
  threads: number;
  /** Threads of the direct AVX-512 convolution kernels; 0 when this CPU does not run them. */
  directThreads: number;
}

/** The outcome of {@linkcode loadNative}. */
export type NativeStatus = { ok: true; library: NativeLibrary; detail: string } | {
  ok: false;
  detail: string;
};

/** The folder builds go to: `ADVEX_NATIVE_DIR`, else `.cache/native` in the repository. */
export function nativeBuildDir(): string {
  const env = readEnv("ADVEX_NATIVE_DIR");
  return env && env.trim() !== "" ? env : new URL("../../.cache/native", import.meta.url).pathname;
}

/** How the library is compiled (after the compiler's name). */
const COMPILE_FLAGS = ["-O3", "-ffp-contract=off", "-fPIC", "-shared", "-pthread", "-Wl,-z,nodelete"];

/**
 * The path of the build of the current source and flags (its name carries a hash of both, so that an edit
 * makes a new build).
 */
export async function nativeLibraryPath(): Promise<string> {
  const parts = [
    ...(await Promise.all([...NATIVE_SOURCES, NATIVE_HEADER].map((f) => Deno.readFile(f)))),
    new TextEncoder().encode(`\n${COMPILE_FLAGS.join(" ")}`),
  ];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  const hex = Array.from(digest.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
  return join(nativeBuildDir(), `libadvex_native.${hex}.so`);
}

/**
 * Compiles the library with the system C compiler (`cc`, else `gcc`) unless the current source's build
 * exists. Returns its path; throws with the compiler's message when compiling fails.
 */
export async function buildNative(
  options: { force?: boolean; log?: (line: string) => void } = {},
): Promise<string> {
  const path = await nativeLibraryPath();
  if (!options.force && (await exists(path))) return path;
  await Deno.mkdir(nativeBuildDir(), { recursive: true });
  const tmp = `${path}.${Deno.pid}.tmp`;
  const args = [...COMPILE_FLAGS, "-o", tmp, ...NATIVE_SOURCES, "-ldl", "-lm"];
  let lastError = "";
  for (const compiler of ["cc", "gcc"]) {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(compiler, { args, stdout: "piped", stderr: "piped" }).output();
    } catch (e) {
      lastError = `${compiler}: ${(e as Error).message}`;
      continue;
    }
    if (out.success) {
      await Deno.rename(tmp, path);
      options.log?.(`built ${path} with ${compiler}`);
      return path;
    }
    lastError = `${compiler} failed: ${new TextDecoder().decode(out.stderr).trim()}`;
  }
  await Deno.remove(tmp).catch(() => {});
  throw new Error(
    `could not compile ${
      NATIVE_SOURCES.join(" ")
    }: ${lastError} (install a C compiler: apt-get install gcc libc6-dev)`,
  );
}

/** The values `ADVEX_NATIVE` may take: off or on (on is the default when unset). */
export const NATIVE_ENV_VALUES = ["0", "1", "off", "on", "false", "true", "no", "yes"] as const;

let loaded: Promise<NativeStatus> | undefined;

/**
 * Loads the native library and a BLAS library, once per process. A missing piece is reported in `detail`;
 * the only error is a bad value of `ADVEX_NATIVE` (an `EnvError` listing the valid ones). `build: true` compiles the library first when its build is missing.
 */
export function loadNative(options: { build?: boolean } = {}): Promise<NativeStatus> {
  loaded ??= load(options.build ?? false);
  return loaded;
}

async function load(build: boolean): Promise<NativeStatus> {
  const env = (readEnvChoice(NATIVE_ENV_VAR, NATIVE_ENV_VALUES) ?? "").toLowerCase();
  if (["0", "off", "false", "no"].includes(env)) {
    return { ok: false, detail: `turned off by ${NATIVE_ENV_VAR}=${env}` };
  }
  let path: string;
  try {
    path = build ? await buildNative() : await nativeLibraryPath();
    if (!(await exists(path))) {
      return { ok: false, detail: `not built (run \`deno task build:native\`; expected ${path})` };
    }
  } catch (e) {
    return { ok: false, detail: (e as Error).message };
  }
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    lib = Deno.dlopen(path, SYMBOLS);
  } catch (e) {
    const reason = e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
      ? "Deno needs --allow-ffi to load it"
      : (e as Error).message;
    return { ok: false, detail: `${path} did not load: ${reason}` };
  }
  const layout = [CONV_GEOMETRY_FIELDS.length, POOL_GEOMETRY_FIELDS.length];
  const built = [lib.symbols.advex_geometry_fields(0), lib.symbols.advex_geometry_fields(1)];
  if (built[0] !== layout[0] || built[1] !== layout[1]) {
    lib.close();
    return {
      ok: false,
      detail: `${path} lays out the geometry structs with ${built.join(" and ")} fields, ` +
        `conv_geometry.ts with ${layout.join(" and ")} (rebuild it: \`deno task build:native\`)`,
    };
  }
  // OpenBLAS 0.3.21 picks its AVX2 ("Haswell") kernels on AVX-512 CPUs it does not know (AMD Zen 4, for one);
  // its AVX-512 kernels are 2-3x faster there. It reads OPENBLAS_CORETYPE when it loads, so set it first.
  const coreType = openBlasCoreType();
  if (coreType !== undefined) setUnlessSet("OPENBLAS_CORETYPE", coreType);
  // After each call OpenBLAS's worker threads spin for 2^28 cycles (about 60 ms) before sleeping, taking a
  // core from the direct kernels' threads that run next (a Madry CNN training step ran 20-30% slower).
  // 2^4 cycles makes them sleep at once; waking them costs microseconds per product.
  setUnlessSet("OPENBLAS_THREAD_TIMEOUT", "4");
  for (const name of BLAS_CANDIDATES) {
    if (lib.symbols.advex_init(new TextEncoder().encode(`${name}\0`)) !== 0) continue;
    const threads = lib.symbols.advex_threads(0);
    const text = (what: number) => {
      const buf = new Uint8Array(256);
      const n = lib.symbols.advex_blas_config(buf, buf.length, what);
      return new TextDecoder().decode(buf.subarray(0, n)).trim();
    };
    const [config, core] = [text(0), text(1)];
    const blas = config ? `${name} (${config}${core ? `; running its ${core} kernels` : ""})` : name;
    const directThreads = lib.symbols.advex_direct_threads();
    const library: NativeLibrary = { symbols: lib.symbols, path, blas, threads, directThreads };
    const direct = directThreads > 0
      ? `; direct AVX-512 convolution, matrix-product and pooling kernels on ${directThreads} thread${
        directThreads === 1 ? "" : "s"
      }`
      : "; no AVX-512, so convolutions go through BLAS";
    return {
      ok: true,
      library,
      detail: `${blas}, ${threads} thread${threads === 1 ? "" : "s"}${direct}`,
    };
  }
  lib.close();
  return {
    ok: false,
    detail: `no BLAS library found (tried ${
      BLAS_CANDIDATES.join(", ")
    }; apt-get install libopenblas0-pthread)`,
  };
}

/** Sets an environment variable for OpenBLAS (read when it loads) unless the user has set it. */
function setUnlessSet(name: string, value: string): void {
  if (readEnv(name)) return;
  try {
    Deno.env.set(name, value);
  } catch { /* no env permission: OpenBLAS keeps its default */ }
}

/**
 * The OpenBLAS core type to ask for on this CPU: "SKYLAKEX" when it has the AVX-512 subsets those kernels
 * use (F, CD, BW, DQ, VL), else undefined (OpenBLAS's own choice). Linux only (reads /proc/cpuinfo).
 */
export function openBlasCoreType(cpuinfo?: string): string | undefined {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = Deno.readTextFileSync("/proc/cpuinfo");
    } catch {
      return undefined;
    }
  }
  const flags = new Set(/^flags\s*:\s*(.*)$/m.exec(text)?.[1]?.split(/\s+/) ?? []);
  return ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].every((f) => flags.has(f))
    ? "SKYLAKEX"
    : undefined;
}
