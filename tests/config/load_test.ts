import { assertEquals, assertRejects, assertStringIncludes, assertThrows } from "@std/assert";
import {
  ConfigError,
  currentScale,
  int,
  list,
  loadExperiment,
  num,
  obj,
  optional,
  parseExperiment,
  scaleLabel,
  settingsScale,
  str,
} from "../../lib/config/mod.ts";

const schema = obj({
  data: obj({ dataset: str(["mnist", "fashion-mnist"]), trainSize: optional(int({ min: 1 }), 0) }),
  train: obj({ epochs: int({ min: 1 }), learningRate: num({ min: 0 }) }),
  eps: list(num({ min: 0 })),
});

const yaml = `
common:
  data: { dataset: mnist }
  eps: [0, 0.1]
smoke:
  train: { epochs: 1, learningRate: 0.01 }
course:
  data: { trainSize: 1000 }
  train: { epochs: 3, learningRate: 0.001 }
paper:
  train: { epochs: 100, learningRate: 0.0001 }
`;

Deno.test("parseExperiment() merges common settings under the chosen scale and fills defaults", () => {
  const smoke = parseExperiment(yaml, schema, "smoke");
  assertEquals(smoke, {
    data: { dataset: "mnist", trainSize: 0 },
    train: { epochs: 1, learningRate: 0.01 },
    eps: [0, 0.1],
  });
  assertEquals(parseExperiment(yaml, schema, "course").data.trainSize, 1000);
});

Deno.test("parseExperiment() reads a section given as another scale's name as that scale's settings", () => {
  const named = yaml + "full: course\n";
  assertEquals(parseExperiment(named, schema, "full"), parseExperiment(yaml, schema, "course"));
  assertThrows(() => parseExperiment(yaml + "full: huge\n", schema, "full"), ConfigError, 'got "huge"');
  assertThrows(() => parseExperiment(yaml + "full: full\n", schema, "full"), ConfigError, "another scale");
  const dangling = yaml.replace(/paper:\n.*\n/, "") + "full: paper\n";
  assertThrows(() => parseExperiment(dangling, schema, "full"), ConfigError, 'stands for "paper"');
});

Deno.test("settingsScale() and scaleLabel() say when a scale runs another scale's settings", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/c.yaml`;
    await Deno.writeTextFile(path, yaml + "full: course\n");
    assertEquals(await settingsScale(path, "full"), "course");
    assertEquals(await settingsScale(path, "paper"), "paper");
    assertEquals(scaleLabel("course", "course").markdown, "`course`");
    assertEquals(
      scaleLabel("full", "course").markdown,
      "`full` (this chapter runs its `course` settings there; its config says why)",
    );
    await assertRejects(() => settingsScale(`${dir}/none.yaml`, "full"), ConfigError, "not found");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseExperiment() names an unknown key, its path and the likely intended key", () => {
  const bad = yaml.replace("epochs: 3", "epoch: 3");
  const err = assertThrows(() => parseExperiment(bad, schema, "course", "exp.yaml"), ConfigError);
  assertStringIncludes(err.message, "exp.yaml: course.train.epoch: unknown key");
  assertStringIncludes(err.message, `did you mean "epochs"`);
});

Deno.test("parseExperiment() names a wrong type and what was expected", () => {
  const bad = yaml.replace("epochs: 3", "epochs: three");
  assertThrows(
    () => parseExperiment(bad, schema, "course", "exp.yaml"),
    ConfigError,
    `course.train.epochs: expected an integer in [1, inf], got "three"`,
  );
  const badChoice = yaml.replace("dataset: mnist", "dataset: cifar");
  assertThrows(
    () => parseExperiment(badChoice, schema, "smoke"),
    ConfigError,
    `one of "mnist", "fashion-mnist"`,
  );
});

Deno.test("parseExperiment() reports a missing key, a missing scale and an unknown top-level key", () => {
  assertThrows(
    () => parseExperiment(yaml.replace("learningRate: 0.01", "x: 1"), schema, "smoke"),
    ConfigError,
    "unknown key",
  );
  assertThrows(
    () => parseExperiment("smoke:\n  eps: []\n", schema, "smoke"),
    ConfigError,
    "smoke.data: missing",
  );
  assertThrows(() => parseExperiment("smoke: {}\n", schema, "paper"), ConfigError, `has no "paper" section`);
  assertThrows(
    () => parseExperiment(yaml + "\nfast: {}\n", schema, "smoke"),
    ConfigError,
    "fast: unknown top-level key",
  );
});

Deno.test("currentScale() defaults to course and rejects an unknown scale", () => {
  assertEquals(currentScale("paper"), "paper");
  assertThrows(() => currentScale("huge"), ConfigError, "unknown scale");
});

Deno.test("loadExperiment() reads every shipped config at every scale", async () => {
  const { notebook01Schema } = await import("../../lib/experiments/generalization.ts");
  for (const scale of ["smoke", "course", "paper"] as const) {
    const cfg = await loadExperiment(
      new URL("../../configs/01-generalization-vs-robustness.yaml", import.meta.url),
      notebook01Schema,
      scale,
    );
    assertEquals(cfg.attack.eps, 0.3);
  }
  await assertRejects(() => loadExperiment("/nonexistent.yaml", schema, "smoke"), ConfigError, "not found");
});

Deno.test("backendSchema lets a config pin the backend and rejects an unknown one", async () => {
  const { notebook01Schema } = await import("../../lib/experiments/generalization.ts");
  const text = await Deno.readTextFile(
    new URL("../../configs/01-generalization-vs-robustness.yaml", import.meta.url),
  );
  assertEquals(parseExperiment(text, notebook01Schema, "smoke").backend, undefined);
  assertEquals(
    parseExperiment(text.replace("common:\n", "common:\n  backend: cpu\n"), notebook01Schema, "smoke")
      .backend,
    "cpu",
  );
  assertThrows(
    () => parseExperiment(text.replace("common:\n", "common:\n  backend: gpu\n"), notebook01Schema, "smoke"),
    ConfigError,
    `smoke.backend: expected one of "auto", "webgpu", "wasm", "cpu"`,
  );
});
