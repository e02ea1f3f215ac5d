import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import {
  type AttackResult,
  emptyResult,
  fgsm,
  makeAttack,
  pgd,
  rfgsm,
  validateAttackInput,
} from "../../lib/attacks/mod.ts";
import { imagesTensor, labelsTensor } from "../../lib/data/mod.ts";
import type { Classifier } from "../../lib/models/mod.ts";
import { smallTrainedModel } from "../_helpers.ts";

const { classifier, test } = await smallTrainedModel();
const x = imagesTensor(test, 0, 16);
const y = labelsTensor(test, 0, 16);

type Run = (model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D) => AttackResult;

/** The three attacks at a radius where they take real steps. */
const attacks: [string, Run][] = [
  ["fgsm", (m, a, b) => fgsm(m, a, b, { eps: 0.1 })],
  ["pgd", (m, a, b) => pgd(m, a, b, { eps: 0.1, steps: 3, stepSize: 0.05, restarts: 2, seed: 1 })],
  ["rfgsm", (m, a, b) => rfgsm(m, a, b, { eps: 0.1, seed: 1 })],
];

/** Asserts that `run` throws a RangeError whose message includes every one of `parts`, leaking no tensor. */
function assertRefused(run: () => unknown, parts: string[], label: string): void {
  const before = tf.memory().numTensors;
  const e = assertThrows(run, RangeError, undefined, label);
  for (const part of parts) assertStringIncludes(e.message, part, label);
  assertEquals(tf.memory().numTensors, before, `${label}: tensors leaked on the error path`);
}

/** A tensor made in `make` (inside tidy), passed to `use`, then disposed. */
function withTensor<T extends tf.Tensor, R>(make: () => T, use: (t: T) => R): R {
  const t = tf.tidy(make);
  try {
    return use(t);
  } finally {
    t.dispose();
  }
}

Deno.test("attacks refuse labels outside [0, classes): 10 and -1 no longer 'succeed' on every example", () => {
  for (const [name, run] of attacks) {
    for (const [bad, message] of [[10, "must be a class in [0, 10), got 10"], [-1, "got -1"]] as const) {
      withTensor(
        () => tf.tensor1d([...y.dataSync()].map((l, i) => (i === 3 ? bad : l)), "int32"),
        (labels) => {
          assertRefused(
            () => run(classifier, x, labels),
            [`${name}: `, "labels[3]", message],
            `${name} ${bad}`,
          );
        },
      );
    }
  }
});

Deno.test("attacks refuse float labels such as y + 0.7", () => {
  withTensor(() => tf.add(y, 0.7) as tf.Tensor1D, (labels) => {
    for (const [name, run] of attacks) {
      assertRefused(() => run(classifier, x, labels), ["labels[0]", "integer"], name);
    }
  });
  // Integer values in a float32 tensor are fine.
  withTensor(() => tf.cast(y, "float32") as tf.Tensor1D, (labels) => {
    const r = fgsm(classifier, x, labels, { eps: 0.1 });
    assertEquals(r.success.length, 16);
    r.adversarial.dispose();
  });
});

Deno.test("targeted attacks name the targets in their errors", () => {
  withTensor(() => tf.fill([16], 12, "int32") as tf.Tensor1D, (targets) => {
    assertRefused(
      () => pgd(classifier, x, targets, { eps: 0.1, steps: 2, targeted: true }),
      ["targets[0]", "got 12"],
      "pgd targeted",
    );
  });
});

Deno.test("attacks refuse labels that do not match the batch", () => {
  withTensor(() => tf.slice(y, [0], [15]) as tf.Tensor1D, (short) => {
    for (const [name, run] of attacks) assertRefused(() => run(classifier, x, short), ["[16]", "[15]"], name);
  });
});

Deno.test("attacks refuse a step size that is negative, zero, NaN or infinite when a step is taken", () => {
  for (const stepSize of [-0.025, 0, NaN, Infinity]) {
    assertRefused(
      () => pgd(classifier, x, y, { eps: 0.1, steps: 3, stepSize }),
      ["pgd: stepSize", String(stepSize)],
      `pgd ${stepSize}`,
    );
    assertRefused(
      () => fgsm(classifier, x, y, { eps: 0.1, stepSize }),
      ["fgsm: stepSize", String(stepSize)],
      `fgsm ${stepSize}`,
    );
  }
  // No step is taken with steps = 0, and eps = 0 allows a zero step.
  for (
    const r of [
      pgd(classifier, x, y, { eps: 0.1, steps: 0, stepSize: -1 }),
      pgd(classifier, x, y, { eps: 0, steps: 3, stepSize: 0 }),
    ]
  ) {
    assertEquals(r.adversarial.shape, x.shape);
    r.adversarial.dispose();
  }
});

Deno.test("attacks refuse an eps that is negative, NaN or infinite, and alpha outside [0, eps]", () => {
  for (const eps of [-0.1, NaN, Infinity]) {
    for (
      const [name, run] of [
        ["fgsm", () => fgsm(classifier, x, y, { eps })],
        ["pgd", () => pgd(classifier, x, y, { eps, steps: 2 })],
        ["rfgsm", () => rfgsm(classifier, x, y, { eps })],
      ] as const
    ) {
      assertRefused(run, [`${name}: eps`, String(eps)], `${name} ${eps}`);
    }
  }
  assertRefused(
    () => rfgsm(classifier, x, y, { eps: 0.1, alpha: NaN }),
    ["rfgsm: alpha", "NaN"],
    "alpha NaN",
  );
});

Deno.test("attacks refuse pixels outside [clipMin, clipMax] instead of clipping [0, 255] images to [0, 1]", () => {
  withTensor(() => tf.mul(x, 255) as tf.Tensor4D, (x255) => {
    for (const [name, run] of attacks) {
      assertRefused(() => run(classifier, x255, y), [`${name}: images`, "[0, 1]", "255"], name);
    }
    // With the range declared, the same images are attacked inside [0, 255].
    const scaled: Classifier = (images) => classifier(tf.div(images, 255) as tf.Tensor4D);
    const r = fgsm(scaled, x255, y, { eps: 25, clipMin: 0, clipMax: 255 });
    const [lo, hi] = tf.tidy(
      () => [tf.min(r.adversarial).dataSync()[0], tf.max(r.adversarial).dataSync()[0]],
    );
    assert(lo >= 0 && hi <= 255 && hi > 1, `adversarial range [${lo}, ${hi}]`);
    r.adversarial.dispose();
  });
});

Deno.test("attacks refuse NaN and infinite pixels, naming the example", () => {
  for (const bad of [NaN, Infinity]) {
    withTensor(() => {
      const flat = x.dataSync().slice();
      flat[5 * 784 + 100] = bad;
      return tf.tensor4d(flat, x.shape);
    }, (xBad) => {
      for (const [name, run] of attacks) {
        assertRefused(() => run(classifier, xBad, y), [
          `${name}: images must be finite`,
          String(bad),
          "example 5",
        ], name);
      }
    });
  }
});

Deno.test("attacks refuse images that are not [N, H, W, C] and a model that does not return [N, K] logits", () => {
  withTensor(() => tf.reshape(x, [16, 784]), (flat) => {
    assertRefused(
      () => fgsm(classifier, flat as unknown as tf.Tensor4D, y, { eps: 0.1 }),
      ["[N, H, W, C]"],
      "rank",
    );
  });
  const flatLogits: Classifier = (images) => tf.sum(classifier(images), 1) as unknown as tf.Tensor2D;
  assertRefused(() => fgsm(flatLogits, x, y, { eps: 0.1 }), ["logits [N, K]"], "logits");
});

Deno.test("an attack whose model throws at any of its calls leaks no tensor", () => {
  for (const [name, run] of attacks) {
    // Calls: the probe of the logits' width, each gradient step, PGD's scoring of each restart, the final
    // prediction (fgsm: 3, rfgsm: 3, pgd with 3 steps and 2 restarts: 10); the last failAt does not fail.
    let total = 0;
    for (let failAt = 1; failAt <= 11; failAt++) {
      let calls = 0;
      const flaky: Classifier = (images) => {
        if (++calls === failAt) throw new Error("model failed");
        return classifier(images);
      };
      const before = tf.memory().numTensors;
      try {
        run(flaky, x, y).adversarial.dispose();
        total = Math.max(total, calls);
      } catch (e) {
        assertEquals((e as Error).message, "model failed");
      }
      assertEquals(tf.memory().numTensors, before, `${name}, model failing at call ${failAt}`);
    }
    assertEquals(total, name === "pgd" ? 10 : 3, name);
  }
});

Deno.test("attacks on a batch of 0 return an empty result without running the model or logging", () => {
  let calls = 0;
  const counting: Classifier = (images) => {
    calls++;
    return classifier(images);
  };
  const logged: unknown[] = [];
  const saved = { warn: console.warn, log: console.log, error: console.error };
  console.warn = console.log = console.error = (...args: unknown[]) => void logged.push(args);
  const x0 = tf.zeros([0, 28, 28, 1]) as tf.Tensor4D;
  const y0 = tf.zeros([0], "int32") as tf.Tensor1D;
  const before = tf.memory().numTensors;
  try {
    for (const [name, run] of attacks) {
      const r = run(counting, x0, y0);
      assertEquals(r.adversarial.shape, [0, 28, 28, 1], name);
      assertEquals([r.success.length, r.predictions.length], [0, 0], name);
      r.adversarial.dispose();
    }
    const viaSpec = makeAttack({ kind: "pgd", eps: 0.3, steps: 5 })(counting, x0, y0);
    viaSpec.adversarial.dispose();
  } finally {
    Object.assign(console, saved);
  }
  assertEquals(calls, 0);
  assertEquals(logged, []);
  assertEquals(tf.memory().numTensors, before);
  tf.dispose([x0, y0]);
});

Deno.test("eps = 0 returns a copy of the input without taking a gradient", () => {
  for (
    const [name, run] of [
      ["fgsm", (m: Classifier) => fgsm(m, x, y, { eps: 0, randomStart: true })],
      ["pgd", (m: Classifier) => pgd(m, x, y, { eps: 0, steps: 5, restarts: 3 })],
      ["rfgsm", (m: Classifier) => rfgsm(m, x, y, { eps: 0 })],
    ] as const
  ) {
    const r = run(classifier);
    assertEquals(r.gradientSteps, 0, name);
    assertEquals(tf.tidy(() => tf.max(tf.abs(tf.sub(r.adversarial, x))).dataSync()[0]), 0, name);
    assert(r.adversarial !== x, `${name} returned the caller's tensor`);
    r.adversarial.dispose();
  }
});

Deno.test("validateAttackInput() takes the class count as a number, and reports the batch size", () => {
  assertEquals(validateAttackInput("mine", 10, x, y), { n: 16, classes: 10 });
  assertEquals(validateAttackInput("mine", classifier, x, y, { eps: 0.3 }), { n: 16, classes: 10 });
  assertRefused(() => validateAttackInput("mine", 5, x, y), ["mine: labels[", "[0, 5)"], "classes 5");
  assertRefused(() => validateAttackInput("mine", 0, x, y), ["mine: classes", "got 0"], "classes 0");
  assertRefused(
    () => validateAttackInput("mine", 10, x, y, { clipMin: 1, clipMax: 0 }),
    ["mine: the pixel range", "[1, 0]"],
    "empty range",
  );
  assertRefused(
    () => validateAttackInput("mine", 10, x, y, { stepSizes: { alpha: -1 }, eps: 0.1 }),
    ["mine: alpha", "-1"],
    "named step",
  );
  withTensor(
    () => tf.zeros([0, 4, 4, 3]) as tf.Tensor4D,
    (x0) =>
      withTensor(() => tf.zeros([0]) as tf.Tensor1D, (y0) => {
        assertEquals(validateAttackInput("mine", classifier, x0, y0), { n: 0, classes: 0 });
        const r = emptyResult(x0, 7);
        assertEquals([r.adversarial.shape, r.gradientSteps], [[0, 4, 4, 3], 7]);
        r.adversarial.dispose();
      }),
  );
});
