import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { Figure, figure, JUPYTER_DISPLAY, VEGALITE_MIME } from "../../lib/plot/figure.ts";
import type { TopLevelSpec } from "../../lib/plot/render.ts";
import { svgIds } from "../../lib/plot/svg_ids.ts";

const SPEC: TopLevelSpec = {
  title: "Accuracy",
  data: { values: [{ m: "std", v: 0.99 }, { m: "adv", v: 0.9 }] },
  mark: "bar",
  encoding: { x: { field: "m", type: "nominal" }, y: { field: "v", type: "quantitative" } },
};

/** A spec whose SVG defines ids: a clip path and a gradient legend. */
const WITH_IDS: TopLevelSpec = {
  data: { values: [{ x: 1, y: 1, v: 1 }, { x: 2, y: 1, v: 2 }] },
  mark: { type: "rect", clip: true },
  encoding: {
    x: { field: "x", type: "ordinal" },
    y: { field: "y", type: "ordinal" },
    color: { field: "v", type: "quantitative" },
  },
};

Deno.test("Figure's Jupyter display bundle holds the Vega-Lite spec and the HTML figure", async () => {
  const fig = await figure(SPEC);
  assertEquals(JUPYTER_DISPLAY, Symbol.for("Jupyter.display"));
  const bundle = fig[JUPYTER_DISPLAY]();
  const spec = bundle[VEGALITE_MIME] as Record<string, unknown>;
  assertEquals(VEGALITE_MIME, "application/vnd.vegalite.v5+json");
  assertEquals(spec.mark, "bar");
  assertEquals(spec.$schema, "https://vega.github.io/schema/vega-lite/v5.json");
  const html = bundle["text/html"] as string;
  assert(html.startsWith('<div class="advex-figure" data-title="Accuracy"><svg'), html.slice(0, 80));
  assert(html.endsWith("</svg></div>"));
  assertStringIncludes(html, "mark-rect");
  assertEquals(JSON.parse(JSON.stringify(bundle[VEGALITE_MIME])), spec); // JSON-serialisable
});

Deno.test("Figure.toHtml() escapes the title attribute and lets the svg shrink to the page", async () => {
  const fig = await figure(SPEC, { title: 'eps "0.3" <b> & more' });
  const html = fig.toHtml();
  assertStringIncludes(html, 'data-title="eps &#34;0.3&#34; &#60;b&#62; &#38; more"');
  assertStringIncludes(html, '<svg style="max-width:100%;height:auto"');
  assertEquals(fig.title, 'eps "0.3" <b> & more');
});

Deno.test("Figure takes its title from the spec, else calls itself figure", async () => {
  assertEquals((await figure(SPEC)).title, "Accuracy");
  assertEquals((await figure({ ...SPEC, title: { text: ["a", "b"] } })).title, "a b");
  assertEquals((await figure({ ...SPEC, title: undefined })).title, "figure");
});

Deno.test("Figure SVGs on one page have no duplicate ids", async () => {
  const page = [await figure(WITH_IDS), await figure(WITH_IDS), await figure(SPEC)].map((f) => f.toHtml())
    .join("");
  const ids = svgIds(page);
  assert(ids.length >= 4, `expected clip and gradient ids, got ${ids}`);
  assertEquals(new Set(ids).size, ids.length, ids.join(", "));
  for (const [, ref] of page.matchAll(/url\(#([^)]+)\)/g)) {
    assert(ids.includes(ref), `dangling reference ${ref}`);
  }
});

Deno.test("Figure.save() writes the svg atomically, leaving no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fig = await figure(SPEC);
    await fig.save(`${dir}/out/acc.svg`);
    await fig.save(`${dir}/out/acc.svg`); // overwrite
    await fig.save(`${dir}/out/acc.html`);
    await fig.save(`${dir}/out/acc.vl.json`);
    assertEquals(await Deno.readTextFile(`${dir}/out/acc.svg`), fig.svg);
    assertEquals(await Deno.readTextFile(`${dir}/out/acc.html`), fig.toHtml());
    assertEquals(
      JSON.parse(await Deno.readTextFile(`${dir}/out/acc.vl.json`)),
      JSON.parse(JSON.stringify(SPEC)),
    );
    const names = [];
    for await (const e of Deno.readDir(`${dir}/out`)) names.push(e.name);
    assertEquals(names.sort(), ["acc.html", "acc.svg", "acc.vl.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Figure's constructor rejects something that is not an SVG document", () => {
  assertThrows(() => new Figure(SPEC, "<div></div>"), Error, "must be an <svg>");
});
