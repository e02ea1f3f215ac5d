/**
 * The shared look of the lab's charts: sizes, fonts and number formats.
 * @module
 */

/** Default width of one chart panel, in pixels. */
export const DEFAULT_WIDTH = 360;
/** Default height of one chart panel, in pixels. */
export const DEFAULT_HEIGHT = 240;
/** Default width of one panel when several panels stand side by side. */
export const DEFAULT_PANEL_WIDTH = 220;
/** Default height of one panel when several panels stand side by side. */
export const DEFAULT_PANEL_HEIGHT = 180;

/** Vega-Lite `format` for values in [0, 1] shown as whole percentages. */
export const PERCENT_FORMAT = ".0%";

/**
 * Vega-Lite config shared by the chart helpers.
 *
 * @example
 * ```ts
 * import { chartConfig } from "./theme.ts";
 * const spec = { config: chartConfig(), mark: "point" };
 * ```
 */
export function chartConfig(): Record<string, unknown> {
  return {
    font: "sans-serif",
    title: { fontSize: 14, anchor: "start", offset: 8 },
    // labelLimit 0: labels are never cut short with an ellipsis (Vega's defaults stop at 160-180 px).
    axis: {
      labelFontSize: 11,
      titleFontSize: 12,
      titleFontWeight: "normal",
      gridColor: "#e6e6e6",
      labelLimit: 0,
    },
    legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal", labelLimit: 0 },
    header: { labelFontSize: 12, titleFontSize: 12 },
    view: { stroke: "#cccccc" },
  };
}
