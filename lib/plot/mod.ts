/**
 * Figures for the notebooks: Vega-Lite chart helpers, headless SVG rendering, image grids, and display
 * in the Deno Jupyter kernel and in the exported HTML.
 *
 * @example
 * ```ts
 * import { lineChart, show } from "./mod.ts";
 * await show(lineChart({ rows: [{ eps: 0, acc: 0.99 }, { eps: 0.3, acc: 0.05 }], x: "eps", y: "acc", percent: true }));
 * ```
 * @module
 */
export { checkSpec, PlotSpecError, renderSvg } from "./render.ts";
export type { RenderSvgOptions, TopLevelSpec } from "./render.ts";
export { Figure, figure, JUPYTER_DISPLAY, VEGALITE_MIME } from "./figure.ts";
export type { FigureOptions } from "./figure.ts";
export { show } from "./show.ts";
export type { ShowOptions } from "./show.ts";
export { barChart, lineChart, scatterChart } from "./charts.ts";
export type {
  BarChartOptions,
  ChartOptions,
  ChartRow,
  LineChartOptions,
  RuleMark,
  ScatterChartOptions,
} from "./charts.ts";
export { heatmap } from "./heatmap.ts";
export type { HeatmapOptions } from "./heatmap.ts";
export { imageGrid, weightImage } from "./images.ts";
export type { ImageGridOptions, ImageKind, ImageRow, WeightImageOptions } from "./images.ts";
export { encodePng, pngDataUrl } from "./png.ts";
export type { PngChannels } from "./png.ts";
export {
  DIVERGING_NEGATIVE,
  DIVERGING_POSITIVE,
  DIVERGING_ZERO,
  divergingRgb,
  scaleToBytes,
  upscaleNearest,
} from "./pixels.ts";
export type { Rgb } from "./pixels.ts";
