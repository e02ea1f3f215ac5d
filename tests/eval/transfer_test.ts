import * as tf from "@tensorflow/tfjs";
import { assertAlmostEquals, assertEquals, assertGreater, assertLessOrEqual } from "@std/assert";
import { makeAttack } from "../../lib/attacks/mod.ts";
import { transferAttack } from "../../lib/eval/mod.ts";
import { slice } from "../../lib/data/mod.ts";
import { exportOnnx, loadOrtModel } from "../../lib/onnx/mod.ts";
import { smallTrainedModel } from "../_helpers.ts";

const { model, classifier, test } = await smallTrainedModel();
const data = slice(test, 0, 120);
const fgsm = makeAttack({ kind: "fgsm", eps: 0.2 });

Deno.test("transferAttack() transfers every success to an identical copy of the source", async () => {
  const report = await transferAttack(classifier, { copy: (x) => classifier(x) }, data, fgsm);
  assertGreater(report.sourceSuccesses, 10);
  assertEquals(report.targets[0].transferred, report.sourceSuccesses);
  assertEquals(report.targets[0].transferRate, 1);
  assertEquals(report.targets[0].cleanAccuracy, report.sourceCleanAccuracy);
  assertEquals(report.targets[0].adversarialAccuracy, report.sourceAdversarialAccuracy);
});

Deno.test("transferAttack() counts as fooled exactly the source successes a target gets wrong", async () => {
  // A target that answers 0 whatever it sees is fooled by every success whose label is not 0.
  const zero = { predict: (x: tf.Tensor4D) => new Int32Array(x.shape[0]) };
  const report = await transferAttack(classifier, { zero }, data, fgsm);
  let expected = 0;
  for (let i = 0; i < report.n; i++) if (report.success[i] && data.labels[i] !== 0) expected++;
  assertEquals(report.targets[0].transferred, expected);
  assertAlmostEquals(report.targets[0].transferRate, expected / report.sourceSuccesses, 1e-12);
  assertEquals(report.targets[0].transferRateOnCorrect, 0);
});

Deno.test("transferAttack() counts only examples the source got right, unless told otherwise", async () => {
  const strict = await transferAttack(classifier, {}, data, makeAttack({ kind: "fgsm", eps: 0 }));
  assertEquals(strict.sourceSuccesses, 0);
  assertEquals(strict.eligible, Math.round(strict.sourceCleanAccuracy * strict.n));
  const loose = await transferAttack(classifier, {}, data, makeAttack({ kind: "fgsm", eps: 0 }), {
    onlyCorrect: false,
  });
  assertEquals(loose.eligible, loose.n);
  assertEquals(loose.sourceSuccesses, loose.n - Math.round(loose.sourceCleanAccuracy * loose.n));
});

Deno.test("transferAttack() gives an onnxruntime target the same rate as the tfjs model it was exported from", async () => {
  const ort = await loadOrtModel(exportOnnx(model), { provider: "cpu" });
  const report = await transferAttack(classifier, { tfjs: classifier, onnx: ort }, data, fgsm, {
    batchSize: 50,
  });
  assertEquals(report.targets[1].transferred, report.targets[0].transferred);
  assertEquals(report.targets[1].cleanAccuracy, report.targets[0].cleanAccuracy);
  await ort.dispose();
});

Deno.test("transferAttack() keeps adversarial images inside the ball and leaks no tensors", async () => {
  await transferAttack(classifier, { copy: classifier }, slice(data, 0, 20), fgsm);
  const before = tf.memory().numTensors;
  const report = await transferAttack(classifier, { copy: classifier }, data, fgsm, {
    keepAdversarial: true,
    batchSize: 32,
  });
  assertEquals(tf.memory().numTensors, before);
  const adv = report.adversarial!;
  assertEquals(adv.length, data.images.length);
  let worst = 0;
  for (let i = 0; i < adv.length; i++) worst = Math.max(worst, Math.abs(adv[i] - data.images[i]));
  assertLessOrEqual(worst, 0.2 + 1e-6);
  assertGreater(worst, 0.19);
});

Deno.test("transferAttack() judges the source with sourcePredictor when given, still crafting on its gradients", async () => {
  const attack = makeAttack({ kind: "fgsm", eps: 0.2 });
  const own = await transferAttack(classifier, {}, data, attack);
  // The same network as a predictor gives the same report; an oracle that always answers the true label
  // leaves no source success at all, although the crafted images are the same.
  const same = await transferAttack(classifier, {}, data, attack, {
    sourcePredictor: {
      predict: (x: tf.Tensor4D) => tf.tidy(() => classifier(x).argMax(-1).dataSync() as Int32Array),
    },
  });
  assertEquals(same.success, own.success);
  let start = 0;
  let oracleCalls = 0;
  const oracle = {
    predict: (x: tf.Tensor4D) => {
      // Called once on the clean batch and once on its adversarial images, in that order.
      const out = Int32Array.from(data.labels.subarray(start, start + x.shape[0]));
      if (oracleCalls++ % 2 === 1) start += x.shape[0];
      return out;
    },
  };
  const judged = await transferAttack(classifier, {}, data, attack, { sourcePredictor: oracle });
  assertEquals(judged.sourceCleanAccuracy, 1);
  assertEquals(judged.sourceSuccesses, 0);
});
