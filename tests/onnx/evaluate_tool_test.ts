/**
 * `deno task evaluate` (tools/evaluate.ts): flags, data, the errors a user meets first, and a whole run on a
 * PyTorch-exported MNIST CNN from tests/onnx/fixtures/torch/ with 20 images.
 */
import { assert, assertEquals, assertGreaterOrEqual, assertRejects, assertThrows } from "@std/assert";
import { encodeIdx } from "../../lib/data/mod.ts";
import {
  DEFAULT_EPS,
  evaluateOnnxModel,
  formatReport,
  loadEvaluationData,
  parseEvaluateArgs,
} from "../../tools/evaluate.ts";
import { setupBackend } from "../_helpers.ts";

await setupBackend();
const fixture = (name: string) => new URL(`./fixtures/torch/${name}.onnx`, import.meta.url).pathname;
const mnistCnn = fixture("mnist_cnn_opset17");
/** Flags that shrink AutoAttack's budget for a test run. */
const TINY: string[] = [];

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

const haveAutoAttack = await Deno.stat(new URL("../../lib/eval/autoattack.ts", import.meta.url)).then(
  () => true,
  () => false,
);

Deno.test({
  name:
    "evaluateOnnxModel() runs AutoAttack on a PyTorch MNIST CNN: clean and robust accuracy, the ONNX check",
  ignore: !haveAutoAttack,
  async fn() {
    const args = parseEvaluateArgs([mnistCnn, "--n", "20", "--eps", "0.3", "--progress", "silent", ...TINY]);
    const report = await evaluateOnnxModel(args);
    assertEquals(report.n, 20);
    assertEquals(report.importAgreement, 1, "the tfjs import predicts what onnxruntime predicts");
    assert(report.importMaxLogitDiff < 1e-4);
    assertGreaterOrEqual(report.cleanAccuracy, report.robustAccuracyOrt);
    assertGreaterOrEqual(report.cleanAccuracy, report.robustAccuracy);
    const table = formatReport(report);
    for (const row of ["clean accuracy", "robust accuracy", "import check", "flags"]) {
      assert(table.includes(row), row);
    }
    JSON.parse(JSON.stringify(report));
  },
});
