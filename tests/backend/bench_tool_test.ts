import { assert, assertEquals, assertThrows } from "@std/assert";
import { BENCH_TASKS, parseBenchArgs, runBench, timeSteps } from "../../tools/bench.ts";

Deno.test("deno task bench runs AutoAttack only when --tasks names it, on --autoattack-size images", () => {
  const plain = parseBenchArgs([]);
  assertEquals(plain.tasks, [...BENCH_TASKS]);
  assertEquals(plain.autoAttack, false);
  const aa = parseBenchArgs(["--tasks", "pgd-step,autoattack", "--autoattack-size", "500"]);
  assertEquals(aa.tasks, ["pgd-step"]);
  assertEquals(aa.autoAttack, true);
  assertEquals(aa.autoAttackSize, 500);
  assertEquals(parseBenchArgs(["--tasks=autoattack"]).tasks, []);
  assertThrows(() => parseBenchArgs(["--autoattack-size", "2.5"]), Error, "--autoattack-size");
  assertThrows(() => parseBenchArgs(["--tasks", "autoatack"]), Error, "unknown task autoatack");
});

Deno.test("timeSteps() warms each step up, then lets the steps take turns in every repetition", async () => {
  const calls: string[] = [];
  const step = (name: string) => () => {
    calls.push(name);
    return Promise.resolve();
  };
  const medians = await timeSteps([step("a"), step("b")], 1, 3);
  assertEquals(calls, ["a", "b", "a", "b", "a", "b", "a", "b"]);
  assertEquals(medians.length, 2);
  assert(medians.every((m) => m >= 0 && Number.isFinite(m)));
});

Deno.test("an APGD step's record states its time per PGD step when both ran", async () => {
  const opts = { ...parseBenchArgs(["--models", "mlp", "--batches", "8", "--runs", "1", "--warmup", "0"]) };
  const records = await runBench({ ...opts, tasks: ["pgd-step", "apgd-step"] });
  assertEquals(records.map((r) => r.task), ["pgd-step", "apgd-step"]);
  const [p, a] = records;
  assertEquals(p.perPgdStep, undefined);
  assert(a.perPgdStep! > 0 && Number.isFinite(a.perPgdStep!), `perPgdStep ${a.perPgdStep}`);
  const expected = a.msPerStep / p.msPerStep;
  assert(Math.abs(a.perPgdStep! - expected) <= 0.01 * expected + 0.05, `${a.perPgdStep} vs ${expected}`);
});
