import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { prefixSvgIds, svgIds, uniqueIdPrefix } from "../../lib/plot/svg_ids.ts";

const SVG = '<svg><defs><clipPath id="clip1"><rect/></clipPath><linearGradient id="gradient_0"/></defs>' +
  '<g clip-path="url(#clip1)"><rect fill="url(#gradient_0)"/><use xlink:href="#clip1"/><use href="#other"/></g></svg>';

Deno.test("prefixSvgIds() rewrites ids and their url() and href references", () => {
  const out = prefixSvgIds(SVG, "p");
  assertEquals(svgIds(out), ["p-clip1", "p-gradient_0"]);
  assert(out.includes('clip-path="url(#p-clip1)"'));
  assert(out.includes('fill="url(#p-gradient_0)"'));
  assert(out.includes('xlink:href="#p-clip1"'));
});

Deno.test("prefixSvgIds() leaves references to ids the document does not define alone", () => {
  assert(prefixSvgIds(SVG, "p").includes('href="#other"'));
  assertEquals(prefixSvgIds("<svg><g/></svg>", "p"), "<svg><g/></svg>");
});

Deno.test("uniqueIdPrefix() returns a different prefix on every call", () => {
  assertNotEquals(uniqueIdPrefix(), uniqueIdPrefix());
  assert(/^[A-Za-z][\w-]*$/.test(uniqueIdPrefix()));
});
