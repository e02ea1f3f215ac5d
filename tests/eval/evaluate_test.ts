import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertLess } from "@std/assert";
import { makeAttack } from "../../lib/attacks/mod.ts";
import { imagesTensor } from "../../lib/data/mod.ts";
import { accuracyVsEps, evaluate } from "../../lib/eval/mod.ts";
import { setupBackend, smallTrainedModel } from "../_helpers.ts";

await setupBackend();
const { classifier, test } = await smallTrainedModel();

Deno.test("evaluate() counts correct predictions the same way in any batch size", async () => {
  const a = await evaluate(classifier, test, { batchSize: 300 });
  const b = await evaluate(classifier, test, { batchSize: 37 });
  assertEquals(a.accuracy, b.accuracy);
  assertAlmostEquals(a.loss, b.loss, 1e-4);
  const x = imagesTensor(test);
  const pred = tf.tidy(() => tf.argMax(classifier(x), 1).dataSync());
  let right = 0;
  for (let i = 0; i < pred.length; i++) right += pred[i] === test.labels[i] ? 1 : 0;
  assertEquals(a.accuracy, right / 300);
  x.dispose();
});

Deno.test("evaluate() under attack gives lower accuracy and higher risk than clean", async () => {
  const clean = await evaluate(classifier, test);
  const robust = await evaluate(classifier, test, {
    attack: makeAttack({ kind: "pgd", eps: 0.1, steps: 10, stepSize: 0.02 }),
  });
  assertLess(robust.accuracy, clean.accuracy);
  assert(robust.loss > clean.loss);
  assert(robust.attackSuccess! > 0);
});

Deno.test("accuracyVsEps() starts at clean accuracy and does not rise with eps", async () => {
  const sub = { ...test, images: test.images.subarray(0, 100 * 784), labels: test.labels.subarray(0, 100) };
  const rows = await accuracyVsEps(
    classifier,
    sub,
    [0, 0.05, 0.1, 0.2, 0.3],
    (eps) => makeAttack({ kind: "pgd", eps, steps: 10, stepSize: eps / 4 }),
  );
  assertEquals(rows[0].accuracy, (await evaluate(classifier, sub)).accuracy);
  for (let i = 1; i < rows.length; i++) {
    assert(rows[i].accuracy <= rows[i - 1].accuracy + 0.02, JSON.stringify(rows));
  }
  assertLess(rows.at(-1)!.accuracy, 0.05);
});
