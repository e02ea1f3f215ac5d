import { assert, assertEquals, assertRejects } from "@std/assert";
import { show } from "../../lib/plot/show.ts";
import { Figure, figure, VEGALITE_MIME } from "../../lib/plot/figure.ts";
import { PlotSpecError, type TopLevelSpec } from "../../lib/plot/render.ts";
import type { KernelDisplayOptions, MimeBundle } from "../../lib/util/jupyter.ts";

const SPEC: TopLevelSpec = {
  data: { values: [{ x: 1, y: 2 }] },
  mark: "point",
  encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
};

Deno.test("show() returns the Figure and prints nothing outside a kernel", async () => {
  const fig = await show(SPEC, { title: "one point" });
  assert(fig instanceof Figure);
  assertEquals(fig.title, "one point");
  const same = await figure(SPEC);
  assertEquals(await show(same), same);
  assertEquals(await show(Promise.resolve(same)), same);
});

Deno.test("show() sends the figure's MIME bundle to the kernel's display and resolves to undefined", async () => {
  const calls: [MimeBundle, KernelDisplayOptions | undefined][] = [];
  const display = (bundle: MimeBundle, options?: KernelDisplayOptions) => {
    calls.push([bundle, options]);
    return Promise.resolve();
  };
  assertEquals(await show(SPEC, { display }), undefined);
  assertEquals(await show(SPEC, { display, displayId: "progress", update: true }), undefined);
  assertEquals(calls.length, 2);
  assert(VEGALITE_MIME in calls[0][0] && "text/html" in calls[0][0]);
  assertEquals(calls[0][1], { raw: true });
  assertEquals(calls[1][1], { raw: true, display_id: "progress", update: true });
});

Deno.test("show() rejects an invalid spec with a PlotSpecError", async () => {
  await assertRejects(() => show({ mark: "nope" } as never), PlotSpecError, "unknown mark type");
});
