/** The site build's estimate of the time left (tools/site_eta.ts). */

import { assertAlmostEquals, assertEquals, assertStringIncludes } from "@std/assert";
import { describeTimeLeft, expectedSeconds, MEASURED_SECONDS, timeLeft } from "../../tools/site_eta.ts";
import type { ChapterEntry } from "../../tools/site_index.ts";

const entry = (name: string, scale: string, seconds: number): ChapterEntry => ({
  name,
  title: name,
  seconds,
  scale,
  date: "2026-12-03T00:00:00Z",
  html: `${name}.html`,
});

Deno.test("site eta: every notebook of the course has a measured time at course and at full", async () => {
  const names: string[] = [];
  for await (const e of Deno.readDir(new URL("../../notebooks/", import.meta.url))) {
    if (e.isFile && e.name.endsWith(".ipynb")) names.push(e.name.replace(/\.ipynb$/, ""));
  }
  for (const scale of ["course", "full"]) {
    assertEquals(Object.keys(MEASURED_SECONDS[scale]).sort(), names.sort(), `measured times at ${scale}`);
  }
});

Deno.test("site eta: the previous build at the same scale wins over the measured time; other scales do not count", () => {
  const names = ["01-generalization-vs-robustness", "04-gradient-masking", "fixture"];
  const previous = [
    entry("01-generalization-vs-robustness", "full", 42),
    entry("04-gradient-masking", "course", 7),
  ];
  const expected = expectedSeconds(names, "full", previous);
  assertEquals(expected.get("01-generalization-vs-robustness"), 42);
  assertEquals(expected.get("04-gradient-masking"), MEASURED_SECONDS.full["04-gradient-masking"]);
  assertEquals(expected.has("fixture"), false);
  assertEquals(expectedSeconds(["fixture"], "smoke", [entry("fixture", "smoke", 3)]).get("fixture"), 3);
});

Deno.test("site eta: the time left is the remaining expectation scaled by the finished notebooks' pace", () => {
  const expected = new Map([["a", 100], ["b", 200], ["c", 300]]);
  // Before anything ran: the expectation itself.
  assertEquals(timeLeft(expected, new Map(), ["a", "b", "c"]), { seconds: 600, unknown: 0 });
  // "a" took half its expectation (a warm cache): the rest is expected at half too.
  const left = timeLeft(expected, new Map([["a", 50]]), ["b", "c"]);
  assertAlmostEquals(left.seconds, 250, 1e-9);
  // Finished notebooks without an expectation do not set the pace; remaining ones are counted as unknown.
  const mixed = timeLeft(new Map([["a", 100], ["c", 300]]), new Map([["a", 200], ["b", 999]]), ["c", "d"]);
  assertEquals(mixed, { seconds: 600, unknown: 1 });
});

Deno.test("site eta: the log line says what is known", () => {
  assertEquals(describeTimeLeft({ seconds: 8160, unknown: 0 }, 2), "about 2 h 16 min left");
  assertStringIncludes(
    describeTimeLeft({ seconds: 90, unknown: 1 }, 2),
    "and 1 notebook(s) without an estimate",
  );
  assertStringIncludes(describeTimeLeft({ seconds: 0, unknown: 3 }, 3), "no estimate");
  assertEquals(describeTimeLeft({ seconds: 0, unknown: 0 }, 0), "no notebook left");
});
