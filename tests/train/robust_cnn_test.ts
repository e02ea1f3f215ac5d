/**
 * The robust-network tool's command line and training job (tools/robust_cnn.ts); the run itself takes
 * most of an hour and is not part of the suite.
 */
import { assertEquals, assertThrows } from "@std/assert";
import { parseRobustArgs, robustJob } from "../../tools/robust_cnn.ts";
import { trainSchema } from "../../lib/config/specs.ts";

Deno.test("robust_cnn parses its defaults and options, and names a bad value", () => {
  assertEquals(parseRobustArgs([]), {
    epochs: 10,
    pgdTrainSteps: 10,
    evalSize: 1000,
    restarts: 20,
    progress: "auto",
  });
  const o = parseRobustArgs([
    "--epochs",
    "3",
    "--pgd-train-steps",
    "40",
    "--eval-size",
    "200",
    "--restarts",
    "1",
  ]);
  assertEquals([o.epochs, o.pgdTrainSteps, o.evalSize, o.restarts], [3, 40, 200, 1]);
  assertThrows(() => parseRobustArgs(["--epochs", "0"]), RangeError, "--epochs");
  assertThrows(() => parseRobustArgs(["--eval-size", "2.5"]), RangeError, "--eval-size");
  assertThrows(() => parseRobustArgs(["--progress", "loud"]), RangeError, "--progress");
  assertThrows(() => parseRobustArgs(["--epoch", "3"]));
});

Deno.test("robust_cnn trains the scale-16 Madry CNN with PGD at eps 0.3 on the whole training set", () => {
  const job = robustJob(parseRobustArgs(["--pgd-train-steps", "40"]));
  assertEquals(job.model, { kind: "madry-cnn", scale: 16 });
  assertEquals(job.data.trainSize, 0);
  const attack = job.train.adversarial!.attack as {
    kind: string;
    eps: number;
    steps: number;
    stepSize: number;
  };
  assertEquals([attack.kind, attack.eps, attack.steps, attack.stepSize], ["pgd", 0.3, 40, 0.0125]);
  assertEquals(robustJob(parseRobustArgs([])).train.adversarial!.attack, {
    kind: "pgd",
    eps: 0.3,
    steps: 10,
    stepSize: 0.05,
  });
  // The schedule is one a config could hold; the schema's defaults make PGD start at a random point.
  const train = trainSchema.validate(robustJob(parseRobustArgs([])).train, "train");
  assertEquals(train.adversarial!.attack, {
    kind: "pgd",
    eps: 0.3,
    steps: 10,
    stepSize: 0.05,
    norm: "linf",
    randomStart: true,
    restarts: 1,
  } as unknown);
});
