import { assertEquals } from "@std/assert";
import { duration, pct, points } from "../../lib/report/format.ts";

Deno.test("pct() writes shares as percentages, and n/a for what was not measured", () => {
  assertEquals(pct(0.9732), "97.3%");
  assertEquals(pct(1), "100.0%");
  assertEquals(pct(0.5, 0), "50%");
  assertEquals([pct(null), pct(undefined), pct(NaN)], ["n/a", "n/a", "n/a"]);
});

Deno.test("points() signs the gap between two shares and drops the sign of a rounded zero", () => {
  assertEquals(points(0.9, 0.942), "+4.2 points");
  assertEquals(points(0.92, 0.912), "-0.8 points");
  assertEquals(points(0.5, 0.50001), "0.0 points");
});

Deno.test("duration() picks seconds, minutes or hours", () => {
  assertEquals([duration(4.25), duration(42.4), duration(185), duration(3725)], [
    "4.3 s",
    "42 s",
    "3 min 05 s",
    "1 h 02 min",
  ]);
  assertEquals(duration(-1), "n/a");
});
