/**
 * Choosing and initializing the tfjs backend: webgpu on a real GPU, else wasm (with the kernels from
 * `wasm_kernels.ts`, and the native ones of `native_kernels.ts` when the native library is built and a BLAS
 * library loads), else cpu.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { registerWasmKernels } from "./wasm_kernels.ts";
import { loadNative } from "./native.ts";
import { registerNativeKernels } from "./native_kernels.ts";
import { probeWebGpu, type WebGpuProbe } from "./webgpu_probe.ts";
import { wasmFailureHint } from "./wasm_binary.ts";
import { readEnv } from "../util/env.ts";

/** A tfjs backend the lab can run on. */
export type BackendName = "webgpu" | "wasm" | "cpu";

/** A backend request: a backend, or "auto" to take the best usable one. */
export type BackendRequest = BackendName | "auto";

/** Every valid request, in the order "auto" tries the backends after itself. */
export const BACKEND_REQUESTS: readonly BackendRequest[] = ["auto", "webgpu", "wasm", "cpu"];

/** The environment variable read when no backend is passed in the options. */
export const BACKEND_ENV_VAR = "ADVEX_BACKEND";

/** Which backend {@linkcode initBackend} activated, and why. */
export interface BackendReport {
  /** The active tfjs backend. */
  name: BackendName;
  /** Why this backend was chosen, including what was tried before it. */
  reason: string;
  /** The WebGPU adapter, for the webgpu backend. */
  adapter?: string;
  /** What was asked for ("auto", "webgpu", "wasm" or "cpu"). */
  requested: string;
}

/** Options of {@linkcode initBackend}. */
export interface InitBackendOptions {
  /** The backend to use; defaults to the `ADVEX_BACKEND` environment variable, else "auto". */
  backend?: BackendRequest;
}

const reports = new Map<string, Promise<BackendReport>>();

/**
 * Selects, initializes and activates a tfjs backend, and says which and why.
 *
 * The request is `options.backend`, else the `ADVEX_BACKEND` environment variable, else "auto". "auto"
 * takes webgpu only when `navigator.gpu` offers a hardware adapter (never a software fallback such as
 * llvmpipe) and the backend initializes; otherwise wasm, with {@linkcode registerWasmKernels} applied, if it
 * initializes; otherwise cpu. An explicit request that cannot be met throws an Error naming the backend and
 * the reason; an unknown name throws an Error listing the valid ones.
 *
 * The outcome is cached per request: calling again with the same request returns the same report without
 * probing again (re-activating its backend if something switched away from it meanwhile).
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendReport> {
  const { request, source } = resolveRequest(options);
  let pending = reports.get(request);
  if (pending === undefined) {
    pending = select(request, source);
    reports.set(request, pending);
    pending.catch(() => reports.delete(request));
  }
  const report = await pending;
  if (tf.getBackend() !== report.name && !(await tf.setBackend(report.name))) {
    reports.delete(request);
    throw new Error(`${report.name} was selected earlier but can no longer be activated`);
  }
  return report;
}

/**
 * Forgets every cached selection, so that the next {@linkcode initBackend} call probes and initializes
 * again (after a change of `ADVEX_BACKEND`, say). The active backend stays as it is.
 */
export function resetBackendSelection(): void {
  reports.clear();
}

/** One readable line about a report, e.g. `wasm (requested auto): no usable WebGPU (...); wasm with SIMD`. */
export function describeBackend(report: BackendReport): string {
  const on = report.adapter === undefined ? "" : ` on ${report.adapter}`;
  return `${report.name}${on} (requested ${report.requested}): ${report.reason}`;
}

/** Works out what was requested and where the request came from. */
function resolveRequest(options: InitBackendOptions): { request: BackendRequest; source: string } {
  let raw: unknown = options.backend;
  let source = "options.backend";
  if (raw === undefined) {
    const fromEnv = readEnv(BACKEND_ENV_VAR);
    if (fromEnv === undefined || fromEnv.trim() === "") return { request: "auto", source: "default" };
    raw = fromEnv;
    source = BACKEND_ENV_VAR;
  }
  const name = String(raw).trim().toLowerCase();
  if (!(BACKEND_REQUESTS as readonly string[]).includes(name)) {
    throw new Error(
      `unknown backend '${String(raw)}' (from ${source}): valid values are ${BACKEND_REQUESTS.join(", ")}`,
    );
  }
  return { request: name as BackendRequest, source };
}

/** An attempt to activate one backend. */
type Attempt = { ok: true; detail: string; adapter?: string } | { ok: false; detail: string };

async function select(request: BackendRequest, source: string): Promise<BackendReport> {
  const requested = request;
  const asked = source === "default" ? "" : ` (requested by ${source})`;
  if (request === "cpu") {
    const cpu = await tryCpu();
    if (!cpu.ok) throw new Error(`cpu was requested but ${cpu.detail}`);
    return { name: "cpu", reason: `${cpu.detail}${asked}`, requested };
  }
  if (request === "wasm") {
    const wasm = await tryWasm();
    if (!wasm.ok) throw new Error(`wasm was requested but ${wasm.detail}`);
    return { name: "wasm", reason: `${wasm.detail}${asked}`, requested };
  }
  const probe = await probeWebGpu();
  if (request === "webgpu") {
    const gpu = await tryWebGpu(probe);
    if (!gpu.ok) throw new Error(`webgpu was requested but ${gpu.detail}`);
    return { name: "webgpu", reason: `${gpu.detail}${asked}`, adapter: gpu.adapter, requested };
  }
  const gpu = await tryWebGpu(probe);
  if (gpu.ok) return { name: "webgpu", reason: gpu.detail, adapter: gpu.adapter, requested };
  const wasm = await tryWasm();
  if (wasm.ok) return { name: "wasm", reason: `no usable WebGPU (${gpu.detail}); ${wasm.detail}`, requested };
  const cpu = await tryCpu();
  if (cpu.ok) {
    const reason = `no usable WebGPU (${gpu.detail}) and wasm failed (${wasm.detail}); ${cpu.detail}`;
    return { name: "cpu", reason, requested };
  }
  throw new Error(
    `no backend could be initialized: webgpu: ${gpu.detail}; wasm: ${wasm.detail}; cpu: ${cpu.detail}`,
  );
}

/** Activates `name` and checks that a tiny op computes on it. */
async function activate(name: BackendName): Promise<string | undefined> {
  try {
    if (!(await tf.setBackend(name))) return `tf.setBackend('${name}') failed to initialize it`;
  } catch (e) {
    return `tf.setBackend('${name}') threw: ${(e as Error).message}`;
  }
  try {
    const sum = tf.add(tf.scalar(1), tf.scalar(2));
    const [value] = await sum.data();
    sum.dispose();
    return value === 3 ? undefined : `a test addition on ${name} gave ${value} instead of 3`;
  } catch (e) {
    return `a test op on ${name} failed: ${(e as Error).message}`;
  }
}

async function tryCpu(): Promise<Attempt> {
  // The cpu backend greets its first write under Node-like runtimes with advice to install tfjs-node,
  // which does not apply to Deno; mark it as already used to keep notebook output clean.
  const cpu = tf.findBackend("cpu") as { firstUse?: boolean } | null;
  if (cpu !== null && cpu.firstUse === true) cpu.firstUse = false;
  const failure = await activate("cpu");
  return failure === undefined ? { ok: true, detail: "the plain JavaScript cpu backend" } : {
    ok: false,
    detail: failure,
  };
}

async function tryWasm(): Promise<Attempt> {
  registerWasmKernels();
  const failure = await activate("wasm");
  if (failure !== undefined) return { ok: false, detail: `${failure}; ${wasmFailureHint()}` };
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  const threads = getThreadsCount();
  const native = await loadNative();
  if (native.ok) registerNativeKernels(native.library);
  return {
    ok: true,
    detail: `wasm with ${simd ? "SIMD" : "no SIMD"}, ${threads} thread${threads === 1 ? "" : "s"}` +
      ", fast convolution-gradient kernels registered" +
      (native.ok
        ? `; native convolution and matmul kernels on ${native.detail}`
        : `; native kernels not in use (${native.detail})`),
  };
}

async function tryWebGpu(probe: WebGpuProbe): Promise<Attempt> {
  if (!probe.usable) return { ok: false, detail: probe.reason };
  try {
    await import("@tensorflow/tfjs-backend-webgpu");
  } catch (e) {
    return { ok: false, detail: `@tensorflow/tfjs-backend-webgpu failed to load: ${(e as Error).message}` };
  }
  const failure = await activate("webgpu");
  if (failure !== undefined) return { ok: false, detail: `${probe.reason}, but ${failure}` };
  return { ok: true, detail: probe.reason, adapter: probe.adapter };
}
