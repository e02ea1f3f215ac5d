import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import {
  BACKEND_ENV_VAR,
  type BackendRequest,
  describeBackend,
  initBackend,
  probeWebGpu,
  resetBackendSelection,
  wasmKernelsRegistered,
} from "../../lib/backend/mod.ts";
import type { AdapterLike, GpuLike } from "../../lib/backend/webgpu_probe.ts";

/** Runs `fn` with `ADVEX_BACKEND` set to `value` (or unset), restoring it afterwards. */
async function withEnv<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const before = Deno.env.get(BACKEND_ENV_VAR);
  if (value === undefined) Deno.env.delete(BACKEND_ENV_VAR);
  else Deno.env.set(BACKEND_ENV_VAR, value);
  try {
    return await fn();
  } finally {
    if (before === undefined) Deno.env.delete(BACKEND_ENV_VAR);
    else Deno.env.set(BACKEND_ENV_VAR, before);
  }
}

/** Runs `fn` with `navigator.gpu` replaced by `gpu`, restoring the runtime's own afterwards. */
async function withGpu<T>(gpu: GpuLike | undefined, fn: () => Promise<T>): Promise<T> {
  Object.defineProperty(navigator, "gpu", { value: gpu, configurable: true, writable: true });
  try {
    return await fn();
  } finally {
    delete (navigator as unknown as { gpu?: unknown }).gpu;
  }
}

function fakeGpu(adapter: AdapterLike | null): GpuLike {
  return { requestAdapter: () => Promise.resolve(adapter) };
}

const machine = await probeWebGpu();

Deno.test("initBackend() selects cpu when options.backend is cpu", async () => {
  const report = await initBackend({ backend: "cpu" });
  assertEquals(report.name, "cpu");
  assertEquals(report.requested, "cpu");
  assertEquals(tf.getBackend(), "cpu");
});

Deno.test("initBackend() selects wasm with the wasm kernels when options.backend is wasm", async () => {
  const report = await initBackend({ backend: "wasm" });
  assertEquals(report.name, "wasm");
  assertEquals(tf.getBackend(), "wasm");
  assert(wasmKernelsRegistered());
  assertEquals(tf.tidy(() => tf.add(tf.scalar(2), tf.scalar(3)).dataSync()[0]), 5);
});

Deno.test("initBackend() follows ADVEX_BACKEND when no backend option is given", async () => {
  await withEnv("cpu", async () => {
    assertEquals((await initBackend()).name, "cpu");
    assertEquals(tf.getBackend(), "cpu");
  });
  await withEnv(" WASM ", async () => {
    const report = await initBackend();
    assertEquals(report.name, "wasm");
    assertEquals(tf.getBackend(), "wasm");
  });
});

Deno.test("initBackend() prefers options.backend over ADVEX_BACKEND", async () => {
  await withEnv("wasm", async () => {
    assertEquals((await initBackend({ backend: "cpu" })).name, "cpu");
    assertEquals(tf.getBackend(), "cpu");
  });
});

Deno.test("initBackend() rejects an unknown backend name and lists the valid ones", async () => {
  const error = await assertRejects(() => initBackend({ backend: "tpu" as BackendRequest }), Error);
  assertStringIncludes(error.message, "'tpu'");
  assertStringIncludes(error.message, "auto, webgpu, wasm, cpu");
  await withEnv("gpu", async () => {
    const fromEnv = await assertRejects(() => initBackend(), Error);
    assertStringIncludes(fromEnv.message, BACKEND_ENV_VAR);
    assertStringIncludes(fromEnv.message, "auto, webgpu, wasm, cpu");
  });
});

Deno.test({
  name: "initBackend() explains why an explicit webgpu request cannot be met without a hardware GPU",
  ignore: machine.usable,
  fn: async () => {
    const error = await assertRejects(() => initBackend({ backend: "webgpu" }), Error);
    assertMatch(error.message, /^webgpu was requested but /);
    assertStringIncludes(error.message, machine.reason);
    assertNotEquals(tf.getBackend(), "webgpu");
  },
});

Deno.test("initBackend() names the software fallback adapter when webgpu is requested on one", async () => {
  const llvmpipe = { info: { description: "llvmpipe (LLVM 15.0.6, 256 bits)", isFallbackAdapter: true } };
  await withGpu(fakeGpu(llvmpipe), async () => {
    resetBackendSelection();
    const error = await assertRejects(() => initBackend({ backend: "webgpu" }), Error);
    assertEquals(
      error.message,
      "webgpu was requested but only a software fallback adapter (llvmpipe (LLVM 15.0.6, 256 bits)) exists",
    );
  });
});

Deno.test("initBackend() never picks a software fallback adapter in auto mode", async () => {
  const fallbacks: AdapterLike[] = [
    { info: { description: "llvmpipe (LLVM 15.0.6, 256 bits)", isFallbackAdapter: true } },
    { info: { description: "SwiftShader Device" } },
    { info: { description: "some adapter" }, isFallbackAdapter: true },
  ];
  for (const adapter of fallbacks) {
    await withGpu(fakeGpu(adapter), async () => {
      resetBackendSelection();
      const report = await initBackend({ backend: "auto" });
      assertEquals(report.name, "wasm");
      assertStringIncludes(report.reason, "software fallback adapter");
      assertEquals(tf.getBackend(), "wasm");
    });
  }
  if (!machine.usable) {
    resetBackendSelection();
    const report = await initBackend({ backend: "auto" });
    assertNotEquals(report.name, "webgpu");
    assertEquals(tf.getBackend(), report.name);
  }
});

Deno.test("initBackend() falls back to wasm when the webgpu backend cannot start on the adapter", async () => {
  // A hardware-looking adapter that cannot create a device, so tf.setBackend("webgpu") fails.
  const broken = { info: { description: "Broken GPU 9000", isFallbackAdapter: false } };
  await withGpu(fakeGpu(broken), async () => {
    resetBackendSelection();
    const report = await initBackend({ backend: "auto" });
    assertEquals(report.name, "wasm");
    assertStringIncludes(report.reason, "Broken GPU 9000");
    assertEquals(tf.getBackend(), "wasm");
  });
});

Deno.test("initBackend() returns the cached report for a repeated request", async () => {
  resetBackendSelection();
  const first = await initBackend({ backend: "auto" });
  await tf.setBackend("cpu");
  const start = performance.now();
  const second = await initBackend({ backend: "auto" });
  assert(second === first, "a new report was made");
  assertEquals(tf.getBackend(), first.name);
  assert(performance.now() - start < 50, "the repeated request did work again");
});

Deno.test("describeBackend() gives one line naming the backend, the request and the reason", async () => {
  const report = await initBackend({ backend: "wasm" });
  const line = describeBackend(report);
  assert(!line.includes("\n"));
  assertMatch(line, /^wasm \(requested wasm\): wasm with SIMD|^wasm \(requested wasm\): wasm with no SIMD/);
  assertEquals(
    describeBackend({
      name: "webgpu",
      adapter: "NVIDIA H100",
      reason: "hardware adapter",
      requested: "auto",
    }),
    "webgpu on NVIDIA H100 (requested auto): hardware adapter",
  );
});

Deno.test("probeWebGpu() reports missing, failing, slow and hardware adapters", async () => {
  assertEquals((await probeWebGpu({ gpu: null })).reason, "this runtime has no navigator.gpu");
  assertEquals((await probeWebGpu({ gpu: fakeGpu(null) })).reason, "no WebGPU adapter was found");
  const failing = { requestAdapter: () => Promise.reject(new Error("driver crashed")) };
  assertStringIncludes((await probeWebGpu({ gpu: failing })).reason, "driver crashed");
  const slow = { requestAdapter: () => new Promise<null>(() => {}) };
  assertStringIncludes(
    (await probeWebGpu({ gpu: slow, timeoutMs: 20 })).reason,
    "did not answer within 20 ms",
  );
  const hardware = await probeWebGpu({
    gpu: fakeGpu({ info: { description: "NVIDIA H100", vendor: "nvidia" } }),
  });
  assertEquals(hardware, {
    usable: true,
    adapter: "NVIDIA H100",
    fallback: false,
    reason: "hardware adapter NVIDIA H100",
  });
});
