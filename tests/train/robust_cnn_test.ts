/**
 * The robust-network tool's command line, training job and measurement (tools/robust_cnn.ts); the run
 * itself takes most of an hour and is not part of the suite: its measurement runs here on a small network
 * with small budgets.
 */
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import {
  autoAttackLine,
  autoAttackSummary,
  measureRobust,
  parseRobustArgs,
  robustJob,
} from "../../tools/robust_cnn.ts";
import { trainSchema } from "../../lib/config/specs.ts";
import { stratifiedSubset } from "../../lib/data/mod.ts";
import { smallTrainedModel } from "../_helpers.ts";

Deno.test("robust_cnn parses its defaults and options, and names a bad value", () => {
  assertEquals(parseRobustArgs([]), {
    epochs: 7,
    pgdTrainSteps: 10,
    evalSize: 1000,
    restarts: 20,
    autoAttackSize: 1000,
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
    "--autoattack-size",
    "50",
  ]);
  assertEquals([o.epochs, o.pgdTrainSteps, o.evalSize, o.restarts, o.autoAttackSize], [3, 40, 200, 1, 50]);
  assertEquals(parseRobustArgs(["--autoattack-size", "0"]).autoAttackSize, 0);
  assertThrows(
    () => parseRobustArgs(["--eval-size", "100", "--autoattack-size", "200"]),
    RangeError,
    "--autoattack-size (200) must be at most --eval-size (100)",
  );
  assertThrows(() => parseRobustArgs(["--autoattack-size=-1"]), RangeError, "--autoattack-size");
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
  // The job is written as a config would give it, the schema's defaults filled in (PGD from a random start),
  // so that validating it again changes nothing.
  const job10 = robustJob(parseRobustArgs([]));
  assertEquals(job10.train.adversarial!.attack, {
    kind: "pgd",
    eps: 0.3,
    norm: "linf",
    steps: 10,
    stepSize: 0.05,
    restarts: 1,
    randomStart: true,
  } as unknown);
  assertEquals(trainSchema.validate(job10.train, "train") as unknown, job10.train);
});

Deno.test("measureRobust() sets AutoAttack standard beside PGD on the first images and prints the gap in points", async () => {
  const { classifier, test } = await smallTrainedModel();
  const subset = stratifiedSubset(test, 30, { seed: 2 });
  const opts = { ...parseRobustArgs(["--eval-size", "30", "--autoattack-size", "10", "--restarts", "1"]) };
  opts.progress = "silent";
  const budget = { pgdSteps: 5, steps: 5, targetClasses: 2, squareQueries: 50 };
  const m = await measureRobust(classifier, subset, opts, budget);
  assertEquals(m.robust.n, 30);
  assertEquals(m.robust.attacks.map((a) => a.spec.kind), ["fgsm", "pgd"]);
  const a = m.autoAttack!;
  assertEquals(a.n, 10);
  const pgdFirst = Array.from(m.robust.attacks[1].correct.subarray(0, 10)).reduce((s, b) => s + b, 0) / 10;
  assertEquals(a.pgd, pgdFirst);
  // eps = 0.3 breaks a normally trained MLP: both attacks leave (almost) nothing.
  assert(a.autoAttack <= 0.1 && a.pgd <= 0.2, `AutoAttack ${a.autoAttack}, PGD ${a.pgd}`);
  const summary = autoAttackSummary(m)!;
  assertEquals([summary.n, summary.autoAttackAccuracy, summary.pgdAccuracy], [10, a.autoAttack, a.pgd]);
  assertEquals((summary.perAttack as unknown[]).length, 4);
  assertStringIncludes(autoAttackLine(m), "on the first 10,");
  assertStringIncludes(autoAttackLine(m), "points");
  assertStringIncludes(autoAttackLine(m), "under PGD-5");

  const skipped = await measureRobust(classifier, subset, { ...opts, autoAttackSize: 0 }, budget);
  assertEquals([skipped.autoAttack, autoAttackSummary(skipped), autoAttackLine(skipped)], [
    undefined,
    undefined,
    "",
  ]);
});
