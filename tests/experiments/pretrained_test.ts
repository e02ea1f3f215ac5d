import { assertEquals, assertGreater, assertLess } from "@std/assert";
import { loadExperiment, SCALES } from "../../lib/config/mod.ts";
import { parameterCount } from "../../lib/models/mod.ts";
import { pretrainedModel, pretrainedSchema } from "../../lib/experiments/mod.ts";
import { pretrain } from "../../tools/pretrain.ts";
import { setupBackend } from "../_helpers.ts";

await setupBackend();
const shipped = new URL("../../configs/pretrain-resnet50.yaml", import.meta.url).pathname;

Deno.test("configs/pretrain-resnet50.yaml describes a ResNet-50 at every scale, never narrower as the scale grows", async () => {
  const widths: number[] = [];
  for (const scale of SCALES) {
    const cfg = await loadExperiment(shipped, pretrainedSchema, scale);
    assertEquals(cfg.model.kind, "resnet50");
    assertEquals(cfg.onnx.inputLayout, "NHWC");
    if (cfg.model.kind === "resnet50") widths.push(cfg.model.baseWidth);
  }
  // smoke, course, full (for now course's network), paper (the full width).
  assertLess(widths[0], widths[1]);
  assertEquals(widths[2], widths[1]);
  assertEquals(widths[3], 64);
});

/** Runs `f` with the cache in a fresh temporary folder. */
async function withTempCache<T>(f: () => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir();
  const old = Deno.env.get("ADVEX_CACHE_DIR");
  Deno.env.set("ADVEX_CACHE_DIR", dir);
  try {
    return await f();
  } finally {
    if (old === undefined) Deno.env.delete("ADVEX_CACHE_DIR");
    else Deno.env.set("ADVEX_CACHE_DIR", old);
    await Deno.remove(dir, { recursive: true });
  }
}

const tiny = `
common:
  data: { dataset: mnist, seed: 0 }
  initSeed: 1
smoke:
  data: { trainSize: 200, testSize: 100 }
  model: { kind: resnet50, baseWidth: 1, stem: small, stemStride: 2 }
  train: { epochs: 1, batchSize: 100, optimizer: { name: adam, learningRate: 0.003 }, seed: 1 }
course: { data: { trainSize: 200 }, model: { kind: logistic }, train: { epochs: 1, batchSize: 10, optimizer: { name: adam, learningRate: 0.1 }, seed: 1 } }
paper: { data: { trainSize: 200 }, model: { kind: logistic }, train: { epochs: 1, batchSize: 10, optimizer: { name: adam, learningRate: 0.1 }, seed: 1 } }
`;

Deno.test("pretrainedModel() trains once, exports once, then loads both from the cache", async () => {
  await withTempCache(async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/tiny.yaml`, tiny);
    const cfg = await loadExperiment(`${dir}/tiny.yaml`, pretrainedSchema, "smoke");
    const first = await pretrainedModel(cfg, { progress: "silent" });
    assertEquals([first.trained.fromCache, first.exported], [false, true]);
    const second = await pretrainedModel(cfg, { progress: "silent" });
    assertEquals([second.trained.fromCache, second.exported], [true, false]);
    assertEquals(second.onnxPath, first.onnxPath);
    assertEquals(parameterCount(second.trained.model), parameterCount(first.trained.model));
    await Deno.remove(dir, { recursive: true });
  });
});

Deno.test("pretrain() (tools/pretrain.ts) checks the export against tfjs and saves its numbers", async () => {
  await withTempCache(async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/tiny.yaml`, tiny);
    const lines: string[] = [];
    const summary = await pretrain({
      scale: "smoke",
      config: `${dir}/tiny.yaml`,
      provider: "cpu",
      progress: "silent",
      log: (l) => lines.push(l),
    });
    assertEquals(summary.testSize, 100);
    assertEquals(summary.ortAccuracy, summary.tfjsAccuracy);
    assertLess(summary.maxLogitDifference, 1e-4);
    assertGreater(summary.onnxBytes, 1000);
    assertEquals(summary.ortProvider, "cpu");
    const saved = JSON.parse(await Deno.readTextFile(lines.at(-1)!.replace("results: ", "")));
    assertEquals(saved.tfjsAccuracy, summary.tfjsAccuracy);
    await Deno.remove(dir, { recursive: true });
  });
});
