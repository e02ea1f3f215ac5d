/**
 * Chart helpers that turn plain rows (`{ eps: 0.1, attack: "PGD", accuracy: 0.42 }`) into Vega-Lite
 * specs with the lab's look: line charts with optional reference rules, grouped bars, labelled scatter
 * plots, and side-by-side panels through `facet`.
 *
 * Every helper returns a plain spec: pass it to `figure()` or `show()`.
 * @module
 */
import type { TopLevelSpec } from "vega-lite";
import {
  chartConfig,
  DEFAULT_HEIGHT,
  DEFAULT_PANEL_HEIGHT,
  DEFAULT_PANEL_WIDTH,
  DEFAULT_WIDTH,
  PERCENT_FORMAT,
} from "./theme.ts";

/** One data row: field name to value. */
export type ChartRow = Record<string, unknown>;

type Spec = Record<string, unknown>;

/** Options shared by the chart helpers. */
export interface ChartOptions {
  /** Chart title. */
  title?: string;
  /** Width of the plot area (of one panel when faceted), in pixels. */
  width?: number;
  /** Height of the plot area (of one panel when faceted), in pixels. */
  height?: number;
  /** Field whose values split the rows into panels, one panel per value, in order of appearance. */
  facet?: string;
  /** Panels per row when faceted. Default: all panels in one row. */
  columns?: number;
  /** Title above the panels' headers when faceted. Default: none. */
  facetTitle?: string;
}

/** A reference line: vertical at `x` or horizontal at `y`, dashed, with an optional label. */
export interface RuleMark {
  /** Position of a vertical rule on the x axis. */
  x?: number;
  /** Position of a horizontal rule on the y axis. */
  y?: number;
  /** Text written next to the rule. */
  label?: string;
  /** Line and label colour. Default a dark red. */
  color?: string;
}

/** Options of {@linkcode lineChart}. */
export interface LineChartOptions extends ChartOptions {
  /** The data, one object per point or bar. */
  rows: readonly ChartRow[];
  /** Field on the x axis (numbers: a quantitative axis; anything else: ordinal, in order of appearance). */
  x: string;
  /** Field on the y axis (numbers). */
  y: string;
  /** Field that splits the rows into coloured series (e.g. the attack). */
  color?: string;
  /** x axis title. Default: the field name. */
  xTitle?: string;
  /** y axis title. Default: the field name. */
  yTitle?: string;
  /** Legend title. Default: the field name. */
  colorTitle?: string;
  /** Dashed reference line(s), e.g. `{ x: 0.3, label: "training ε" }`. */
  rule?: RuleMark | readonly RuleMark[];
  /** Show y values in [0, 1] as percentages; the y domain defaults to [0, 1]. Default false. */
  percent?: boolean;
  /** Explicit y domain. */
  yDomain?: readonly [number, number];
  /** x scale: "linear" (default), "log" (base 10) or "log2" (ticks at the data's x values). */
  xScale?: "linear" | "log" | "log2";
  /** Explicit x tick values. */
  xTicks?: readonly number[];
  /** Draw a point at each row. Default true. */
  points?: boolean;
  /** Fixed colours per series value, e.g. `{ clean: "#4c78a8", PGD: "#9d755d" }`. */
  colors?: Readonly<Record<string, string>>;
}

/** Options of {@linkcode barChart}. */
export interface BarChartOptions extends ChartOptions {
  /** The data, one object per point or bar. */
  rows: readonly ChartRow[];
  /** Field naming the bar groups on the x axis (e.g. the model). */
  category: string;
  /** Field with the bar height (numbers). */
  value: string;
  /** Field that splits each category into side-by-side coloured bars (e.g. "clean" / "robust"). */
  group?: string;
  /** x axis title. Default: the field name. */
  xTitle?: string;
  /** y axis title. Default: the field name. */
  yTitle?: string;
  /** Legend title of the groups. Default: the field name. */
  groupTitle?: string;
  /** Explicit y domain; with `percent` it defaults to [0, 1]. */
  yDomain?: readonly [number, number];
  /** Show values in [0, 1] as percentages. Default false. */
  percent?: boolean;
  /** Print each bar's value above it. Default false. */
  labels?: boolean;
  /** Fixed colours per group value. */
  colors?: Readonly<Record<string, string>>;
}

/** Options of {@linkcode scatterChart}. */
export interface ScatterChartOptions extends ChartOptions {
  /** The data, one object per point or bar. */
  rows: readonly ChartRow[];
  /** Field on the x axis (numbers). */
  x: string;
  /** Field on the y axis (numbers). */
  y: string;
  /** Field whose value is written next to each point. */
  label?: string;
  /** Field that colours the points. */
  color?: string;
  /** x axis title. Default: the field name. */
  xTitle?: string;
  /** y axis title. Default: the field name. */
  yTitle?: string;
  /** Legend title. Default: the field name. */
  colorTitle?: string;
  /** Show x values in [0, 1] as percentages. Default false. */
  xPercent?: boolean;
  /** Show y values in [0, 1] as percentages. Default false. */
  percent?: boolean;
  /** Fixed colours per colour value. */
  colors?: Readonly<Record<string, string>>;
  /** Draw the least-squares line of y on x (one per colour group). Default false. */
  trend?: boolean;
}

const RULE_COLOR = "#b2182b";

function compact(obj: Spec): Spec {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

/** The distinct values of `field`, in order of first appearance. */
function distinct(rows: readonly ChartRow[], field: string): unknown[] {
  const seen = new Set<unknown>();
  for (const r of rows) {
    const v = r[field];
    if (v !== undefined && v !== null) seen.add(v);
  }
  return [...seen];
}

function checkRows(fn: string, rows: readonly ChartRow[], fields: (string | undefined)[]): void {
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new Error(`${fn}(): rows must be a non-empty array of objects`);
  }
  for (const f of fields) {
    if (f === undefined) continue;
    if (!rows.some((r) => r !== null && typeof r === "object" && f in r)) {
      const seen = [...new Set(rows.flatMap((r) => (r && typeof r === "object" ? Object.keys(r) : [])))];
      throw new Error(`${fn}(): no row has the field "${f}" (fields seen: ${seen.join(", ") || "none"})`);
    }
  }
}

/** Copies of the rows with only the named fields, so the spec carries nothing else. */
function pick(rows: readonly ChartRow[], fields: (string | undefined)[]): ChartRow[] {
  const keep = [...new Set(fields.filter((f): f is string => f !== undefined))];
  return rows.map((r) => Object.fromEntries(keep.filter((f) => f in r).map((f) => [f, r[f]])));
}

function allNumbers(rows: readonly ChartRow[], field: string): boolean {
  return rows.every((r) => r[field] === undefined || r[field] === null || typeof r[field] === "number");
}

function colorDef(
  rows: readonly ChartRow[],
  field: string | undefined,
  title: string | undefined,
  colors: Readonly<Record<string, string>> | undefined,
): Spec | undefined {
  if (field === undefined) return undefined;
  const domain = distinct(rows, field);
  const scale: Spec = { domain };
  if (colors) {
    const fallback = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#9d755d"];
    scale.range = domain.map((v, i) => colors[String(v)] ?? fallback[i % fallback.length]);
  }
  return { field, type: "nominal", title: title ?? field, scale, sort: domain };
}

/**
 * Layers drawing dashed rules with their labels. `xFraction` tells where an x value falls across the
 * data's x range (0 left, 1 right), so that labels of rules near the right edge go to their left.
 */
function ruleLayers(
  rules: RuleMark | readonly RuleMark[] | undefined,
  xFraction?: (x: number) => number,
): Spec[] {
  if (rules === undefined) return [];
  const list = (Array.isArray(rules) ? rules : [rules]) as readonly RuleMark[];
  const layers: Spec[] = [];
  // One row per panel, so that each rule is drawn once (per facet panel) and not once per data row.
  const once = [{ aggregate: [{ op: "count", as: "__rows" }] }];
  for (const r of list) {
    const vertical = r.x !== undefined;
    if (vertical === (r.y !== undefined)) throw new Error("rule: give exactly one of x or y");
    const at = vertical ? r.x! : r.y!;
    if (!Number.isFinite(at)) throw new Error(`rule: position must be a finite number, got ${at}`);
    const color = r.color ?? RULE_COLOR;
    const pos = vertical
      ? { x: { datum: at, type: "quantitative" } }
      : { y: { datum: at, type: "quantitative" } };
    layers.push({
      transform: once,
      mark: { type: "rule", strokeDash: [6, 4], strokeWidth: 1.5, color },
      encoding: pos,
    });
    if (r.label) {
      layers.push({
        transform: once,
        mark: !vertical
          ? { type: "text", align: "left", baseline: "bottom", dx: 4, dy: -3, color, fontSize: 11 }
          : (xFraction?.(at) ?? 0) > 0.7
          ? { type: "text", align: "right", baseline: "top", dx: -4, dy: 4, color, fontSize: 11 }
          : { type: "text", align: "left", baseline: "top", dx: 4, dy: 4, color, fontSize: 11 },
        encoding: {
          ...pos,
          ...(vertical ? { y: { value: 0 } } : { x: { value: 0 } }),
          text: { value: r.label },
        },
      });
    }
  }
  return layers;
}

/** Builds the top-level spec: one view, or one panel per value of `options.facet`. */
function assemble(
  rows: ChartRow[],
  layer: Spec[],
  options: ChartOptions,
  size: { width?: number | Spec; height?: number },
): TopLevelSpec {
  const base = { config: chartConfig(), title: options.title, data: { values: rows } };
  if (options.facet === undefined) {
    return compact({
      ...base,
      width: size.width ?? options.width ?? DEFAULT_WIDTH,
      height: size.height ?? options.height ?? DEFAULT_HEIGHT,
      layer,
    }) as unknown as TopLevelSpec;
  }
  const panels = distinct(rows, options.facet);
  return compact({
    ...base,
    facet: {
      field: options.facet,
      type: "nominal",
      sort: panels,
      title: options.facetTitle ?? null,
    },
    columns: options.columns ?? panels.length,
    spec: {
      width: size.width ?? options.width ?? DEFAULT_PANEL_WIDTH,
      height: size.height ?? options.height ?? DEFAULT_PANEL_HEIGHT,
      layer,
    },
  }) as unknown as TopLevelSpec;
}

function tooltip(fields: (Spec | undefined)[]): Spec[] {
  return fields.filter((f): f is Spec => f !== undefined);
}

/**
 * A line chart of `y` against `x`, one line per value of `color`, with optional dashed reference lines
 * and one panel per value of `facet`.
 *
 * @example
 * ```ts
 * import { lineChart } from "./charts.ts";
 * const spec = lineChart({
 *   rows: [
 *     { eps: 0, attack: "FGSM", acc: 0.99 }, { eps: 0.3, attack: "FGSM", acc: 0.6 },
 *     { eps: 0, attack: "PGD", acc: 0.99 }, { eps: 0.3, attack: "PGD", acc: 0.4 },
 *   ],
 *   x: "eps", y: "acc", color: "attack", percent: true,
 *   rule: { x: 0.3, label: "training ε" },
 * });
 * ```
 */
export function lineChart(options: LineChartOptions): TopLevelSpec {
  const { rows, x, y, color, facet, percent = false, points = true, xScale = "linear" } = options;
  checkRows("lineChart", rows, [x, y, color, facet]);
  const numericX = allNumbers(rows, x);
  if (xScale !== "linear") {
    if (!numericX) throw new Error(`lineChart(): a ${xScale} x scale needs numeric "${x}" values`);
    const bad = rows.find((r) => typeof r[x] === "number" && (r[x] as number) <= 0);
    if (bad) throw new Error(`lineChart(): a ${xScale} x scale needs "${x}" > 0, got ${bad[x]}`);
  }
  const xTicks = options.xTicks ??
    (xScale === "log2" ? (distinct(rows, x) as number[]).sort((a, b) => a - b) : undefined);
  const xDef = numericX
    ? compact({
      field: x,
      type: "quantitative",
      title: options.xTitle ?? x,
      scale: xScale === "linear" ? undefined : { type: "log", base: xScale === "log2" ? 2 : 10 },
      axis: xTicks ? { values: [...xTicks], format: "~g" } : undefined,
    })
    : {
      field: x,
      type: "ordinal",
      title: options.xTitle ?? x,
      sort: distinct(rows, x),
      axis: { labelAngle: 0 },
    };
  const yDomain = options.yDomain ?? (percent ? [0, 1] : undefined);
  const yDef = compact({
    field: y,
    type: "quantitative",
    title: options.yTitle ?? y,
    scale: yDomain ? { domain: [...yDomain] } : undefined,
    axis: percent ? { format: PERCENT_FORMAT } : undefined,
  });
  const colorEnc = colorDef(rows, color, options.colorTitle, options.colors);
  const line: Spec = {
    mark: { type: "line", point: points, strokeWidth: 2 },
    encoding: compact({
      x: xDef,
      y: yDef,
      color: colorEnc,
      tooltip: tooltip([
        color === undefined ? undefined : { field: color, type: "nominal" },
        { field: x, type: numericX ? "quantitative" : "ordinal" },
        { field: y, type: "quantitative", format: percent ? ".1%" : undefined },
      ].map((t) => (t ? compact(t) : t))),
    }),
  };
  let xFraction: ((v: number) => number) | undefined;
  if (numericX) {
    const t = xScale === "linear" ? (v: number) => v : Math.log;
    const xsT = rows.map((r) => r[x]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    const lo = t(Math.min(...xsT));
    const hi = t(Math.max(...xsT));
    if (hi > lo) xFraction = (v) => (t(v) - lo) / (hi - lo);
  }
  return assemble(
    pick(rows, [x, y, color, facet]),
    [line, ...ruleLayers(options.rule, xFraction)],
    options,
    {},
  );
}

/**
 * A bar chart of `value` per `category`, with side-by-side bars per `group` (e.g. clean vs robust
 * accuracy per model).
 *
 * @example
 * ```ts
 * import { barChart } from "./charts.ts";
 * const spec = barChart({
 *   rows: [
 *     { model: "standard", kind: "clean", acc: 0.99 }, { model: "standard", kind: "robust", acc: 0.0 },
 *     { model: "PGD-trained", kind: "clean", acc: 0.98 }, { model: "PGD-trained", kind: "robust", acc: 0.89 },
 *   ],
 *   category: "model", value: "acc", group: "kind", percent: true, labels: true,
 * });
 * ```
 */
export function barChart(options: BarChartOptions): TopLevelSpec {
  const { rows, category, value, group, facet, percent = false, labels = false } = options;
  checkRows("barChart", rows, [category, value, group, facet]);
  const categories = distinct(rows, category);
  const groups = group === undefined ? [] : distinct(rows, group);
  // Widen the bands to fit the category labels (about 6.5 px per character), up to a limit; tilt
  // the labels when they still do not fit.
  const labelPx = Math.max(...categories.map((c) => String(c).length)) * 6.5 + 12;
  const barsPx = Math.max(1, groups.length) * 22 + 14;
  const perCategory = Math.max(barsPx, Math.min(labelPx, 96));
  const width = options.width ?? Math.max(facet ? 160 : 220, categories.length * perCategory);
  const tilted = labelPx > width / categories.length;
  const yDomain = options.yDomain ?? (percent ? [0, 1] : undefined);
  const encoding: Spec = compact({
    x: {
      field: category,
      type: "nominal",
      sort: categories,
      title: options.xTitle ?? category,
      axis: { labelAngle: tilted ? -30 : 0 },
    },
    y: compact({
      field: value,
      type: "quantitative",
      title: options.yTitle ?? value,
      scale: yDomain ? { domain: [...yDomain] } : undefined,
      axis: percent ? { format: PERCENT_FORMAT } : undefined,
    }),
    xOffset: group === undefined ? undefined : { field: group, type: "nominal", sort: groups },
    color: colorDef(rows, group, options.groupTitle, options.colors),
  });
  const bars: Spec = {
    mark: { type: "bar" },
    encoding: {
      ...encoding,
      tooltip: tooltip([
        { field: category, type: "nominal" },
        group === undefined ? undefined : { field: group, type: "nominal" },
        compact({ field: value, type: "quantitative", format: percent ? ".1%" : undefined }),
      ]),
    },
  };
  const layer = [bars];
  if (labels) {
    const { color: _color, ...position } = encoding;
    layer.push({
      mark: { type: "text", baseline: "bottom", dy: -2, fontSize: 10, color: "#333" },
      encoding: {
        ...position,
        text: { field: value, type: "quantitative", format: percent ? ".0%" : ".3~g" },
      },
    });
  }
  return assemble(pick(rows, [category, value, group, facet]), layer, options, { width });
}

/**
 * A scatter plot with optional text labels next to the points (e.g. transfer rate against test
 * accuracy, one labelled point per architecture).
 *
 * @example
 * ```ts
 * import { scatterChart } from "./charts.ts";
 * const spec = scatterChart({
 *   rows: [{ arch: "VGG", acc: 0.52, transfer: 0.68 }, { arch: "DenseNet", acc: 0.6, transfer: 0.74 }],
 *   x: "acc", y: "transfer", label: "arch", xPercent: true, percent: true,
 * });
 * ```
 */
export function scatterChart(options: ScatterChartOptions): TopLevelSpec {
  const { rows, x, y, label, color, facet, percent = false, xPercent = false } = options;
  checkRows("scatterChart", rows, [x, y, label, color, facet]);
  const position: Spec = {
    x: compact({
      field: x,
      type: "quantitative",
      title: options.xTitle ?? x,
      scale: { zero: false, padding: 12 },
      axis: xPercent ? { format: PERCENT_FORMAT } : undefined,
    }),
    y: compact({
      field: y,
      type: "quantitative",
      title: options.yTitle ?? y,
      scale: { zero: false, padding: 12 },
      axis: percent ? { format: PERCENT_FORMAT } : undefined,
    }),
  };
  const colorEnc = colorDef(rows, color, options.colorTitle, options.colors);
  const layer: Spec[] = [{
    mark: { type: "point", filled: true, size: 60 },
    encoding: compact({
      ...position,
      color: colorEnc,
      tooltip: tooltip([
        label === undefined ? undefined : { field: label, type: "nominal" },
        compact({ field: x, type: "quantitative", format: xPercent ? ".1%" : undefined }),
        compact({ field: y, type: "quantitative", format: percent ? ".1%" : undefined }),
      ]),
    }),
  }];
  if (label !== undefined) {
    layer.push({
      mark: { type: "text", align: "left", baseline: "middle", dx: 7, fontSize: 11 },
      encoding: { ...position, text: { field: label, type: "nominal" } },
    });
  }
  if (options.trend) {
    const groupby = [color, facet].filter((f): f is string => f !== undefined);
    layer.unshift({
      transform: [compact({ regression: y, on: x, groupby: groupby.length ? groupby : undefined })],
      mark: { type: "line", strokeDash: [6, 4], color: color === undefined ? "#888" : undefined },
      encoding: compact({ ...position, color: color === undefined ? undefined : colorEnc }),
    });
  }
  return assemble(pick(rows, [x, y, label, color, facet]), layer, options, {});
}
