import { assert, assertAlmostEquals, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { barChart, lineChart, scatterChart } from "../../lib/plot/charts.ts";
import { renderSvg } from "../../lib/plot/render.ts";

const ATTACKS = ["FGSM", "PGD", "CW"];
const EPS_ROWS = ATTACKS.flatMap((attack, k) =>
  [0, 0.1, 0.2, 0.3, 0.4].map((eps) => ({
    attack,
    eps,
    accuracy: Math.max(0, 0.99 - eps * (k + 1)),
    run: "r1",
  }))
);

const CAPACITY_ROWS = ["standard", "FGSM", "PGD"].flatMap((mode) =>
  [1, 2, 4, 8, 16].flatMap((scale) =>
    ["clean", "FGSM", "PGD"].map((eval_) => ({ mode, scale, eval: eval_, accuracy: 0.5 + scale / 40 }))
  )
);

/** The groups of marks of one type in a rendered SVG (one per line series, bar layer, ...). */
function markGroups(svg: string, mark: string): string[] {
  return svg.split(`class="mark-${mark} role-mark`).slice(1).map((s) => s.split("</g>")[0]);
}

function countPaths(groups: string[]): number {
  return groups.reduce((n, g) => n + (g.match(/<path /g) ?? []).length, 0);
}

Deno.test("lineChart() draws one line per colour value and a dashed, labelled rule", async () => {
  const spec = lineChart({
    rows: EPS_ROWS,
    x: "eps",
    y: "accuracy",
    color: "attack",
    rule: { x: 0.3, label: "training ε" },
    title: "Accuracy under attack",
  });
  const svg = await renderSvg(spec, { strict: true });
  assertEquals(countPaths(markGroups(svg, "line")), 3);
  assertStringIncludes(svg, 'stroke-dasharray="6,4"');
  assertStringIncludes(svg, "training ε");
  for (const a of ATTACKS) assertStringIncludes(svg, `>${a}</text>`);
});

Deno.test("lineChart() keeps series in the order of the rows and only the fields it plots", () => {
  const spec = lineChart({ rows: EPS_ROWS, x: "eps", y: "accuracy", color: "attack" }) as unknown as Record<
    string,
    unknown
  >;
  const rows = (spec.data as { values: Record<string, unknown>[] }).values;
  assertEquals(Object.keys(rows[0]).sort(), ["accuracy", "attack", "eps"]);
  const layer = (spec.layer as { encoding: { color: { scale: { domain: unknown[] } } } }[])[0];
  assertEquals(layer.encoding.color.scale.domain, ATTACKS);
});

Deno.test("lineChart() shows accuracies as percentages on a [0, 1] axis", async () => {
  const svg = await renderSvg(lineChart({ rows: EPS_ROWS, x: "eps", y: "accuracy", percent: true }), {
    strict: true,
  });
  assertStringIncludes(svg, ">100%</text>");
  assertStringIncludes(svg, ">0%</text>");
});

Deno.test("lineChart() draws one panel per facet value, side by side on a log2 axis", async () => {
  const spec = lineChart({
    rows: CAPACITY_ROWS,
    x: "scale",
    y: "accuracy",
    color: "eval",
    facet: "mode",
    xScale: "log2",
    percent: true,
    colors: { clean: "#4c78a8", FGSM: "#e45756", PGD: "#9d755d" },
  });
  const s = spec as unknown as Record<string, unknown>;
  assertEquals(s.columns, 3);
  const svg = await renderSvg(spec, { strict: true });
  assertEquals(countPaths(markGroups(svg, "line")), 9);
  for (const mode of ["standard", "FGSM", "PGD"]) assertStringIncludes(svg, `>${mode}</text>`);
  assertStringIncludes(svg, ">16</text>");
  assertStringIncludes(svg, 'stroke="#9d755d"');
});

Deno.test("lineChart() draws a rule once per panel", async () => {
  const spec = lineChart({
    rows: CAPACITY_ROWS,
    x: "scale",
    y: "accuracy",
    color: "eval",
    facet: "mode",
    columns: 2,
    rule: { y: 0.9, label: "target" },
  });
  const svg = await renderSvg(spec, { strict: true });
  assertEquals((svg.match(/stroke-dasharray="6,4"/g) ?? []).length, 3);
  assertEquals((svg.match(/>target<\/text>/g) ?? []).length, 3);
});

Deno.test("lineChart() throws a clear error for a field that no row has", () => {
  assertThrows(
    () => lineChart({ rows: EPS_ROWS, x: "epsilon", y: "accuracy" }),
    Error,
    'lineChart(): no row has the field "epsilon" (fields seen: attack, eps, accuracy, run)',
  );
  assertThrows(() => lineChart({ rows: [], x: "a", y: "b" }), Error, "non-empty");
});

Deno.test("lineChart() rejects a log scale over values that are not positive", () => {
  assertThrows(() => lineChart({ rows: EPS_ROWS, x: "eps", y: "accuracy", xScale: "log2" }), Error, "> 0");
});

Deno.test("lineChart() rejects a rule with both or neither of x and y", () => {
  assertThrows(() => lineChart({ rows: EPS_ROWS, x: "eps", y: "accuracy", rule: {} }), Error, "exactly one");
});

Deno.test("lineChart() puts text x values on an ordinal axis in row order", async () => {
  const rows = [{ m: "small", a: 0.5 }, { m: "medium", a: 0.7 }, { m: "large", a: 0.9 }];
  const spec = lineChart({ rows, x: "m", y: "a" }) as unknown as Record<string, unknown>;
  const x = (spec.layer as { encoding: { x: Record<string, unknown> } }[])[0].encoding.x;
  assertEquals([x.type, x.sort], ["ordinal", ["small", "medium", "large"]]);
  await renderSvg(spec as never, { strict: true });
});

Deno.test("barChart() draws one bar per row, grouped side by side, with value labels", async () => {
  const rows = ["standard", "FGSM-trained", "PGD-trained"].flatMap((model, i) => [
    { model, kind: "clean", accuracy: 0.99 - i * 0.01 },
    { model, kind: "robust", accuracy: i * 0.4 },
  ]);
  const spec = barChart({
    rows,
    category: "model",
    value: "accuracy",
    group: "kind",
    percent: true,
    labels: true,
  });
  const svg = await renderSvg(spec, { strict: true });
  assertEquals(countPaths(markGroups(svg, "rect")), 6);
  assertStringIncludes(svg, ">80%</text>"); // value label of the last robust bar
  assertStringIncludes(svg, ">robust</text>");
  const s = spec as unknown as Record<string, unknown>;
  assert((s.width as number) >= 220);
});

Deno.test("barChart() draws plain bars without a group", async () => {
  const rows = [{ m: "a", v: 1 }, { m: "b", v: 3 }];
  const svg = await renderSvg(barChart({ rows, category: "m", value: "v", yDomain: [0, 4] }), {
    strict: true,
  });
  assertEquals(countPaths(markGroups(svg, "rect")), 2);
  assertStringIncludes(svg, ">4.0</text>");
});

Deno.test("scatterChart() writes each point's label next to it", async () => {
  const rows = [
    { arch: "VGG-16", acc: 0.52, transfer: 0.68 },
    { arch: "ResNet-18", acc: 0.6, transfer: 0.74 },
    { arch: "DenseNet", acc: 0.64, transfer: 0.8 },
  ];
  const spec = scatterChart({ rows, x: "acc", y: "transfer", label: "arch", xPercent: true, percent: true });
  const svg = await renderSvg(spec, { strict: true });
  assertEquals(countPaths(markGroups(svg, "symbol")), 3);
  for (const r of rows) assertStringIncludes(svg, `>${r.arch}</text>`);
  assertStringIncludes(svg, ">60%</text>");
});

Deno.test("scatterChart() with trend draws the least-squares line through the points", async () => {
  // Exactly on y = 2x - 0.5: the fitted line must pass through the first and the last point.
  const rows = [{ x: 0.3, y: 0.1 }, { x: 0.5, y: 0.5 }, { x: 0.7, y: 0.9 }];
  const spec = scatterChart({ rows, x: "x", y: "y", trend: true });
  const svg = await renderSvg(spec, { strict: true });
  const lines = markGroups(svg, "line");
  assertEquals(lines.length, 1);
  const path = /d="M([-\d.]+),([-\d.]+)L([-\d.]+),([-\d.]+)"/.exec(lines[0]);
  assert(path, "the trend line is one straight segment");
  const symbols = [...svg.matchAll(/transform="translate\(([-\d.]+),([-\d.]+)\)" d="M/g)]
    .map((m) => [Number(m[1]), Number(m[2])]);
  assertEquals(symbols.length, 3);
  const [x0, y0, x1, y1] = path.slice(1).map(Number);
  const xs = symbols.map((p) => p[0]).sort((a, b) => a - b);
  assertAlmostEquals(Math.min(x0, x1), xs[0], 0.5);
  assertAlmostEquals(Math.max(x0, x1), xs[2], 0.5);
  const leftY = x0 < x1 ? y0 : y1;
  const leftPoint = symbols.find((p) => Math.abs(p[0] - xs[0]) < 1e-6)!;
  assertAlmostEquals(leftY, leftPoint[1], 0.5);
});

Deno.test("lineChart() writes a rule's label on its left when the rule is near the right edge", () => {
  const label = (x: number) => {
    const spec = lineChart({ rows: EPS_ROWS, x: "eps", y: "accuracy", rule: { x, label: "ε" } });
    const layers = (spec as unknown as { layer: { mark: { type: string; align?: string } }[] }).layer;
    return layers.find((l) => l.mark.type === "text")!.mark.align;
  };
  assertEquals(label(0.1), "left");
  assertEquals(label(0.4), "right");
});

Deno.test("barChart() writes long category and legend labels in full, without an ellipsis", async () => {
  const long = "clean (empirical risk on the test set, all images)";
  const group = "FGSM (l-inf, eps 0.3, untargeted, one step from x)";
  const svg = await renderSvg(barChart({
    rows: [{ what: long, kind: group, v: 0.5 }, { what: "PGD", kind: "other", v: 0.2 }],
    category: "what",
    value: "v",
    group: "kind",
  }));
  assertStringIncludes(svg, long);
  assertStringIncludes(svg, group);
  assert(!svg.includes("…"), "no label is cut short");
});
