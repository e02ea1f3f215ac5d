import { assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { join } from "node:path";
import { probeWebGpu } from "../../lib/backend/mod.ts";
import {
  chooseOrtProvider,
  describeOrtProvider,
  ORT_PROVIDER_ENV_VAR,
  ortBinaryFolder,
} from "../../lib/onnx/mod.ts";
import { exists } from "../../lib/util/fs.ts";

const cudaInstalled = await exists(join(ortBinaryFolder(), "libonnxruntime_providers_cuda.so"));
const webgpuUsable = (await probeWebGpu()).usable;

function withEnv<T>(value: string | undefined, f: () => T): T {
  const old = Deno.env.get(ORT_PROVIDER_ENV_VAR);
  if (value === undefined) Deno.env.delete(ORT_PROVIDER_ENV_VAR);
  else Deno.env.set(ORT_PROVIDER_ENV_VAR, value);
  try {
    return f();
  } finally {
    if (old === undefined) Deno.env.delete(ORT_PROVIDER_ENV_VAR);
    else Deno.env.set(ORT_PROVIDER_ENV_VAR, old);
  }
}

Deno.test("chooseOrtProvider() takes CUDA, else a real WebGPU adapter, else the CPU, and says why", async () => {
  const report = await withEnv(undefined, () => chooseOrtProvider());
  assertEquals(report.requested, "auto");
  if (!cudaInstalled && !webgpuUsable) {
    assertEquals(report.name, "cpu");
    assertMatch(report.reason, /cuda: no CUDA provider libraries/);
    assertMatch(report.reason, /webgpu: no usable WebGPU/);
  }
  assertMatch(describeOrtProvider(report), new RegExp(`^${report.name} \\(requested auto\\): `));
});

Deno.test("chooseOrtProvider() honours an explicit request and ADVEX_ORT_PROVIDER", async () => {
  assertEquals((await chooseOrtProvider({ provider: "cpu" })).name, "cpu");
  const fromEnv = await withEnv("CPU", () => chooseOrtProvider());
  assertEquals(fromEnv.name, "cpu");
  assertMatch(fromEnv.reason, /requested by ADVEX_ORT_PROVIDER/);
});

Deno.test("chooseOrtProvider() refuses unknown names and providers that cannot run here", async () => {
  assertThrows(
    () => withEnv("tpu", () => chooseOrtProvider()),
    Error,
    "valid values are auto, cuda, webgpu, cpu",
  );
  if (!cudaInstalled) {
    await assertRejects(
      () => chooseOrtProvider({ provider: "cuda" }),
      Error,
      "provider cuda was requested but no CUDA provider libraries",
    );
  }
  if (!webgpuUsable) {
    await assertRejects(
      () => chooseOrtProvider({ provider: "webgpu" }),
      Error,
      "provider webgpu was requested but no usable WebGPU",
    );
  }
});
