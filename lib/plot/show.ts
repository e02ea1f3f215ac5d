/**
 * Showing a figure in a notebook from anywhere: a no-op outside the Jupyter kernel.
 * @module
 */
import type { TopLevelSpec } from "vega-lite";
import { Figure, figure, type FigureOptions } from "./figure.ts";
import { type KernelDisplay, kernelDisplay } from "../util/jupyter.ts";

/** Options of {@linkcode show}. */
export interface ShowOptions extends FigureOptions {
  /** Jupyter display id: show again with the same id and `update: true` to redraw in place. */
  displayId?: string;
  /** Replace the output shown earlier under `displayId` instead of adding a new one. */
  update?: boolean;
  /** Display function to use instead of the kernel's (for tests). */
  display?: KernelDisplay;
}

/**
 * Displays a figure (or renders a spec and displays it) in the Deno Jupyter kernel, awaiting the
 * display. Outside a kernel it prints nothing. `target` may also be a promise of either, e.g.
 * `show(imageGrid(...))`.
 *
 * Resolves to the {@linkcode Figure} outside a kernel, and to `undefined` once displayed, so that
 * `await show(...)` as the last line of a cell does not display the figure a second time.
 *
 * @example
 * ```ts
 * import { show } from "./show.ts";
 * const fig = await show({ data: { values: [{ x: 1 }] }, mark: "point", encoding: { x: { field: "x", type: "quantitative" } } });
 * ```
 */
export async function show(
  target: Figure | TopLevelSpec | PromiseLike<Figure | TopLevelSpec>,
  options: ShowOptions = {},
): Promise<Figure | undefined> {
  const resolved = await target;
  const fig = resolved instanceof Figure ? resolved : await figure(resolved, options);
  const display = options.display ?? kernelDisplay();
  if (!display) return fig;
  await display(fig.toMimeBundle(), {
    raw: true,
    ...(options.displayId === undefined ? {} : { display_id: options.displayId }),
    ...(options.update ? { update: true } : {}),
  });
  return undefined;
}
