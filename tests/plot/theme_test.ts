import { assert, assertEquals } from "@std/assert";
import * as vega from "vega";
import { chartConfig, PERCENT_FORMAT } from "../../lib/plot/theme.ts";

Deno.test("chartConfig() returns a fresh config object on every call, which callers may change freely", () => {
  const a = chartConfig();
  assert(a !== chartConfig());
  assertEquals(a, chartConfig());
  (a.axis as Record<string, unknown>).labelFontSize = 99;
  assertEquals((chartConfig().axis as Record<string, unknown>).labelFontSize, 11, "a deep copy, not shared");
});

Deno.test("PERCENT_FORMAT writes shares as whole percentages in Vega's number formats", () => {
  // deno-lint-ignore no-explicit-any
  const format = (vega as any).formatLocale().format(PERCENT_FORMAT) as (v: number) => string;
  assertEquals([format(0.973), format(0.5), format(1)], ["97%", "50%", "100%"]);
});
