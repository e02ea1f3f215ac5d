import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { createProgress, formatProgress, PROGRESS_MODES } from "../../lib/util/progress.ts";

/** A progress report on a fake clock whose lines are collected. */
function recorded(total: number, intervalMs = 1000) {
  let t = 0;
  const lines: string[] = [];
  const p = createProgress({
    label: "train",
    total,
    unit: "steps",
    mode: "terminal",
    intervalMs,
    now: () => t,
    write: (line) => lines.push(line),
  });
  return { p, lines, advance: (ms: number) => (t += ms) };
}

Deno.test("createProgress() estimates the time left from the rate so far and ends with the total time", async () => {
  const { p, lines, advance } = recorded(100);
  advance(10_000);
  p.update(25, "loss 0.5");
  assertEquals(lines, ["train:  25% 25/100 steps, 10.0s elapsed, ~30.0s left | loss 0.5\n"]);
  advance(20_000);
  p.update(75);
  assertEquals(lines[1], "train:  75% 75/100 steps, 30.0s elapsed, ~10.0s left\n");
  advance(70_000);
  await p.finish("loss 0.1");
  assertEquals(lines[2], "train: 100% 100/100 steps, done in 1m40s | loss 0.1\n");
  assertEquals(lines.length, 3);
});

Deno.test("createProgress() redraws at most once per interval, but always shows the last step", () => {
  const { p, lines, advance } = recorded(10, 1000);
  for (let i = 1; i <= 10; i++) {
    advance(300);
    p.update(i);
  }
  // Drawn at t = 0.3 s (the first), 1.5 s, 2.7 s, and at the last step (3.0 s).
  assertEquals(lines.map((l) => /\d+\/10/.exec(l)![0]), ["1/10", "5/10", "9/10", "10/10"]);
});

Deno.test("formatProgress() shows an unknown time left as ?, and minutes past a minute", () => {
  const base = { label: "x", done: 0, total: 4, unit: "images", note: undefined, final: false };
  assertStringIncludes(formatProgress({ ...base, elapsed: 0, remaining: Infinity }), "~? left");
  assertStringIncludes(
    formatProgress({ ...base, done: 1, elapsed: 61, remaining: 183 }),
    "1m01s elapsed, ~3m03s left",
  );
});

Deno.test("createProgress() in silent mode writes nothing; a custom format is used as given", async () => {
  const lines: string[] = [];
  const silent = createProgress({ label: "x", total: 2, mode: "silent", write: (l) => lines.push(l) });
  silent.update(1);
  await silent.finish();
  assertEquals(lines, []);
  const custom = createProgress({
    label: "x",
    total: 2,
    mode: "terminal",
    write: (l) => lines.push(l),
    format: (s) => `${s.done}${s.final ? "!" : ""}`,
  });
  custom.update(1);
  await custom.finish();
  assertEquals(lines, ["1\n", "2!\n"]);
});

Deno.test("ADVEX_PROGRESS with a value not listed is an error naming the valid ones", () => {
  Deno.env.set("ADVEX_PROGRESS", "bogus");
  try {
    const e = assertThrows(() => createProgress({ label: "x", total: 1 }), RangeError);
    for (const m of PROGRESS_MODES) assertStringIncludes(e.message, `"${m}"`);
  } finally {
    Deno.env.delete("ADVEX_PROGRESS");
  }
});
