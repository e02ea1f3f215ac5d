/**
 * A rendered figure: the Vega-Lite spec together with its static SVG, displayable in a Jupyter kernel
 * and in the notebook's HTML export.
 * @module
 */
import type { TopLevelSpec } from "vega-lite";
import { renderSvg, type RenderSvgOptions } from "./render.ts";
import { writeFileAtomic } from "../util/fs.ts";
import type { MimeBundle } from "../util/jupyter.ts";

/** The symbol under which the Deno Jupyter kernel looks for an object's MIME bundle. */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display");

/** MIME type under which JupyterLab renders Vega-Lite interactively. */
export const VEGALITE_MIME = "application/vnd.vegalite.v5+json";

/** Options of {@linkcode figure}. */
export interface FigureOptions extends RenderSvgOptions {
  /** Title stored in the HTML wrapper's `data-title`. Default: the spec's title, else "figure". */
  title?: string;
}

/** Escapes text for use in HTML text or a double-quoted attribute. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function specTitle(spec: TopLevelSpec): string | undefined {
  const t = (spec as { title?: unknown }).title;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) return t.join(" ");
  if (t && typeof t === "object" && "text" in t) {
    const text = (t as { text: unknown }).text;
    return Array.isArray(text) ? text.join(" ") : String(text);
  }
  return undefined;
}

/**
 * A Vega-Lite spec with its rendered SVG. Create one with {@linkcode figure}; display it by making it the
 * last expression of a notebook cell, or with `show()`.
 *
 * @example
 * ```ts
 * import { figure } from "./figure.ts";
 * const fig = await figure({
 *   data: { values: [{ a: "clean", b: 0.99 }, { a: "PGD", b: 0.02 }] },
 *   mark: "bar",
 *   encoding: { x: { field: "a", type: "nominal" }, y: { field: "b", type: "quantitative" } },
 * }, { title: "accuracy" });
 * console.assert(fig.toHtml().startsWith('<div class="advex-figure"'));
 * ```
 */
export class Figure {
  /** The Vega-Lite spec. */
  readonly spec: TopLevelSpec;
  /** The standalone SVG document rendered from `spec`. */
  readonly svg: string;
  /** A short title, used in the HTML wrapper's `data-title`. */
  readonly title: string;

  /** Wraps an already rendered SVG; most code should call {@linkcode figure} instead. */
  constructor(spec: TopLevelSpec, svg: string, title?: string) {
    if (!/^\s*<svg[\s>]/.test(svg)) throw new Error("Figure: svg must be an <svg> document");
    this.spec = spec;
    this.svg = svg;
    this.title = title ?? specTitle(spec) ?? "figure";
  }

  /**
   * The figure as an HTML fragment: `<div class="advex-figure" data-title="...">` around the inline SVG,
   * which scales down to the page width.
   */
  toHtml(): string {
    const svg = this.svg.replace(/^\s*<svg/, '<svg style="max-width:100%;height:auto"');
    return `<div class="advex-figure" data-title="${escapeHtml(this.title)}">${svg}</div>`;
  }

  /**
   * The Jupyter MIME bundle: the Vega-Lite spec (interactive where the frontend prefers it), the static
   * figure as `text/html` (kept by the HTML export) and a plain-text fallback.
   */
  toMimeBundle(): MimeBundle {
    const spec = { ...this.spec, $schema: "https://vega.github.io/schema/vega-lite/v5.json" };
    return {
      [VEGALITE_MIME]: spec,
      "text/html": this.toHtml(),
      "text/plain": `Figure(${JSON.stringify(this.title)})`,
    };
  }

  /** Called by the Deno Jupyter kernel when the figure is a cell's value. */
  [JUPYTER_DISPLAY](): MimeBundle {
    return this.toMimeBundle();
  }

  /**
   * Writes the figure atomically (temporary file, then rename). The extension picks the format:
   * `.html` writes {@linkcode Figure.toHtml}, `.json` the Vega-Lite spec, anything else the SVG.
   */
  async save(path: string): Promise<void> {
    const lower = path.toLowerCase();
    const text = lower.endsWith(".html")
      ? this.toHtml()
      : lower.endsWith(".json")
      ? JSON.stringify(this.spec, null, 2) + "\n"
      : this.svg;
    await writeFileAtomic(path, text);
  }

  /** A short description, e.g. `Figure("accuracy")`. */
  toString(): string {
    return `Figure(${JSON.stringify(this.title)})`;
  }
}

/**
 * Renders `spec` and returns it as a {@linkcode Figure}. Throws `PlotSpecError` for an invalid spec.
 *
 * @example
 * ```ts
 * import { figure } from "./figure.ts";
 * const fig = await figure({ data: { values: [{ x: 1 }] }, mark: "point", encoding: { x: { field: "x", type: "quantitative" } } });
 * console.assert(fig.svg.includes("<svg"));
 * ```
 */
export async function figure(spec: TopLevelSpec, options: FigureOptions = {}): Promise<Figure> {
  const svg = await renderSvg(spec, options);
  return new Figure(spec, svg, options.title);
}
