import { assertEquals, assertThrows } from "@std/assert";
import { selfFgsmJob } from "../../lib/defenses/mod.ts";
import type { TrainJob } from "../../lib/train/mod.ts";

const base: TrainJob = {
  data: { dataset: "mnist", trainSize: 100, seed: 0 },
  model: { kind: "mlp", hidden: [8] },
  initSeed: 1,
  train: { epochs: 1, batchSize: 10, optimizer: { name: "adam", learningRate: 1e-3 }, seed: 2 },
};

Deno.test("selfFgsmJob() adds FGSM from the data point against the model itself, alpha 0.5 by default", () => {
  const job = selfFgsmJob(base, { eps: 0.3 });
  assertEquals(job.train.adversarial, { attack: { kind: "fgsm", eps: 0.3, norm: "linf" }, alpha: 0.5 });
  assertEquals({ ...job, train: { ...job.train, adversarial: undefined } }, {
    ...base,
    train: { ...base.train, adversarial: undefined },
  });
  assertEquals(selfFgsmJob(base, { eps: 0.1, alpha: 0 }).train.adversarial?.alpha, 0);
  assertEquals(base.train.adversarial, undefined);
});

Deno.test("selfFgsmJob() rejects a radius of zero and alpha = 1", () => {
  assertThrows(() => selfFgsmJob(base, { eps: 0 }), RangeError, "eps");
  assertThrows(() => selfFgsmJob(base, { eps: 0.3, alpha: 1 }), RangeError, "alpha");
});
