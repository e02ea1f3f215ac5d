import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertRejects } from "@std/assert";
import { ball } from "../../lib/attacks/mod.ts";
import { imagesTensor, labelsTensor, loadDataset, stratifiedSubset } from "../../lib/data/mod.ts";
import { quantize } from "../../lib/defenses/mod.ts";
import { autoAttack, type AutoAttackName, modelChecks } from "../../lib/eval/mod.ts";
import { asClassifier, buildModel, type Classifier } from "../../lib/models/mod.ts";
import { trainAdversarial, trainingAttack } from "../../lib/train/mod.ts";
import { forwardOf, smallTrainedModel } from "../_helpers.ts";

const { classifier, test } = await smallTrainedModel();
const sample = stratifiedSubset(test, 40, { seed: 6 });
// Small budgets keep each run to about a second; the defaults are the authors' (100 steps, 9 targets, 5000 queries).
const quick = { steps: 10, targetClasses: 3, squareQueries: 300, batchSize: 20 };

function fired(r: { flags: { id: string }[] }): string[] {
  return r.flags.map((f) => f.id);
}

Deno.test("autoAttack() standard: robust accuracy at most each attack's alone, and who broke each example", async () => {
  const eps = 0.06;
  const all = await autoAttack(classifier, sample, { ...quick, eps, seed: 1 });
  assertEquals(all.perAttack.map((s) => s.attack), ["apgd-ce", "apgd-t", "fab-t", "square"]);
  assert(all.cleanAccuracy > 0.85, `clean ${all.cleanAccuracy}`);
  assert(all.robustAccuracy < all.cleanAccuracy, `robust ${all.robustAccuracy}`);
  const alone: Record<string, number> = {};
  for (const attack of ["apgd-ce", "apgd-t", "fab-t", "square"] as AutoAttackName[]) {
    const r = await autoAttack(classifier, sample, { ...quick, eps, seed: 1, attacks: [attack] });
    assertEquals(r.version, "custom");
    alone[attack] = r.robustAccuracy;
    assert(all.robustAccuracy <= r.robustAccuracy, `${attack}: ${all.robustAccuracy} > ${r.robustAccuracy}`);
  }
  // The running worst case never rises, and its steps add up to the per-example record.
  let prev = all.cleanAccuracy;
  for (const s of all.perAttack) {
    assert(s.robustAccuracy <= prev);
    assertEquals(all.brokenBy.filter((b) => b === s.attack).length, s.broken);
    prev = s.robustAccuracy;
  }
  assertEquals(all.perAttack[0].robustAccuracy, alone["apgd-ce"]);
  assertEquals(all.robust.reduce((a, b) => a + b, 0) / all.n, all.robustAccuracy);
  assertEquals(all.brokenBy.filter((b) => b === "clean").length, Math.round(all.n * (1 - all.cleanAccuracy)));
  // Every recorded adversarial image lies in the ball and is misclassified.
  const adv = tf.tensor4d(all.adversarial, [all.n, 28, 28, 1]);
  const x = imagesTensor(sample), y = labelsTensor(sample);
  const dist = ball("linf", eps).distance(adv, x).dataSync();
  assert(Math.max(...dist) <= eps * (1 + 1e-5), `distance ${Math.max(...dist)}`);
  const pred = tf.tidy(() => tf.argMax(classifier(adv), 1).dataSync());
  all.brokenBy.forEach((b, i) => {
    if (b !== null && b !== "clean") assert(pred[i] !== sample.labels[i], `example ${i} (${b})`);
  });
  tf.dispose([adv, x, y]);
});

Deno.test("autoAttack() is reproducible from its seed, takes tensors, and leaks nothing", async () => {
  const x = imagesTensor(sample, 0, 20), y = labelsTensor(sample, 0, 20);
  const before = tf.memory().numTensors;
  const a = await autoAttack(classifier, { x, y }, { ...quick, eps: 1, norm: "l2", seed: 4 });
  const b = await autoAttack(classifier, { x, y }, { ...quick, eps: 1, norm: "l2", seed: 4 });
  assertEquals(tf.memory().numTensors, before);
  assertEquals(a.brokenBy, b.brokenBy);
  assertEquals(a.adversarial, b.adversarial);
  assertEquals(a.n, 20);
  await assertRejects(() => autoAttack(classifier, sample, { version: "custom" }), RangeError, "attacks");
  await assertRejects(
    () => autoAttack(classifier, sample, { attacks: ["pgd" as AutoAttackName] }),
    RangeError,
    "unknown attack",
  );
  assertEquals(tf.memory().numTensors, before);
  tf.dispose([x, y]);
});

Deno.test("autoAttack() flags stay quiet on a normally trained model", async () => {
  const r = await autoAttack(classifier, sample, { ...quick, eps: 0.06 });
  assertEquals(fired(r), [], r.checks.map((c) => c.message).join("\n"));
  assertEquals(r.checks.map((c) => c.id), [
    "zero-gradients",
    "nonfinite-gradients",
    "randomized",
    "probabilities",
    "square-beats-gradients",
  ]);
});

Deno.test("autoAttack() flags stay quiet on an adversarially trained model", async () => {
  // Goodfellow et al.'s mixed objective with PGD-3 at eps = 0.1, on 1,000 images (as in tests/train).
  const data = stratifiedSubset(await loadDataset("mnist", "train"), 1000, { seed: 21 });
  const model = buildModel({ kind: "mlp", hidden: [32] }, { inputShape: [28, 28, 1], classes: 10 }, 5);
  await trainAdversarial(model, data, {
    epochs: 3,
    batchSize: 50,
    optimizer: { name: "adam", learningRate: 3e-3 },
    seed: 6,
    progress: "silent",
    attack: trainingAttack("pgd", 0.1, { steps: 3 }),
    alpha: 0.5,
  });
  const robust = asClassifier(model);
  const larger = stratifiedSubset(test, 100, { seed: 8 });
  const r = await autoAttack(robust, larger, { ...quick, eps: 0.1, batchSize: 50 });
  assertEquals(fired(r), [], r.checks.map((c) => c.message).join("\n"));
  assert(r.robustAccuracy > 0.2, `the model has some robustness: ${r.robustAccuracy}`);
  model.dispose();
});

Deno.test("autoAttack() flags a quantised input: zero gradients, and Square beating the gradient attacks", async () => {
  const quantised: Classifier = (images) => tf.tidy(() => classifier(quantize(images, 8)));
  const r = await autoAttack(quantised, sample, { ...quick, eps: 0.3 });
  const ids = fired(r);
  assert(ids.includes("zero-gradients"), ids.join(", "));
  assert(ids.includes("square-beats-gradients"), ids.join(", "));
  const sq = r.perAttack.find((s) => s.attack === "square")!;
  assert(sq.broken > 0.3 * r.n, `Square broke ${sq.broken} of ${r.n}`);
  assert(r.flagged);
});

Deno.test("autoAttack() flags probabilities and a randomised forward pass; version rand takes the latter", async () => {
  const softmax: Classifier = (images) => tf.tidy(() => tf.softmax(classifier(images)) as tf.Tensor2D);
  const p = await autoAttack(softmax, sample, { ...quick, attacks: ["apgd-ce"], eps: 0.06 });
  assertEquals(fired(p), ["probabilities"]);

  let calls = 0;
  const noisy: Classifier = (images) =>
    tf.tidy(() => {
      const noise = tf.randomNormal(images.shape, 0, 0.05, "float32", ++calls);
      return classifier(tf.clipByValue(tf.add(images, noise), 0, 1) as tf.Tensor4D);
    });
  const s = await autoAttack(noisy, sample, { ...quick, attacks: ["apgd-ce"], eps: 0.06 });
  assert(fired(s).includes("randomized"), fired(s).join(", "));
  const r = await autoAttack(noisy, sample, { ...quick, version: "rand", eot: 2, eps: 0.06 });
  assertEquals(r.perAttack.map((st) => st.attack), ["apgd-ce", "apgd-dlr"]);
  assert(!fired(r).includes("randomized"));
  assert(r.checks.find((c) => c.id === "randomized")!.value > 0);
});

Deno.test("modelChecks() counts zero and non-finite input gradients per example", () => {
  const x = imagesTensor(sample, 0, 10), y = labelsTensor(sample, 0, 10);
  const ok = modelChecks(classifier, x, y);
  assertEquals(ok.zeroGradients, 0);
  assertEquals(ok.nonfiniteGradients, 0);
  assertEquals(ok.maxChange, 0);
  assertEquals(ok.probabilities, false);
  const flat: Classifier = (images) => tf.tidy(() => classifier(tf.round(images) as tf.Tensor4D));
  assertEquals(modelChecks(flat, x, y).zeroGradients, 1);
  const broken: Classifier = (images) =>
    tf.tidy(() => tf.mul(classifier(images), tf.sqrt(tf.sub(images, 2)).mean()));
  assertEquals(modelChecks(broken, x, y).nonfiniteGradients, 1);
  tf.dispose([x, y]);
});

Deno.test("autoAttack() with a forward-only path to the same logits gives the same result", async () => {
  const opts = { ...quick, eps: 0.06, seed: 2 };
  const a = await autoAttack(classifier, sample, opts);
  const b = await autoAttack(classifier, sample, { ...opts, forward: forwardOf(classifier) });
  assertEquals(b.robustAccuracy, a.robustAccuracy);
  assertEquals(b.brokenBy, a.brokenBy);
  assertEquals(b.perAttack.map((s) => s.broken), a.perAttack.map((s) => s.broken));
  assertEquals(Array.from(b.adversarial), Array.from(a.adversarial));
});
