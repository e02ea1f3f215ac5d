/**
 * Heatmaps of a function sampled on a 2-D grid, such as the loss around an input along two directions.
 * @module
 */
import * as vega from "vega";
import type { TopLevelSpec } from "vega-lite";
import { chartConfig } from "./theme.ts";
import { pngDataUrl } from "./png.ts";

/** Options of {@linkcode heatmap}. */
export interface HeatmapOptions {
  /** `values[i][j]` is the value at `(xs[j], ys[i])`. Non-finite values are left transparent. */
  values: readonly (readonly number[])[] | readonly Float32Array[];
  /** Grid coordinates along x, strictly increasing. */
  xs: readonly number[];
  /** Grid coordinates along y, strictly increasing. */
  ys: readonly number[];
  /** Chart title. */
  title?: string;
  /** x axis title. Default: the field name. */
  xTitle?: string;
  /** y axis title. Default: the field name. */
  yTitle?: string;
  /** Legend title. Default "value". */
  colorTitle?: string;
  /** A continuous Vega colour scheme. Default "viridis" ("blueorange" when `domainMid` is set). */
  scheme?: string;
  /** Value at the centre of a diverging colour scale, e.g. 0. */
  domainMid?: number;
  /** Colour domain. Default: the smallest and largest finite value. */
  domain?: readonly [number, number];
  /** A point to mark, e.g. the clean input: `{ x: 0, y: 0, label: "x" }`. */
  marker?: { x: number; y: number; label?: string };
  /** Plot width in pixels. Default 300. */
  width?: number;
  /** Plot height in pixels. Default 300. */
  height?: number;
}

type Spec = Record<string, unknown>;

function checkAxis(name: string, values: readonly number[]): void {
  if (!Array.isArray(values) || values.length === 0) {
    throw new Error(`heatmap(): ${name} must be a non-empty array of numbers`);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`heatmap(): ${name}[${i}] is not a finite number`);
    if (i > 0 && values[i] <= values[i - 1]) {
      throw new Error(`heatmap(): ${name} must be strictly increasing`);
    }
  }
}

/** Cell edges around grid points: midpoints between neighbours, half a step beyond the ends. */
function edges(values: readonly number[]): number[] {
  const n = values.length;
  if (n === 1) return [values[0] - 0.5, values[0] + 0.5];
  const out = [values[0] - (values[1] - values[0]) / 2];
  for (let i = 0; i < n - 1; i++) out.push((values[i] + values[i + 1]) / 2);
  out.push(values[n - 1] + (values[n - 1] - values[n - 2]) / 2);
  return out;
}

/**
 * For each of `pixels` pixel columns (or rows, top first when `flip`), the index of the cell whose
 * edges contain the pixel's centre.
 */
function pixelCells(edgeValues: readonly number[], pixels: number, flip: boolean): Int32Array {
  const lo = edgeValues[0];
  const span = edgeValues[edgeValues.length - 1] - lo;
  const out = new Int32Array(pixels);
  let cell = 0;
  for (let p = 0; p < pixels; p++) {
    const pos = ((flip ? pixels - p - 0.5 : p + 0.5) / pixels) * span + lo;
    if (flip) {
      cell = edgeValues.length - 2;
      while (cell > 0 && pos < edgeValues[cell]) cell--;
    } else {
      while (cell < edgeValues.length - 2 && pos >= edgeValues[cell + 1]) cell++;
    }
    out[p] = cell;
  }
  return out;
}

function parseColor(color: string): [number, number, number] {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (hex) return [parseInt(hex[1], 16), parseInt(hex[2], 16), parseInt(hex[3], 16)];
  const rgb = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)/.exec(color);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  throw new Error(`heatmap(): cannot read colour ${JSON.stringify(color)}`);
}

function interpolator(scheme: string): (t: number) => [number, number, number] {
  const fn = vega.scheme(scheme) as unknown;
  if (typeof fn !== "function") {
    throw new Error(
      `heatmap(): "${scheme}" is not a continuous Vega colour scheme (try "viridis" or "blueorange")`,
    );
  }
  return (t) => parseColor((fn as (t: number) => string)(t));
}

/**
 * Checks that `values` has one row of `xs.length` entries per y and returns the smallest and largest
 * finite value, and whether any value is not finite.
 */
function valueRange(
  values: HeatmapOptions["values"],
  xs: readonly number[],
  ys: readonly number[],
): { lo: number; hi: number; holes: boolean } {
  if (!Array.isArray(values) || values.length !== ys.length) {
    throw new Error(`heatmap(): values must have ys.length = ${ys.length} rows, got ${values?.length}`);
  }
  let lo = Infinity;
  let hi = -Infinity;
  let holes = false;
  for (let i = 0; i < ys.length; i++) {
    const row = values[i];
    if (!row || row.length !== xs.length) {
      throw new Error(
        `heatmap(): values[${i}] must have xs.length = ${xs.length} entries, got ${row?.length}`,
      );
    }
    for (let j = 0; j < xs.length; j++) {
      const v = row[j];
      if (!Number.isFinite(v)) holes = true;
      else {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  if (lo > hi) throw new Error("heatmap(): values has no finite number");
  return { lo, hi, holes };
}

/** The colour domain: `options.domain` or the finite values' range, widened when empty; checks `domainMid`. */
function colourDomain(options: HeatmapOptions, finiteLo: number, finiteHi: number): [number, number] {
  const { domainMid } = options;
  let [lo, hi] = options.domain ?? [finiteLo, finiteHi];
  if (lo === hi) [lo, hi] = [lo - 0.5, hi + 0.5];
  if (domainMid !== undefined && !(lo < domainMid && domainMid < hi)) {
    throw new Error(`heatmap(): domainMid ${domainMid} must lie inside the colour domain [${lo}, ${hi}]`);
  }
  return [lo, hi];
}

/** Maps a value to its position 0..1 on the colour scale, linear on each side of `domainMid` when set. */
function scalePosition(lo: number, hi: number, domainMid: number | undefined): (v: number) => number {
  return (v: number) => {
    const t = domainMid === undefined
      ? (v - lo) / (hi - lo)
      : v < domainMid
      ? 0.5 * (v - lo) / (domainMid - lo)
      : 0.5 + 0.5 * (v - domainMid) / (hi - domainMid);
    return Math.max(0, Math.min(1, t));
  };
}

/** The colour of each cell, row by row; `undefined` for non-finite values. */
function cellColors(
  values: HeatmapOptions["values"],
  nx: number,
  colorOf: (v: number) => readonly number[],
): (readonly number[] | undefined)[][] {
  const cellColor: (readonly number[] | undefined)[][] = [];
  for (let i = 0; i < values.length; i++) {
    const row: ArrayLike<number> = values[i];
    cellColor.push(
      Array.from({ length: nx }, (_, j) => (Number.isFinite(row[j]) ? colorOf(row[j]) : undefined)),
    );
  }
  return cellColor;
}

/**
 * The cells as a PNG data URL of whole multiples of `width` x `height` pixels: each cell gets the pixels
 * between its edges `xe`, `ye`, so uneven grids line up with the axes too; the top image row is the
 * largest y. With `holes`, the image has an alpha channel and non-finite cells are transparent.
 */
function cellImage(
  cellColor: (readonly number[] | undefined)[][],
  xe: readonly number[],
  ye: readonly number[],
  width: number,
  height: number,
  holes: boolean,
): Promise<string> {
  const pw = width * Math.ceil((xe.length - 1) / width);
  const ph = height * Math.ceil((ye.length - 1) / height);
  const columnOf = pixelCells(xe, pw, false);
  const rowOf = pixelCells(ye, ph, true);
  const channels = holes ? 4 : 3;
  const pixels = new Uint8Array(pw * ph * channels);
  for (let py = 0; py < ph; py++) {
    const row = cellColor[rowOf[py]];
    for (let px = 0; px < pw; px++) {
      const rgb = row[columnOf[px]];
      if (rgb === undefined) continue; // transparent (alpha 0)
      const at = (py * pw + px) * channels;
      pixels.set(rgb, at);
      if (channels === 4) pixels[at + 3] = 255;
    }
  }
  return pngDataUrl(pixels, pw, ph, channels);
}

/** The layer that draws the image `url` over the plot area, with the numeric x and y axes. */
function imageLayer(
  url: string,
  xe: readonly number[],
  ye: readonly number[],
  options: HeatmapOptions,
  width: number,
  height: number,
): Spec {
  const nx = xe.length - 1;
  const ny = ye.length - 1;
  const xTitle = options.xTitle ?? "x";
  const yTitle = options.yTitle ?? "y";
  const xScale = { domain: [xe[0], xe[nx]], nice: false, zero: false };
  const yScale = { domain: [ye[0], ye[ny]], nice: false, zero: false };
  return {
    data: { values: [{ url, x: xe[0], y: ye[ny] }] },
    mark: { type: "image", width, height, align: "left", baseline: "top", aspect: false, aria: false },
    encoding: {
      x: { field: "x", type: "quantitative", title: xTitle, scale: xScale },
      y: { field: "y", type: "quantitative", title: yTitle, scale: yScale },
      url: { field: "url", type: "nominal" },
    },
  };
}

/** Invisible marks that carry the colour scale, so that the legend matches the image. */
function legendLayer(options: HeatmapOptions, scheme: string, lo: number, hi: number): Spec {
  const { domainMid } = options;
  return {
    data: { values: [{ v: lo }, { v: hi }] },
    mark: { type: "point", opacity: 0, aria: false },
    encoding: {
      x: { datum: options.xs[0], type: "quantitative" },
      y: { datum: options.ys[0], type: "quantitative" },
      color: {
        field: "v",
        type: "quantitative",
        title: options.colorTitle ?? "value",
        scale: domainMid === undefined
          ? { scheme, domain: [lo, hi] }
          : { scheme, domain: [lo, hi], domainMid },
      },
    },
  };
}

/** The layers that draw `marker` as a cross, and its label beside it when it has one. */
function markerLayers(m: NonNullable<HeatmapOptions["marker"]>): Spec[] {
  const markerRow = [{ x: m.x, y: m.y, label: m.label ?? "" }];
  const at = { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } };
  const layers: Spec[] = [{
    data: { values: markerRow },
    mark: {
      type: "point",
      shape: "cross",
      filled: true,
      size: 90,
      color: "white",
      stroke: "black",
      strokeWidth: 1,
    },
    encoding: at,
  }];
  if (m.label) {
    layers.push({
      data: { values: markerRow },
      mark: {
        type: "text",
        align: "left",
        baseline: "bottom",
        dx: 6,
        dy: -4,
        fontSize: 12,
        fontWeight: "bold",
      },
      encoding: { ...at, text: { field: "label", type: "nominal" }, color: { value: "white" } },
    });
  }
  return layers;
}

/**
 * A heatmap of `values` on the grid `xs` x `ys`, with numeric axes and a colour legend. The cells are
 * drawn as one embedded PNG image (compact even for fine grids), centred on the grid points.
 *
 * @example
 * ```ts
 * import { heatmap } from "./heatmap.ts";
 * const xs = [-1, 0, 1], ys = [-1, 0, 1];
 * const spec = await heatmap({
 *   values: ys.map((b) => xs.map((a) => a * a + b * b)), xs, ys,
 *   colorTitle: "loss", marker: { x: 0, y: 0, label: "x" },
 * });
 * ```
 */
export async function heatmap(options: HeatmapOptions): Promise<TopLevelSpec> {
  const { values, xs, ys, width = 300, height = 300, domainMid } = options;
  checkAxis("xs", xs);
  checkAxis("ys", ys);
  const range = valueRange(values, xs, ys);
  const [lo, hi] = colourDomain(options, range.lo, range.hi);
  const scheme = options.scheme ?? (domainMid === undefined ? "viridis" : "blueorange");
  const color = interpolator(scheme);
  const position = scalePosition(lo, hi, domainMid);
  const xe = edges(xs);
  const ye = edges(ys);
  const cellColor = cellColors(values, xs.length, (v) => color(position(v)));
  const url = await cellImage(cellColor, xe, ye, width, height, range.holes);
  const layer: Spec[] = [
    imageLayer(url, xe, ye, options, width, height),
    legendLayer(options, scheme, lo, hi),
  ];
  if (options.marker) layer.push(...markerLayers(options.marker));
  const spec: Spec = { config: chartConfig(), width, height, layer };
  if (options.title !== undefined) spec.title = options.title;
  return spec as unknown as TopLevelSpec;
}
