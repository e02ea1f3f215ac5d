import { assert, assertEquals } from "@std/assert";
import { chartConfig, PERCENT_FORMAT } from "../../lib/plot/theme.ts";

Deno.test("chartConfig() returns a fresh config object on every call", () => {
  const a = chartConfig();
  assert(a !== chartConfig());
  assertEquals(a, chartConfig());
  assertEquals(PERCENT_FORMAT, ".0%");
});
