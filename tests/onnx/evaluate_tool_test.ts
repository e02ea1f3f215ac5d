/**
 * `deno task evaluate` (tools/evaluate.ts): flags, data, the errors a user meets first, and a whole run on a
 * PyTorch-exported MNIST CNN from tests/onnx/fixtures/torch/ with 20 images.
 */
import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertLess,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { encodeIdx } from "../../lib/data/mod.ts";
import {
  DEFAULT_EPS,
  evaluateOnnxModel,
  formatReport,
  loadEvaluationData,
  parseEvaluateArgs,
} from "../../tools/evaluate.ts";
import { encodeModel, intsAttr } from "../../lib/onnx/model_proto.ts";
import { floatTensor } from "../../lib/onnx/tensor_data.ts";
import { setupBackend } from "../_helpers.ts";
import { graphModel, node, uniform } from "./_models.ts";

await setupBackend();
const fixture = (name: string) => new URL(`./fixtures/torch/${name}.onnx`, import.meta.url).pathname;
/** The MNIST CNN PyTorch trained for one epoch (about 98% clean accuracy), not adversarially. */
const mnistCnn = fixture("mnist_cnn_trained_opset13");
/** Flags that shrink AutoAttack's budget for a test run. */
const TINY = ["--steps", "10", "--square-queries", "50"];

Deno.test("parseEvaluateArgs() takes the documented flags with their defaults", () => {
  const a = parseEvaluateArgs(["m.onnx"]);
  assertEquals([a.model, a.data, a.norm, a.eps, a.n, a.version], [
    "m.onnx",
    "mnist",
    "linf",
    0.3,
    1000,
    "standard",
  ]);
  const b = parseEvaluateArgs([
    "m.onnx",
    "--data",
    "fashion-mnist",
    "--norm",
    "l2",
    "--n",
    "20",
    "--version",
    "rand",
    "--normalization",
    "0.5/0.25",
  ]);
  assertEquals([b.data, b.norm, b.eps, b.n, b.version], ["fashion-mnist", "l2", DEFAULT_EPS.l2, 20, "rand"]);
  assertEquals(b.normalization, { mean: [0.5], std: [0.25] });
  assertEquals(parseEvaluateArgs(["m.onnx", "--eps", "0.1"]).eps, 0.1);
});

Deno.test("parseEvaluateArgs() names the bad flag and the valid values", () => {
  assertThrows(() => parseEvaluateArgs([]), TypeError, "expected one model file, got none");
  assertThrows(() => parseEvaluateArgs(["m.onnx", "--bogus", "1"]), TypeError, "usage: deno task evaluate");
  assertThrows(
    () => parseEvaluateArgs(["m.onnx", "--norm", "l1"]),
    RangeError,
    "--norm must be one of linf, l2, got 'l1'",
  );
  assertThrows(
    () => parseEvaluateArgs(["m.onnx", "--eps=-1"]),
    RangeError,
    "--eps must be a finite number above 0",
  );
  assertThrows(() => parseEvaluateArgs(["m.onnx", "--eps", "abc"]), RangeError, "got 'abc'");
  assertThrows(
    () => parseEvaluateArgs(["m.onnx", "--eps", "2"]),
    RangeError,
    "above 1, the whole pixel range",
  );
  assertThrows(() => parseEvaluateArgs(["m.onnx", "--n", "0"]), RangeError, "--n must be an integer from 1");
  assertThrows(() => parseEvaluateArgs(["m.onnx", "--n", "2.5"]), RangeError, "got '2.5'");
  assertThrows(
    () => parseEvaluateArgs(["m.onnx", "--version", "plus"]),
    RangeError,
    "--version must be one of standard, rand",
  );
  assertThrows(
    () => parseEvaluateArgs(["m.onnx", "--normalization", "1,2/3"]),
    RangeError,
    "--normalization",
  );
});

Deno.test("loadEvaluationData() reads a folder of IDX files, gzipped or not, and names what is missing", async () => {
  const dir = await Deno.makeTempDir();
  const n = 6;
  const pixels = Uint8Array.from({ length: n * 4 * 5 * 3 }, (_, i) => (i * 37) % 256);
  await Deno.writeFile(`${dir}/test-images-idx4-ubyte`, encodeIdx([n, 4, 5, 3], pixels));
  const labels = Uint8Array.from([0, 1, 2, 0, 1, 2]);
  const gz = new Blob([encodeIdx([n], labels) as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  await Deno.writeFile(
    `${dir}/test-labels-idx1-ubyte.gz`,
    new Uint8Array(await new Response(gz).arrayBuffer()),
  );
  const ds = await loadEvaluationData(dir);
  assertEquals(ds.shape, [4, 5, 3]);
  assertEquals(ds.classes.length, 3);
  assertEquals(Array.from(ds.labels), [0, 1, 2, 0, 1, 2]);
  assertEquals(ds.images[1], Math.fround(37 / 255));
  await Deno.remove(`${dir}/test-labels-idx1-ubyte.gz`);
  await assertRejects(() => loadEvaluationData(dir), Error, 'no file whose name holds "labels"');
  await assertRejects(() => loadEvaluationData(`${dir}/nothing`), Error, "neither mnist nor fashion-mnist");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("evaluateOnnxModel() says a model file is missing, and that a model does not fit the data", async () => {
  await assertRejects(
    () => evaluateOnnxModel(parseEvaluateArgs(["/nonexistent/model.onnx", "--n", "20"])),
    Error,
    "ONNX model file /nonexistent/model.onnx not found",
  );
  const colour = fixture("cifar_mobile_opset13");
  await assertRejects(
    () => evaluateOnnxModel(parseEvaluateArgs([colour, "--n", "20"])),
    RangeError,
    "takes images [32, 32, 3] (H, W, C), but mnist/test holds images [28,28,1]",
  );
});

Deno.test("evaluateOnnxModel() gives a model of symbolic image size the data's size, and a custom attack list", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/any-size.onnx`;
  const model = graphModel(
    [
      node("Conv", ["x", "w", "b"], "conv", [intsAttr("kernel_shape", [3, 3])]),
      node("Relu", ["conv"], "relu"),
      node("GlobalAveragePool", ["relu"], "gap"),
      node("Flatten", ["gap"], "flat"),
      node("Gemm", ["flat", "fc"], "logits"),
    ],
    [
      floatTensor("w", [6, 1, 3, 3], uniform(54, 1)),
      floatTensor("b", [6], uniform(6, 2)),
      floatTensor("fc", [6, 10], uniform(60, 3)),
    ],
    { name: "x", shape: ["N", 1, "H", "W"] },
    { name: "logits", shape: ["N", 10] },
  );
  await Deno.writeFile(path, encodeModel(model));
  const args = parseEvaluateArgs([
    path,
    "--n",
    "20",
    "--attacks",
    "apgd-ce,square",
    ...TINY,
    "--progress",
    "silent",
  ]);
  const report = await evaluateOnnxModel(args);
  assertEquals(report.importAgreement, 1);
  assertEquals(report.autoAttack.version, "custom");
  assertEquals(report.autoAttack.perAttack.map((p) => p.name), ["APGD-CE", "Square"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task evaluate runs AutoAttack on a PyTorch MNIST CNN: clean and robust accuracy, the ONNX check", async () => {
  const out = `${await Deno.makeTempDir()}/report.json`;
  const args = parseEvaluateArgs([mnistCnn, "--n", "20", "--progress", "silent", "--out", out, ...TINY]);
  const report = await evaluateOnnxModel(args);
  assertEquals(report.n, 20);
  assertEquals(report.importAgreement, 1, "the tfjs import predicts what onnxruntime predicts");
  assertLess(report.importMaxLogitDiff, 1e-4);
  assertGreaterOrEqual(report.cleanAccuracy, 0.9);
  assertEquals(
    report.autoAttack.cleanAccuracy,
    report.cleanAccuracy,
    "the same clean accuracy in both engines",
  );
  // A network trained without adversaries does not survive eps = 0.3; onnxruntime agrees with the attack.
  assertLess(report.robustAccuracy, 0.2);
  assertLess(Math.abs(report.robustAccuracyOrt - report.robustAccuracy), 0.051);
  assertEquals(report.autoAttack.perAttack.map((p) => p.name), ["APGD-CE", "APGD-T", "FAB-T", "Square"]);
  assertEquals(report.settings.steps, 10);
  const table = formatReport(report);
  for (const row of ["clean accuracy", "after APGD-CE", "robust accuracy", "import check", "flags"]) {
    assert(table.includes(row), row);
  }
  const cli = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", "tools/evaluate.ts", mnistCnn, "--n", "20", "--out", out, ...TINY],
    cwd: new URL("../../", import.meta.url).pathname,
    env: { ADVEX_PROGRESS: "silent" },
  }).output();
  const stdout = new TextDecoder().decode(cli.stdout);
  assertEquals(cli.code, 0, new TextDecoder().decode(cli.stderr));
  assert(stdout.includes("robust accuracy"), stdout);
  const saved = JSON.parse(await Deno.readTextFile(out));
  assertEquals(saved.robustAccuracy, report.robustAccuracy, "same seed, same result");
  await Deno.remove(out);
});
