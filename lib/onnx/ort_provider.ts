/**
 * Choosing the onnxruntime execution provider from what really loads here: CUDA when its provider libraries
 * are installed and a session runs on it, else WebGPU when a hardware GPU adapter exists (never a software
 * fallback adapter) and a session runs on it, else the CPU provider bundled with onnxruntime-node.
 *
 * onnxruntime-node is loaded on first use (it is a native module: Deno needs `--allow-ffi`), so importing
 * advex does not load it.
 * @module
 */
import type * as Ort from "onnxruntime-node";
import { join } from "node:path";
import { probeWebGpu } from "../backend/webgpu_probe.ts";
import { exists, repoRoot } from "../util/fs.ts";
import { readEnv } from "../util/env.ts";
import { DataType, encodeModel, type OnnxModel } from "./model_proto.ts";

/** An onnxruntime execution provider advex can use. */
export type OrtProviderName = "cpu" | "webgpu" | "cuda";

/** A provider request: a provider, or "auto" for the best one that works. */
export type OrtProviderRequest = OrtProviderName | "auto";

/** Every valid request. */
export const ORT_PROVIDER_REQUESTS: readonly OrtProviderRequest[] = ["auto", "cuda", "webgpu", "cpu"];

/** The environment variable read when no provider is passed in the options. */
export const ORT_PROVIDER_ENV_VAR = "ADVEX_ORT_PROVIDER";

/** Which provider was chosen and why. */
export interface OrtProviderReport {
  name: OrtProviderName;
  /** Why this provider, including what was tried before it. */
  reason: string;
  /** What was asked for. */
  requested: OrtProviderRequest;
}

/** Options of {@linkcode chooseOrtProvider}. */
export interface OrtProviderOptions {
  /** The provider to use; default: env `ADVEX_ORT_PROVIDER`, else "auto". */
  provider?: OrtProviderRequest;
}

let ortModule: Promise<typeof Ort> | undefined;

/** Loads onnxruntime-node (once), with an error that says what to do when it cannot load. */
export function loadOrt(): Promise<typeof Ort> {
  ortModule ??= import("onnxruntime-node").catch((e) => {
    ortModule = undefined;
    throw new Error(
      `onnxruntime-node could not be loaded (${
        (e as Error).message
      }); run with --allow-ffi (deno run -A) after installing the npm dependencies`,
      { cause: e },
    );
  }) as Promise<typeof Ort>;
  return ortModule;
}

/** The folder holding onnxruntime-node's native libraries for this platform. */
export function ortBinaryFolder(): string {
  const os = Deno.build.os === "windows" ? "win32" : Deno.build.os;
  const arch = Deno.build.arch === "x86_64" ? "x64" : "arm64";
  return join(repoRoot, "node_modules", "onnxruntime-node", "bin", "napi-v6", os, arch);
}

const reports = new Map<string, Promise<OrtProviderReport>>();

/**
 * Chooses (once per request and where it came from) the execution provider sessions will use, and says why. An explicit request
 * that cannot be met is an error naming the reason; an unknown name is an error listing the valid ones.
 */
export function chooseOrtProvider(options: OrtProviderOptions = {}): Promise<OrtProviderReport> {
  const { request, source } = resolveRequest(options);
  const key = `${request} ${source}`;
  let pending = reports.get(key);
  if (!pending) {
    pending = select(request, source);
    reports.set(key, pending);
    pending.catch(() => reports.delete(key));
  }
  return pending;
}

/** One readable line, e.g. `cpu (requested auto): no CUDA provider libraries; no usable WebGPU (...)`. */
export function describeOrtProvider(report: OrtProviderReport): string {
  return `${report.name} (requested ${report.requested}): ${report.reason}`;
}

function resolveRequest(options: OrtProviderOptions): { request: OrtProviderRequest; source: string } {
  let raw: unknown = options.provider;
  let source = "options.provider";
  if (raw === undefined) {
    const env = readEnv(ORT_PROVIDER_ENV_VAR);
    if (env === undefined || env.trim() === "") return { request: "auto", source: "default" };
    raw = env;
    source = ORT_PROVIDER_ENV_VAR;
  }
  const name = String(raw).trim().toLowerCase();
  if (!(ORT_PROVIDER_REQUESTS as readonly string[]).includes(name)) {
    throw new Error(
      `unknown onnxruntime provider '${String(raw)}' (from ${source}): valid values are ${
        ORT_PROVIDER_REQUESTS.join(", ")
      }`,
    );
  }
  return { request: name as OrtProviderRequest, source };
}

/** A one-node model (Relu on [1, 4]) used to check that a provider really runs. */
function probeModel(): Uint8Array {
  const model: OnnxModel = {
    irVersion: 8,
    opsetImport: [{ domain: "", version: 13 }],
    producerName: "advex",
    producerVersion: "",
    docString: "",
    graph: {
      name: "probe",
      nodes: [{ opType: "Relu", inputs: ["x"], outputs: ["y"], name: "relu", domain: "", attributes: [] }],
      initializers: [],
      inputs: [{ name: "x", elemType: DataType.float, shape: [1, 4] }],
      outputs: [{ name: "y", elemType: DataType.float, shape: [1, 4] }],
    },
    metadata: {},
  };
  return encodeModel(model);
}

type Attempt = { ok: true; detail: string } | { ok: false; detail: string };

async function trySession(name: OrtProviderName): Promise<Attempt> {
  try {
    const ort = await loadOrt();
    const session = await ort.InferenceSession.create(probeModel(), {
      executionProviders: [name],
      logSeverityLevel: 3,
    });
    try {
      const out = await session.run({
        x: new ort.Tensor("float32", new Float32Array([-1, 0, 2, -3]), [1, 4]),
      });
      const y = Array.from(out.y.data as Float32Array);
      if (y.join(",") !== "0,0,2,0") return { ok: false, detail: `a test run on ${name} gave [${y}]` };
    } finally {
      await session.release();
    }
    return { ok: true, detail: `a test session ran on ${name}` };
  } catch (e) {
    return { ok: false, detail: `a session on ${name} failed: ${(e as Error).message.split("\n")[0]}` };
  }
}

async function listed(): Promise<Set<string>> {
  const ort = await loadOrt();
  return new Set(ort.listSupportedBackends().map((b) => b.name));
}

async function tryCuda(): Promise<Attempt> {
  if (!(await listed()).has("cuda")) {
    return { ok: false, detail: "this onnxruntime-node build has no CUDA provider" };
  }
  const lib = Deno.build.os === "windows"
    ? "onnxruntime_providers_cuda.dll"
    : "libonnxruntime_providers_cuda.so";
  const path = join(ortBinaryFolder(), lib);
  if (!(await exists(path))) {
    // Asking onnxruntime for CUDA without its libraries logs a long error before throwing: check first.
    return {
      ok: false,
      detail:
        `no CUDA provider libraries (${lib} is not installed; ONNXRUNTIME_NODE_INSTALL=cuda12 at install time brings them)`,
    };
  }
  return await trySession("cuda");
}

async function tryWebGpu(): Promise<Attempt> {
  if (!(await listed()).has("webgpu")) {
    return { ok: false, detail: "this onnxruntime-node build has no WebGPU provider" };
  }
  const probe = await probeWebGpu();
  if (!probe.usable) return { ok: false, detail: `no usable WebGPU (${probe.reason})` };
  const run = await trySession("webgpu");
  return run.ok
    ? { ok: true, detail: `WebGPU on ${probe.reason}` }
    : { ok: false, detail: `${probe.reason}, but ${run.detail}` };
}

async function select(request: OrtProviderRequest, source: string): Promise<OrtProviderReport> {
  const asked = source === "default" ? "" : ` (requested by ${source})`;
  const tries: Record<OrtProviderName, () => Promise<Attempt>> = {
    cuda: tryCuda,
    webgpu: tryWebGpu,
    cpu: async () => {
      const run = await trySession("cpu");
      return run.ok ? { ok: true, detail: "the CPU provider bundled with onnxruntime-node" } : run;
    },
  };
  if (request !== "auto") {
    const got = await tries[request]();
    if (!got.ok) throw new Error(`onnxruntime provider ${request} was requested but ${got.detail}`);
    return { name: request, reason: `${got.detail}${asked}`, requested: request };
  }
  const failures: string[] = [];
  for (const name of ["cuda", "webgpu", "cpu"] as const) {
    const got = await tries[name]();
    if (got.ok) {
      const before = failures.length ? `${failures.join("; ")}; ` : "";
      return { name, reason: `${before}${got.detail}`, requested: "auto" };
    }
    failures.push(`${name}: ${got.detail}`);
  }
  throw new Error(`no onnxruntime provider works: ${failures.join("; ")}`);
}
