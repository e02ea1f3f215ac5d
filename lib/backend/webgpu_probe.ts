/**
 * Finding out whether this runtime has a WebGPU adapter worth using.
 * @module
 */

/** What {@linkcode probeWebGpu} found. */
export interface WebGpuProbe {
  /** Whether a hardware adapter is available (never true for a software fallback adapter). */
  usable: boolean;
  /** A readable name for the adapter, when there is one (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"). */
  adapter?: string;
  /** Whether the only adapter is a software fallback (such as llvmpipe or SwiftShader). */
  fallback: boolean;
  /** Why the adapter is or is not usable, as a phrase ("no WebGPU adapter was found", ...). */
  reason: string;
}

/** Options of {@linkcode probeWebGpu}. */
export interface ProbeWebGpuOptions {
  /** The `navigator.gpu` object to query; defaults to the runtime's own. */
  gpu?: GpuLike | null;
  /** How long to wait for `requestAdapter()`, in milliseconds (default 10 000). */
  timeoutMs?: number;
}

/** The part of `GPU` ({@link https://www.w3.org/TR/webgpu/#gpu-interface}) the probe uses. */
export interface GpuLike {
  requestAdapter(
    options?: { powerPreference?: "low-power" | "high-performance" },
  ): Promise<AdapterLike | null>;
}

/** The part of `GPUAdapter` the probe uses (older runtimes put the flag on the adapter itself). */
export interface AdapterLike {
  info?: AdapterInfoLike;
  isFallbackAdapter?: boolean;
}

/** The part of `GPUAdapterInfo` the probe uses. */
export interface AdapterInfoLike {
  description?: string;
  device?: string;
  vendor?: string;
  architecture?: string;
  isFallbackAdapter?: boolean;
}

/**
 * On Linux, asks Deno's WebGPU for its Vulkan backend only (`DENO_WEBGPU_BACKEND=vulkan`) unless the variable
 * is set already. GPUs are reached through Vulkan there; the OpenGL backend only ever finds a software
 * renderer, and loading it (libEGL) made processes abort at exit now and then, in libEGL's own destructor.
 */
export function preferVulkanOnLinux(): void {
  if (Deno.build.os !== "linux") return;
  try {
    if (Deno.env.get("DENO_WEBGPU_BACKEND") === undefined) Deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
  } catch { /* no env permission: keep Deno's default */ }
}

/** Returns the runtime's `navigator.gpu`, or undefined where there is none. */
export function runtimeGpu(): GpuLike | undefined {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  return nav?.gpu ?? undefined;
}

/** Returns a readable name for an adapter. */
export function adapterName(adapter: AdapterLike): string {
  const info = adapter.info ?? {};
  const parts = [info.description, info.device, info.vendor, info.architecture];
  return parts.find((p) => typeof p === "string" && p.trim() !== "" && p !== "0")?.trim() ??
    "unnamed adapter";
}

/** Whether an adapter is a software fallback, by its flag (on `info` or on the adapter) or its name. */
export function isFallbackAdapter(adapter: AdapterLike): boolean {
  if (adapter.info?.isFallbackAdapter === true || adapter.isFallbackAdapter === true) return true;
  return /\b(llvmpipe|lavapipe|swiftshader|softpipe|microsoft basic render driver)\b/i.test(
    adapter.info?.description ?? "",
  );
}

/**
 * Asks WebGPU for a high-performance adapter and tells whether it is usable: there is one, it answered in
 * time, and it is not a software fallback (those crash on synchronous reads and are slower than wasm).
 * Never throws.
 */
export async function probeWebGpu(options: ProbeWebGpuOptions = {}): Promise<WebGpuProbe> {
  if (!("gpu" in options)) preferVulkanOnLinux();
  const gpu = "gpu" in options ? options.gpu : runtimeGpu();
  if (gpu === undefined || gpu === null) {
    return { usable: false, fallback: false, reason: "this runtime has no navigator.gpu" };
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let adapter: AdapterLike | null;
  try {
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const answer = await Promise.race([gpu.requestAdapter({ powerPreference: "high-performance" }), timeout]);
    if (answer === "timeout") {
      return {
        usable: false,
        fallback: false,
        reason: `requestAdapter() did not answer within ${timeoutMs} ms`,
      };
    }
    adapter = answer;
  } catch (e) {
    return { usable: false, fallback: false, reason: `requestAdapter() failed: ${(e as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
  if (adapter === null || adapter === undefined) {
    return { usable: false, fallback: false, reason: "no WebGPU adapter was found" };
  }
  const name = adapterName(adapter);
  if (isFallbackAdapter(adapter)) {
    return {
      usable: false,
      adapter: name,
      fallback: true,
      reason: `only a software fallback adapter (${name}) exists`,
    };
  }
  return { usable: true, adapter: name, fallback: false, reason: `hardware adapter ${name}` };
}
