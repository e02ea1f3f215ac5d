/**
 * Making the `id` attributes of an SVG document unique, so that several inline SVGs can share one HTML
 * page. Vega writes ids such as `clip1` and `gradient_0` for clip paths and gradient legends; two figures
 * on one page would otherwise point at each other's definitions.
 * @module
 */

const SESSION = (() => {
  const bytes = new Uint8Array(4);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(36).padStart(2, "0")).join("").slice(0, 6);
})();

let counter = 0;

/**
 * Returns a fresh id prefix, unique within this process and, through a random session part, across
 * kernel restarts whose old outputs are still on the page.
 *
 * @example
 * ```ts
 * import { uniqueIdPrefix } from "./svg_ids.ts";
 * const a = uniqueIdPrefix();
 * const b = uniqueIdPrefix();
 * console.assert(a !== b);
 * ```
 */
export function uniqueIdPrefix(): string {
  counter += 1;
  return `advex-${SESSION}-${counter}`;
}

/** The values of all `id="..."` attributes in `svg`, in document order. */
export function svgIds(svg: string): string[] {
  return Array.from(svg.matchAll(/\sid="([^"]*)"/g), (m) => m[1]);
}

/**
 * Prefixes every id defined in `svg` with `prefix` and rewrites the references to it
 * (`url(#id)`, `href="#id"`, `xlink:href="#id"`). References to ids not defined in the document are
 * left alone.
 *
 * @example
 * ```ts
 * import { prefixSvgIds } from "./svg_ids.ts";
 * const svg = '<svg><clipPath id="clip1"/><g clip-path="url(#clip1)"/></svg>';
 * console.assert(prefixSvgIds(svg, "f1").includes('url(#f1-clip1)'));
 * ```
 */
export function prefixSvgIds(svg: string, prefix: string): string {
  const ids = new Set(svgIds(svg));
  if (ids.size === 0) return svg;
  const rename = (id: string) => (ids.has(id) ? `${prefix}-${id}` : id);
  return svg
    .replace(/(\sid=")([^"]*)(")/g, (_m, a: string, id: string, b: string) => a + rename(id) + b)
    .replace(
      /url\((['"]?)#([^'")]+)\1\)/g,
      (_m, q: string, id: string) => `url(${q}#${rename(id)}${q})`,
    )
    .replace(/(href=")#([^"]+)(")/g, (_m, a: string, id: string, b: string) => `${a}#${rename(id)}${b}`);
}
