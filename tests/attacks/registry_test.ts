import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  attackGradients,
  attackKind,
  attackKinds,
  type AttackSpec,
  defineAttack,
  describeAttack,
  finish,
  makeAttack,
  normField,
  scaleAttack,
} from "../../lib/attacks/mod.ts";
import { ConfigError, num, optional } from "../../lib/config/schema.ts";
import { attackSpecSchema } from "../../lib/config/specs.ts";
import { imagesTensor, labelsTensor } from "../../lib/data/mod.ts";
import { relativeTrainingCost } from "../../lib/train/adversarial.ts";
import { warmedUp } from "../../lib/train/train.ts";
import { maxAbsDiff, smallTrainedModel } from "../_helpers.ts";

/** JSON with sorted keys and no undefined values: what the cache hashes into a configuration's key. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
        : v,
  );
}

// One spec of each registered kind, written as a config would write it.
const examples: AttackSpec[] = [
  { kind: "fgsm", eps: 0.3 },
  { kind: "pgd", eps: 0.3, steps: 40, stepSize: 0.01, restarts: 2 },
  { kind: "rfgsm", eps: 0.3, alpha: 0.15 },
  { kind: "apgd", eps: 0.3, steps: 5 },
  { kind: "apgd-t", eps: 0.3, steps: 5, targetClasses: 2 },
  { kind: "fab-t", eps: 0.3, steps: 5, targetClasses: 2 },
  { kind: "square", eps: 0.3, queries: 20 },
];

Deno.test("attackKinds lists fgsm, pgd, rfgsm, apgd, apgd-t, fab-t and square, each with an example here", () => {
  assertEquals(attackKinds.map((d) => d.kind), ["fgsm", "pgd", "rfgsm", "apgd", "apgd-t", "fab-t", "square"]);
  assertEquals(examples.map((s) => s.kind), attackKinds.map((d) => d.kind));
});

Deno.test("attackSpecSchema validates to the same specs (and cache keys) as before the registry", () => {
  // canonicalJson of the validated specs as the hand-written schemas produced them: defaults filled in, no
  // key for an absent optional field. A change here changes the cache key of every adversarially trained model.
  const cases: [unknown, string][] = [
    [{ kind: "fgsm", eps: 0.3 }, '{"eps":0.3,"kind":"fgsm","norm":"linf","randomStart":false}'],
    [
      { kind: "fgsm", eps: 0.3, randomStart: true, stepSize: 0.375 },
      '{"eps":0.3,"kind":"fgsm","norm":"linf","randomStart":true,"stepSize":0.375}',
    ],
    [
      { kind: "pgd", eps: 0.3, steps: 40, stepSize: 0.01 },
      '{"eps":0.3,"kind":"pgd","norm":"linf","randomStart":true,"restarts":1,"stepSize":0.01,"steps":40}',
    ],
    [
      { kind: "pgd", eps: 2, norm: "l2", steps: 5, restarts: 3, randomStart: false },
      '{"eps":2,"kind":"pgd","norm":"l2","randomStart":false,"restarts":3,"steps":5}',
    ],
    [{ kind: "rfgsm", eps: 0.3 }, '{"eps":0.3,"kind":"rfgsm"}'],
    [{ kind: "rfgsm", eps: 0.3, alpha: 0.1 }, '{"alpha":0.1,"eps":0.3,"kind":"rfgsm"}'],
  ];
  for (const [input, json] of cases) {
    const spec = attackSpecSchema.validate(input, "attack");
    assertEquals(canonicalJson(spec), json);
    assert(!Object.values(spec).includes(undefined), `${json}: a key with no value`);
  }
});

Deno.test("attackSpecSchema accepts clipMin and clipMax, and names an unknown kind or key", () => {
  assertEquals(
    attackSpecSchema.validate({ kind: "pgd", eps: 8, steps: 2, clipMin: 0, clipMax: 255 }, "a"),
    { kind: "pgd", eps: 8, norm: "linf", steps: 2, restarts: 1, randomStart: true, clipMin: 0, clipMax: 255 },
  );
  assertThrows(
    () => attackSpecSchema.validate({ kind: "cw", eps: 1 }, "train.attack"),
    ConfigError,
    'train.attack.kind: expected one of "fgsm", "pgd", "rfgsm", "apgd", "apgd-t", "fab-t", "square", got "cw"',
  );
  assertThrows(
    () => attackSpecSchema.validate({ kind: "pgd", eps: 0.3, steps: 2, stepsize: 0.1 }, "a"),
    ConfigError,
    'did you mean "stepSize"',
  );
  assertThrows(
    () => attackSpecSchema.validate({ kind: "pgd", eps: 0.3 }, "a"),
    ConfigError,
    "a.steps: missing",
  );
});

Deno.test("describeAttack() reads each kind's descriptor", () => {
  assertEquals(examples.map(describeAttack), [
    "FGSM (l-inf, eps 0.3)",
    "PGD-40x2 (l-inf, eps 0.3)",
    "R+FGSM (l-inf, eps 0.3)",
    "APGD-CE-5 (l-inf, eps 0.3)",
    "APGD-T-5 x2 targets (l-inf, eps 0.3)",
    "FAB-T-5 x2 targets (l-inf, eps 0.3)",
    "Square-20 (l-inf, eps 0.3)",
  ]);
  assertEquals(describeAttack({ kind: "fgsm", eps: 2, norm: "l2" }), "FGM (l2, eps 2)");
  assertEquals(describeAttack({ kind: "fgsm", eps: 0.3, randomStart: true }), "FGSM+RS (l-inf, eps 0.3)");
  assertEquals(describeAttack({ kind: "pgd", eps: 1, norm: "l2", steps: 7 }), "PGD-7 (l2, eps 1)");
  // deno-lint-ignore no-explicit-any
  assertThrows(() => describeAttack({ kind: "cw" } as any), RangeError, "registered: fgsm, pgd, rfgsm");
});

Deno.test("relativeTrainingCost() and warmedUp() derive from the descriptors of every kind", () => {
  for (const spec of examples) {
    const d = attackKind(spec.kind);
    assertEquals(relativeTrainingCost(spec), 1 + d.gradients(spec));
    assertEquals(attackGradients(spec), d.gradients(spec));
    assertEquals(warmedUp(spec, 0.5), d.warmedUp(spec, 0.5));
    assertEquals(scaleAttack(spec, 0.5), warmedUp(spec, 0.5));
  }
  assertEquals(attackGradients(examples[1]), 80);
  // eps and the step lengths scale; steps, restarts and norm do not; the input spec is left alone.
  assertEquals(warmedUp(examples[1], 0.5), {
    kind: "pgd",
    eps: 0.15,
    steps: 40,
    stepSize: 0.005,
    restarts: 2,
  });
  assertEquals(examples[1], { kind: "pgd", eps: 0.3, steps: 40, stepSize: 0.01, restarts: 2 });
});

Deno.test("a kind built with defineAttack() gets a schema, a name, a cost, a warm-up and a bound attack", async () => {
  const { classifier, test } = await smallTrainedModel();
  const x = imagesTensor(test, 0, 8);
  const y = labelsTensor(test, 0, 8);
  const seen: number[] = [];
  // A toy kind: moves every pixel by +step, clipped to [0, 1].
  const shift = defineAttack({
    kind: "shift",
    options: { eps: num({ min: 0 }), step: optional(num({ min: 0 }), 0.1), norm: normField },
    describe: (spec) => `shift ${spec.step} (eps ${spec.eps})`,
    gradients: () => 0,
    stepLengths: ["step"],
    run(model, images, labels, options) {
      seen.push(options.prng.next());
      const moved = tf.tidy(() => tf.clipByValue(tf.add(images, options.step ?? 0.1), 0, 1) as tf.Tensor4D);
      return finish(model, moved, labels, false, 0);
    },
  });
  const spec = shift.schema.validate({ kind: "shift", eps: 0.2 }, "attack");
  assertEquals(spec, { kind: "shift", eps: 0.2, step: 0.1, norm: "linf" });
  assertEquals(shift.describe(spec), "shift 0.1 (eps 0.2)");
  assertEquals(shift.warmedUp(spec, 0.5), { kind: "shift", eps: 0.1, step: 0.05, norm: "linf" });
  const attack = shift.bind(spec, { next: () => 0.25 } as never);
  const r = attack(classifier, x, y);
  assertEquals([r.adversarial.shape, r.success.length, seen], [x.shape, 8, [0.25]]);
  tf.dispose([r.adversarial, x, y]);
});

Deno.test("makeAttack() binds every registered kind", async () => {
  const { classifier, test } = await smallTrainedModel();
  const x = imagesTensor(test, 0, 8);
  const y = labelsTensor(test, 0, 8);
  for (const spec of examples) {
    const r = makeAttack({ ...spec, ...(spec.kind === "pgd" ? { steps: 2 } : {}) }, 3)(classifier, x, y);
    assertEquals(r.adversarial.shape, x.shape, spec.kind);
    r.adversarial.dispose();
  }
  tf.dispose([x, y]);
});

Deno.test("makeAttack(spec, seed, { judge: false }) returns the same images without classifying them", async () => {
  const { classifier, test } = await smallTrainedModel();
  const x = imagesTensor(test, 0, 8);
  const y = labelsTensor(test, 0, 8);
  let calls = 0;
  const counted: typeof classifier = (images) => {
    calls++;
    return classifier(images);
  };
  for (const base of examples) {
    // One restart, as adversarial training runs PGD: then nothing but the final judgement classifies images.
    const spec = base.kind === "pgd" ? { ...base, steps: 2, restarts: 1 } : base;
    // A first call lets the input check learn the number of classes (it asks the model once per model).
    makeAttack(spec, 3)(counted, x, y).adversarial.dispose();
    calls = 0;
    const judged = makeAttack(spec, 3)(counted, x, y);
    const judgedCalls = calls;
    calls = 0;
    const bare = makeAttack(spec, 3, { judge: false })(counted, x, y);
    assertEquals(maxAbsDiff(bare.adversarial, judged.adversarial), 0, spec.kind);
    assertEquals([bare.success.length, bare.predictions.length], [0, 0], spec.kind);
    assertEquals(judged.predictions.length, 8, spec.kind);
    // APGD judges from its own forward passes already; every other kind saves one call of the model.
    const saved = spec.kind === "apgd" || spec.kind === "apgd-t" ? 0 : 1;
    assertEquals(calls, judgedCalls - saved, `${spec.kind}: ${calls} calls against ${judgedCalls}`);
    tf.dispose([judged.adversarial, bare.adversarial]);
  }
  tf.dispose([x, y]);
});

Deno.test("the AttackSpec type is inferred from the schemas", () => {
  // Checked by `deno check`: each line below must be a type error.
  // @ts-expect-error PGD's steps is required
  const noSteps: AttackSpec = { kind: "pgd", eps: 0.3 };
  // @ts-expect-error no such norm
  const badNorm: AttackSpec = { kind: "fgsm", eps: 0.3, norm: "l1" };
  // @ts-expect-error no such kind
  const badKind: AttackSpec = { kind: "cw", eps: 0.3 };
  const ok: AttackSpec = { kind: "pgd", eps: 0.3, steps: 1, clipMin: -Infinity, clipMax: Infinity };
  assertEquals([noSteps.kind, badNorm.kind, badKind.kind, ok.kind], ["pgd", "fgsm", "cw", "pgd"]);
});
