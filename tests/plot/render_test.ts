import {
  assert,
  assertEquals,
  assertGreater,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { checkSpec, PlotSpecError, renderSvg, type TopLevelSpec } from "../../lib/plot/render.ts";
import { svgIds } from "../../lib/plot/svg_ids.ts";

const LINE: TopLevelSpec = {
  data: { values: [{ eps: 0, acc: 0.99 }, { eps: 0.1, acc: 0.7 }, { eps: 0.3, acc: 0.1 }] },
  mark: "line",
  encoding: { x: { field: "eps", type: "quantitative" }, y: { field: "acc", type: "quantitative" } },
};

const BARS: TopLevelSpec = {
  data: { values: [{ m: "a", v: 1 }, { m: "b", v: 2 }, { m: "c", v: 3 }] },
  mark: "bar",
  encoding: { x: { field: "m", type: "nominal" }, y: { field: "v", type: "quantitative" } },
};

/** The `d` attributes of the paths inside the marks group of the given mark type. */
function markPaths(svg: string, mark: string): string[] {
  const groups = svg.split(`class="mark-${mark} role-mark`).slice(1).map((s) => s.split("</g>")[0]);
  return groups.flatMap((g) => Array.from(g.matchAll(/<path[^>]*\sd="([^"]+)"/g), (m) => m[1]));
}

Deno.test("renderSvg() draws a line chart's line as a path mark", async () => {
  const svg = await renderSvg(LINE, { strict: true });
  assert(svg.startsWith("<svg"));
  assertStringIncludes(svg, 'xmlns="http://www.w3.org/2000/svg"');
  const paths = markPaths(svg, "line");
  assertEquals(paths.length, 1);
  assertEquals(paths[0].split("L").length, 3); // three points
});

Deno.test("renderSvg() draws one rect mark per bar", async () => {
  const svg = await renderSvg(BARS, { strict: true });
  assertEquals(markPaths(svg, "rect").length, 3);
});

Deno.test("renderSvg() rejects an invalid spec with a PlotSpecError that names the problem", async () => {
  await assertRejects(() => renderSvg({} as TopLevelSpec), PlotSpecError, 'none of the keys "mark"');
  await assertRejects(
    () => renderSvg({ ...LINE, mark: "lines" } as unknown as TopLevelSpec),
    PlotSpecError,
    'spec.mark: unknown mark type string "lines"',
  );
  await assertRejects(
    () =>
      renderSvg({ layer: [{ mark: "point", encoding: { x: { field: "a", type: "numeric" } } }] } as never),
    PlotSpecError,
    'spec.layer[0].encoding.x.type: unknown type string "numeric"',
  );
  await assertRejects(() => renderSvg(null as never), PlotSpecError, "spec must be an object, got null");
  await assertRejects(
    () => renderSvg({ ...LINE, transform: [{ calculate: "datum.eps +* 2", as: "z" }] } as TopLevelSpec),
    PlotSpecError,
    "Invalid Vega-Lite spec",
  );
});

Deno.test("renderSvg() reports warnings to onWarning, or rejects on them when strict", async () => {
  const typo: TopLevelSpec = {
    ...LINE,
    encoding: { ...LINE.encoding, x: { field: "epsilon", type: "quantitative" } },
  };
  const warnings: string[] = [];
  await renderSvg(typo, { onWarning: (w) => warnings.push(w) });
  assertGreater(warnings.length, 0);
  assertStringIncludes(warnings.join(" "), "epsilon");
  await assertRejects(() => renderSvg(typo, { strict: true }), PlotSpecError, "epsilon");
});

Deno.test("renderSvg() escapes text so that the SVG is safe inline in HTML", async () => {
  const svg = await renderSvg({ ...BARS, title: 'a <script>alert("x")</script> & b' }, { strict: true });
  assert(!svg.includes("<script"));
  assertStringIncludes(svg, "&lt;script&gt;");
});

Deno.test("renderSvg() prefixes the SVG's ids with idPrefix", async () => {
  const spec: TopLevelSpec = {
    data: { values: [{ x: 1, y: 1, v: 1 }, { x: 2, y: 1, v: 2 }] },
    mark: { type: "rect", clip: true },
    encoding: {
      x: { field: "x", type: "ordinal" },
      y: { field: "y", type: "ordinal" },
      color: { field: "v", type: "quantitative" },
    },
  };
  const ids = svgIds(await renderSvg(spec, { idPrefix: "fig7", strict: true }));
  assertGreater(ids.length, 0);
  assert(ids.every((id) => id.startsWith("fig7-")), ids.join());
});

Deno.test("renderSvg() scales the SVG's size by scale", async () => {
  const size = (svg: string) => Number(/width="(\d+)"/.exec(svg)![1]);
  assertEquals(size(await renderSvg(BARS, { scale: 2 })), 2 * size(await renderSvg(BARS)));
});

Deno.test("checkSpec() accepts a valid layered spec and refuses one with a bad layer", () => {
  const rule = { mark: "rule", encoding: { x: { datum: 0.3, type: "quantitative" } } };
  checkSpec({ layer: [LINE, rule] });
  assertThrows(() => checkSpec({ layer: [LINE, { ...rule, mark: 42 }] }), PlotSpecError);
  assertThrows(() => checkSpec({ layer: "not a list" }), PlotSpecError);
});

Deno.test("renderSvg() leaves the caller's spec and data rows untouched", async () => {
  const rows = [{ m: "a", v: 1 }];
  const spec: TopLevelSpec = { ...BARS, data: { values: rows } };
  const before = JSON.stringify(spec);
  await renderSvg(spec);
  assertEquals(Object.getOwnPropertySymbols(rows[0]), []);
  assertEquals(JSON.stringify(spec), before);
});
