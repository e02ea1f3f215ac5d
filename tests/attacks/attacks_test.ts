import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertGreater,
  assertLessOrEqual,
  assertThrows,
} from "@std/assert";
import { attackGradient, ball, crossEntropy, fgsm, makeAttack, pgd, rfgsm } from "../../lib/attacks/mod.ts";
import { imagesTensor, labelsTensor } from "../../lib/data/mod.ts";
import type { Classifier } from "../../lib/models/mod.ts";
import { createPrng } from "../../lib/random/prng.ts";
import { maxAbsDiff, mean, setupBackend, smallTrainedModel } from "../_helpers.ts";

await setupBackend();
const { classifier, test } = await smallTrainedModel();
const x = imagesTensor(test, 0, 100);
const y = labelsTensor(test, 0, 100);

function inRange(t: tf.Tensor): boolean {
  return tf.tidy(() => tf.min(t).dataSync()[0] >= 0 && tf.max(t).dataSync()[0] <= 1);
}

Deno.test("fgsm(), pgd() and rfgsm() with eps = 0 return the input unchanged", () => {
  for (const norm of ["linf", "l2"] as const) {
    for (
      const r of [
        fgsm(classifier, x, y, { eps: 0, norm }),
        pgd(classifier, x, y, { eps: 0, norm, steps: 3, stepSize: 0.1 }),
      ]
    ) {
      assertEquals(maxAbsDiff(r.adversarial, x), 0, norm);
      r.adversarial.dispose();
    }
  }
  const r = rfgsm(classifier, x, y, { eps: 0 });
  assertEquals(maxAbsDiff(r.adversarial, x), 0);
  r.adversarial.dispose();
});

Deno.test("every attack keeps each adversarial image in its ball and in [0, 1]", () => {
  const cases = [
    { name: "fgsm linf", run: () => fgsm(classifier, x, y, { eps: 0.3 }), norm: "linf" as const, eps: 0.3 },
    {
      name: "fgsm+rs linf",
      run: () => fgsm(classifier, x, y, { eps: 0.3, randomStart: true, seed: 2 }),
      norm: "linf" as const,
      eps: 0.3,
    },
    {
      name: "fgm l2",
      run: () => fgsm(classifier, x, y, { eps: 2, norm: "l2" }),
      norm: "l2" as const,
      eps: 2,
    },
    {
      name: "pgd linf",
      run: () => pgd(classifier, x, y, { eps: 0.3, steps: 10, stepSize: 0.05 }),
      norm: "linf" as const,
      eps: 0.3,
    },
    {
      name: "pgd l2",
      run: () => pgd(classifier, x, y, { eps: 2, norm: "l2", steps: 10, stepSize: 0.5, restarts: 2 }),
      norm: "l2" as const,
      eps: 2,
    },
    {
      name: "rfgsm",
      run: () => rfgsm(classifier, x, y, { eps: 0.3, seed: 3 }),
      norm: "linf" as const,
      eps: 0.3,
    },
  ];
  for (const c of cases) {
    const r = c.run();
    const d = ball(c.norm, c.eps).distance(r.adversarial, x);
    const worst = tf.tidy(() => tf.max(d).dataSync()[0]);
    assertLessOrEqual(worst, c.eps * (1 + 1e-5) + 1e-6, c.name);
    assert(inRange(r.adversarial), `${c.name} left [0, 1]`);
    assertEquals(r.success.length, 100);
    tf.dispose([r.adversarial, d]);
  }
});

Deno.test("pgd() is at least as strong as fgsm() on a trained model", () => {
  const f = fgsm(classifier, x, y, { eps: 0.1 });
  const p = pgd(classifier, x, y, { eps: 0.1, steps: 20, stepSize: 0.0125, seed: 1 });
  assertGreater(mean(f.success), 0.1, "FGSM should fool the model on some examples");
  assert(mean(p.success) >= mean(f.success), `PGD success ${mean(p.success)} < FGSM ${mean(f.success)}`);
  tf.dispose([f.adversarial, p.adversarial]);
});

Deno.test("pgd() with restarts keeps every success of its first run (worst case per example)", () => {
  const one = pgd(classifier, x, y, {
    eps: 0.06,
    steps: 5,
    stepSize: 0.02,
    restarts: 1,
    prng: createPrng(9),
  });
  const three = pgd(classifier, x, y, {
    eps: 0.06,
    steps: 5,
    stepSize: 0.02,
    restarts: 3,
    prng: createPrng(9),
  });
  for (let i = 0; i < 100; i++) assert(!one.success[i] || three.success[i], `example ${i} lost by restarts`);
  assert(mean(three.success) >= mean(one.success));
  tf.dispose([one.adversarial, three.adversarial]);
});

Deno.test("pgd() restarts only the examples no earlier run fooled, with the same successes as three full runs", () => {
  const options = { eps: 0.06, steps: 5, stepSize: 0.02 };
  const three = pgd(classifier, x, y, { ...options, restarts: 3, prng: createPrng(9) });
  // Run r of the three draws the r-th seed of the generator: the same start, every example attacked.
  const single = [0, 1, 2].map((r) => {
    const prng = createPrng(9);
    for (let k = 0; k < r; k++) prng.next();
    return pgd(classifier, x, y, { ...options, restarts: 1, prng });
  });
  const either = Uint8Array.from({ length: 100 }, (_, i) => single.some((s) => s.success[i] === 1) ? 1 : 0);
  assertGreater(
    mean(either),
    mean(single[0].success),
    "the later runs should fool some examples the first did not",
  );
  assertEquals(Array.from(three.success), Array.from(either));
  // Gradient steps per example: 5 for everyone, 5 more for each run an example was still unfooled at.
  const left1 = single[0].success.filter((s) => !s).length;
  const left2 =
    Array.from({ length: 100 }, (_, i) => !single[0].success[i] && !single[1].success[i]).filter(Boolean)
      .length;
  assertAlmostEquals(three.gradientSteps, 5 * (100 + left1 + left2) / 100, 1e-9);
  assertGreater(15, three.gradientSteps);
  tf.dispose([three.adversarial, ...single.map((s) => s.adversarial)]);
});

Deno.test("pgd() targeted drives predictions to the target class", () => {
  const target = tf.tidy(() => tf.mod(tf.add(y, 1), 10) as tf.Tensor1D);
  const r = pgd(classifier, x, target, { eps: 0.3, steps: 30, stepSize: 0.02, targeted: true });
  const t = target.dataSync();
  let hits = 0;
  for (let i = 0; i < 100; i++) hits += r.predictions[i] === t[i] ? 1 : 0;
  assertEquals(hits, r.success.reduce((s, v) => s + v, 0));
  assertGreater(hits, 80);
  tf.dispose([target, r.adversarial]);
});

Deno.test("rfgsm() uses exactly one gradient evaluation", () => {
  let gradientCalls = 0;
  let forwardCalls = 0;
  const counting: Classifier = (images) => {
    forwardCalls++;
    return classifier(images);
  };
  // Count gradient evaluations by watching the backward pass of an identity wrapped around the input.
  const watched: Classifier = (images) => {
    const identity = (t: tf.Tensor) => ({
      value: t.clone(),
      gradFunc: (dy: tf.Tensor) => {
        gradientCalls++;
        return dy;
      },
    });
    const id = tf.customGrad(identity as unknown as Parameters<typeof tf.customGrad>[0]);
    return counting(id(images) as tf.Tensor4D);
  };
  const r = rfgsm(watched, x, y, { eps: 0.3, alpha: 0.15, seed: 1 });
  assertEquals(gradientCalls, 1);
  assertEquals(r.gradientSteps, 1);
  // The input check's one-image probe of the logits' width (first call with this model only), the gradient
  // step and the final prediction.
  assertEquals(forwardCalls, 3);
  const again = rfgsm(watched, x, y, { eps: 0.3, alpha: 0.15, seed: 2 });
  assertEquals(gradientCalls, 2);
  assertEquals(forwardCalls, 5);
  tf.dispose([r.adversarial, again.adversarial]);
});

Deno.test("rfgsm() rejects alpha outside [0, eps] and the l2 threat model", () => {
  assertThrows(() => rfgsm(classifier, x, y, { eps: 0.1, alpha: 0.2 }), RangeError, "alpha");
  assertThrows(() => rfgsm(classifier, x, y, { eps: 1, norm: "l2" }), RangeError, "l-inf");
});

Deno.test("attackGradient() matches central finite differences of the loss", () => {
  const xi = tf.tidy(() => tf.slice(x, [0, 0, 0, 0], [2, 28, 28, 1]) as tf.Tensor4D);
  const yi = tf.tidy(() => tf.slice(y, [0], [2]) as tf.Tensor1D);
  const g = attackGradient(classifier, xi, yi).dataSync();
  const loss = (t: tf.Tensor4D) => tf.tidy(() => tf.sum(crossEntropy(classifier(t), yi)).dataSync()[0]);
  const base = xi.dataSync();
  const h = 1e-2;
  // Check the coordinates where the gradient is largest (the clearest signal in float32).
  const order = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a])).slice(0, 8);
  for (const i of order) {
    const plus = base.slice(), minus = base.slice();
    plus[i] += h;
    minus[i] -= h;
    const tp = tf.tensor4d(plus, xi.shape), tm = tf.tensor4d(minus, xi.shape);
    const fd = (loss(tp) - loss(tm)) / (2 * h);
    tf.dispose([tp, tm]);
    assertAlmostEquals(fd, g[i], 0.05 * Math.abs(g[i]) + 1e-3, `coordinate ${i}`);
  }
  tf.dispose([xi, yi]);
});

Deno.test("attacks do not leak tensors over 100 iterations", () => {
  const attack = makeAttack({ kind: "pgd", eps: 0.1, steps: 2, stepSize: 0.05, restarts: 2 }, 1);
  const xs = tf.tidy(() => tf.slice(x, [0, 0, 0, 0], [8, 28, 28, 1]) as tf.Tensor4D);
  const ys = tf.tidy(() => tf.slice(y, [0], [8]) as tf.Tensor1D);
  const warm = attack(classifier, xs, ys);
  warm.adversarial.dispose();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 100; i++) {
    const which = i % 3;
    const r = which === 0
      ? attack(classifier, xs, ys)
      : which === 1
      ? fgsm(classifier, xs, ys, { eps: 0.1, randomStart: true, seed: i })
      : rfgsm(classifier, xs, ys, { eps: 0.1, seed: i });
    r.adversarial.dispose();
  }
  assertEquals(tf.memory().numTensors, before);
  tf.dispose([xs, ys]);
});

Deno.test("makeAttack() builds each kind and rejects an unknown one", () => {
  for (
    const spec of [{ kind: "fgsm", eps: 0.1 }, { kind: "pgd", eps: 0.1, steps: 2 }, {
      kind: "rfgsm",
      eps: 0.1,
    }] as const
  ) {
    const r = makeAttack(spec)(classifier, x, y);
    assertEquals(r.adversarial.shape, x.shape);
    r.adversarial.dispose();
  }
  // deno-lint-ignore no-explicit-any
  assertThrows(() => makeAttack({ kind: "cw", eps: 1 } as any), RangeError, "unknown attack");
});

Deno.test("fgsm() against the trained model leaves clear adversarial examples of the original digit", () => {
  const r = fgsm(classifier, x, y, { eps: 0.3 });
  assertGreater(mean(r.success), 0.5);
  const clean = tf.tidy(() => tf.argMax(classifier(x), 1).dataSync());
  let cleanRight = 0;
  const labels = y.dataSync();
  for (let i = 0; i < 100; i++) cleanRight += clean[i] === labels[i] ? 1 : 0;
  assertGreater(cleanRight, 85, "the fixture model should be accurate on clean data");
  r.adversarial.dispose();
});
