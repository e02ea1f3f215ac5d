import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import * as vega from "vega";
import { heatmap } from "../../lib/plot/heatmap.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import { decodePngDataUrl, svgImageUrls } from "./png_reader.ts";

function grid(n: number): number[] {
  return Array.from({ length: n }, (_, i) => -1 + (2 * i) / (n - 1));
}

function rgbAt(img: { width: number; channels: number; pixels: Uint8Array }, x: number, y: number): number[] {
  const at = (y * img.width + x) * img.channels;
  return [...img.pixels.subarray(at, at + img.channels)];
}

function rgbOf(color: string): number[] {
  return /\d+/g.exec(color) ? color.match(/\d+/g)!.slice(0, 3).map(Number) : [];
}

Deno.test("heatmap() draws the grid as one image under numeric axes, with a colour legend", async () => {
  const xs = grid(41);
  const values = xs.map((b) => xs.map((a) => a * a + b * b));
  const spec = await heatmap({ values, xs, ys: xs, colorTitle: "loss", marker: { x: 0, y: 0, label: "x" } });
  const svg = await renderSvg(spec, { strict: true });
  const urls = svgImageUrls(svg);
  assertEquals(urls.length, 1);
  assertStringIncludes(svg, "<linearGradient"); // the colour legend
  assertStringIncludes(svg, ">loss</text>");
  assert(svg.length < 60_000, `svg of ${svg.length} characters`);
  const img = await decodePngDataUrl(urls[0]);
  assertEquals([img.width, img.height, img.channels], [300, 300, 3]);
  const viridis = vega.scheme("viridis") as (t: number) => string;
  assertEquals(rgbAt(img, 150, 150), rgbOf(viridis(0))); // the minimum at the centre
  assertEquals(rgbAt(img, 0, 0), rgbOf(viridis(1))); // the maximum in the corners
});

Deno.test("heatmap() puts the largest y at the top of the image", async () => {
  const spec = await heatmap({ values: [[0, 0], [1, 1]], xs: [0, 1], ys: [0, 1], width: 20, height: 20 });
  const img = await decodePngDataUrl(svgImageUrls(await renderSvg(spec, { strict: true }))[0]);
  const viridis = vega.scheme("viridis") as (t: number) => string;
  assertEquals(rgbAt(img, 5, 2), rgbOf(viridis(1)));
  assertEquals(rgbAt(img, 5, 17), rgbOf(viridis(0)));
});

Deno.test("heatmap() lines uneven grids up with the axes", async () => {
  // Cell edges along x: -0.5, 0.5, 2, 4 (span 4.5) -> pixel boundaries at 20 and 50 of 90.
  const spec = await heatmap({ values: [[0, 1, 2]], xs: [0, 1, 3], ys: [0], width: 90, height: 10 });
  const img = await decodePngDataUrl(svgImageUrls(await renderSvg(spec, { strict: true }))[0]);
  const column = (x: number) => rgbAt(img, x, 5).join();
  assertEquals(column(0), column(19));
  assert(column(19) !== column(20));
  assertEquals(column(20), column(49));
  assert(column(49) !== column(50));
  assertEquals(column(50), column(89));
});

Deno.test("heatmap() leaves non-finite cells transparent and centres a diverging scale", async () => {
  const spec = await heatmap({
    values: [[-2, 0], [NaN, 4]],
    xs: [0, 1],
    ys: [0, 1],
    domainMid: 0,
    width: 10,
    height: 10,
  });
  const img = await decodePngDataUrl(svgImageUrls(await renderSvg(spec, { strict: true }))[0]);
  assertEquals(img.channels, 4);
  assertEquals(rgbAt(img, 2, 2)[3], 0); // NaN at (x 0, y 1): top left
  const blueorange = vega.scheme("blueorange") as (t: number) => string;
  assertEquals(rgbAt(img, 7, 7).slice(0, 3), rgbOf(blueorange(0.5))); // 0 at the middle of the scheme
  assertEquals(rgbAt(img, 2, 7).slice(0, 3), rgbOf(blueorange(0)));
  assertEquals(rgbAt(img, 7, 2).slice(0, 3), rgbOf(blueorange(1)));
});

Deno.test("heatmap() rejects values whose shape does not match the grid", async () => {
  await assertRejects(
    () => heatmap({ values: [[1, 2]], xs: [0, 1], ys: [0, 1] }),
    Error,
    "ys.length = 2 rows",
  );
  await assertRejects(() => heatmap({ values: [[1], [2]], xs: [0, 1], ys: [0, 1] }), Error, "values[0]");
  await assertRejects(() => heatmap({ values: [[1, 2]], xs: [1, 0], ys: [0] }), Error, "strictly increasing");
  await assertRejects(
    () => heatmap({ values: [[1]], xs: [0], ys: [0], scheme: "category10" }),
    Error,
    "continuous",
  );
});
