/**
 * Grids of small images (clean inputs, adversarial examples, perturbations) and pictures of a linear
 * model's weights, as figures whose images are embedded PNGs.
 * @module
 */
import type { Tensor } from "@tensorflow/tfjs";
import type { TopLevelSpec } from "vega-lite";
import { Figure } from "./figure.ts";
import { renderSvg } from "./render.ts";
import { pngDataUrl } from "./png.ts";
import { divergingRgb, scaleToBytes, upscaleNearest } from "./pixels.ts";

/**
 * How a row's values become colours: "image" maps `range` to black..white (or RGB), "diverging" maps
 * ±scale to blue-white-red, "auto" picks "diverging" for labels that look like a perturbation
 * ("perturbation", "delta", "noise", "diff", "gradient", "weights") and "image" otherwise.
 */
export type ImageKind = "auto" | "image" | "diverging";

/** One row of an {@linkcode imageGrid}. */
export interface ImageRow {
  /** Row label, written to the left of the row. */
  label: string;
  /** The images: an array of flat row-major arrays, or a tensor [N, H, W, C], [N, H, W] or [N, H*W]. */
  images: readonly Float32Array[] | readonly number[][] | Tensor;
  /** Colouring of this row. Default: the grid's `kind`. */
  kind?: ImageKind;
  /** A caption under each image, e.g. "7 → 3". */
  captions?: readonly string[];
  /** Diverging rows: the value shown fully red (its negative fully blue). Default: the grid's `eps`, else max |value| of the row. */
  scale?: number;
}

/** Options of {@linkcode imageGrid}. */
export interface ImageGridOptions {
  /**
   * Target width of one image on screen, in pixels. Images are enlarged in the PNG by a whole factor
   * (nearest neighbour, so pixels stay sharp): round(width / image width). Default 84 (3x for MNIST).
   */
  width?: number;
  /** Column titles, above the first row. */
  titles?: readonly string[];
  /** Default colouring of rows without their own `kind`. Default "auto". */
  kind?: ImageKind;
  /** Default scale of diverging rows, e.g. the attack's ε, so rows and figures compare. */
  eps?: number;
  /** Image shape [H, W] or [H, W, C] of flat arrays. Default: square grayscale (or square RGB). */
  shape?: readonly [number, number] | readonly [number, number, number];
  /** Value range of "image" rows, mapped to black..white. Default [0, 1]. */
  range?: readonly [number, number];
  /** Figure title. */
  title?: string;
  /** Space between images, in pixels. Default 6. */
  gap?: number;
}

interface Shape {
  h: number;
  w: number;
  c: number;
}

const DIVERGING_LABEL = /perturb|delta|noise|diff|grad|weight/i;

function isTensor(x: unknown): x is Tensor {
  return typeof x === "object" && x !== null && !Array.isArray(x) && "shape" in x &&
    typeof (x as { data?: unknown }).data === "function";
}

function shapeOf(length: number, given: ImageGridOptions["shape"]): Shape {
  if (given) {
    const [h, w, c = 1] = given;
    if (h * w * c !== length) {
      throw new Error(`imageGrid(): an image of ${length} values does not have shape [${given.join(", ")}]`);
    }
    return { h, w, c };
  }
  for (const c of [1, 3]) {
    const side = Math.round(Math.sqrt(length / c));
    if (side * side * c === length) return { h: side, w: side, c };
  }
  throw new Error(`imageGrid(): cannot tell the shape of an image of ${length} values; pass options.shape`);
}

/** Splits a row's images into flat arrays and finds their shape. */
async function unpack(
  row: ImageRow,
  given: ImageGridOptions["shape"],
): Promise<{ images: ArrayLike<number>[]; shape: Shape | undefined }> {
  if (isTensor(row.images)) {
    const t = row.images;
    const [n, ...rest] = t.shape;
    if (t.shape.length < 2 || t.shape.length > 4) {
      throw new Error(
        `imageGrid(): row "${row.label}": expected a tensor [N, H, W, C], got shape [${t.shape}]`,
      );
    }
    const size = rest.reduce((a, b) => a * b, 1);
    const shape = t.shape.length === 2 ? shapeOf(size, given) : { h: rest[0], w: rest[1], c: rest[2] ?? 1 };
    const data = await t.data();
    return { images: Array.from({ length: n }, (_, i) => data.subarray(i * size, (i + 1) * size)), shape };
  }
  if (!Array.isArray(row.images)) {
    throw new Error(`imageGrid(): row "${row.label}": images must be an array of Float32Array or a tensor`);
  }
  const images = row.images as ArrayLike<number>[];
  return { images, shape: images.length > 0 ? shapeOf(images[0].length, given) : undefined };
}

function maxAbs(images: ArrayLike<number>[]): number {
  let m = 0;
  for (const img of images) {
    for (let i = 0; i < img.length; i++) {
      const a = Math.abs(img[i]);
      if (a > m) m = a;
    }
  }
  return m;
}

function formatScale(v: number): string {
  return `±${Number(v.toPrecision(2))}`;
}

/** The images' shape, common to all rows that have images; checks that it has 1 or 3 channels. */
function commonShape(rows: readonly ImageRow[], unpacked: { shape: Shape | undefined }[]): Shape {
  const shape = unpacked.find((u) => u.shape)?.shape;
  if (!shape) throw new Error("imageGrid(): no row has any image");
  for (const [i, u] of unpacked.entries()) {
    if (u.shape && (u.shape.h !== shape.h || u.shape.w !== shape.w || u.shape.c !== shape.c)) {
      throw new Error(
        `imageGrid(): row "${rows[i].label}" has images of ${u.shape.h}x${u.shape.w}x${u.shape.c}, ` +
          `other rows ${shape.h}x${shape.w}x${shape.c}`,
      );
    }
  }
  if (shape.c !== 1 && shape.c !== 3) {
    throw new Error(`imageGrid(): images must have 1 or 3 channels, got ${shape.c}`);
  }
  return shape;
}

/** A row's label, whether it is coloured blue-white-red, its scale, and the scale written under the label. */
interface RowLabel {
  text: string;
  diverging: boolean;
  scale: number | undefined;
  sub: string;
}

/** Each row's label and colouring. */
function rowLabels(
  rows: readonly ImageRow[],
  unpacked: { images: ArrayLike<number>[] }[],
  options: ImageGridOptions,
): RowLabel[] {
  return rows.map((r, i) => {
    const kind = r.kind ?? options.kind ?? "auto";
    const diverging = kind === "diverging" || (kind === "auto" && DIVERGING_LABEL.test(r.label));
    const scale = diverging ? (r.scale ?? options.eps ?? (maxAbs(unpacked[i].images) || 1)) : undefined;
    return { text: r.label, diverging, scale, sub: scale === undefined ? "" : formatScale(scale) };
  });
}

/** Sizes and positions in the figure, in pixels. */
interface Layout {
  /** How many times each image is enlarged. */
  factor: number;
  /** Width of one image on screen. */
  dw: number;
  /** Height of one image on screen. */
  dh: number;
  /** Space between images. */
  gap: number;
  /** Width of the row labels' column. */
  labelWidth: number;
  /** Height of the column titles' row. */
  titleHeight: number;
  /** Height of a row: an image and its caption. */
  rowHeight: number;
  /** Number of image columns. */
  columns: number;
}

/** Where the images, labels, captions and titles go. */
function gridLayout(
  rows: readonly ImageRow[],
  unpacked: { images: ArrayLike<number>[] }[],
  labels: RowLabel[],
  shape: Shape,
  options: ImageGridOptions,
): Layout {
  const { width: target = 84, gap = 6, titles } = options;
  const factor = Math.max(1, Math.round(target / shape.w));
  const dw = shape.w * factor;
  const dh = shape.h * factor;
  const longest = Math.max(...labels.map((l) => Math.max(l.text.length, l.sub.length)));
  const labelWidth = longest === 0 ? 0 : Math.min(220, Math.max(40, longest * 7 + 14));
  const hasCaptions = rows.some((r) => r.captions?.some((c: string) => c !== ""));
  const captionHeight = hasCaptions ? 16 : 0;
  const titleHeight = titles && titles.length > 0 ? 18 : 0;
  const columns = Math.max(...unpacked.map((u) => u.images.length), titles?.length ?? 0, 1);
  const rowHeight = dh + captionHeight;
  return { factor, dw, dh, gap, labelWidth, titleHeight, rowHeight, columns };
}

/** One image of the grid: its PNG data URL, its corners and its caption. */
type Cell = { url: string; x: number; y: number; x2: number; y2: number; caption: string };

/** Encodes every image as a PNG in its row's colouring and places it in the grid. */
async function gridCells(
  rows: readonly ImageRow[],
  unpacked: { images: ArrayLike<number>[] }[],
  labels: RowLabel[],
  shape: Shape,
  layout: Layout,
  range: readonly [number, number],
): Promise<Cell[]> {
  const { factor, dw, dh, gap, labelWidth, titleHeight, rowHeight } = layout;
  const cells: Cell[] = [];
  for (const [i, { images }] of unpacked.entries()) {
    const { diverging, scale } = labels[i];
    for (const [j, img] of images.entries()) {
      const size = shape.h * shape.w * shape.c;
      if (img.length !== size) {
        throw new Error(
          `imageGrid(): row "${rows[i].label}" image ${j} has ${img.length} values, expected ${size}`,
        );
      }
      const [bytes, channels] = !diverging
        ? [scaleToBytes(img, range), shape.c]
        : shape.c === 1
        ? [divergingRgb(img, scale!), 3]
        : [scaleToBytes(img, [-scale!, scale!]), 3];
      const big = upscaleNearest(bytes, shape.w, shape.h, channels, factor);
      const x = labelWidth + j * (dw + gap);
      const y = titleHeight + i * (rowHeight + gap);
      cells.push({
        url: await pngDataUrl(big, dw, dh, channels as 1 | 3),
        x,
        y,
        x2: x + dw,
        y2: y + dh,
        caption: rows[i].captions?.[j] ?? "",
      });
    }
  }
  return cells;
}

/** A pixel position field of the grid's marks: no scale, no axis. */
function px(field: string): Record<string, unknown> {
  return { field, type: "quantitative", scale: null, axis: null };
}

/** The layers that draw the images and a thin frame around each. */
function imageLayers(cells: Cell[], layout: Layout): Record<string, unknown>[] {
  return [
    {
      data: { values: cells.map(({ url, x, y }) => ({ url, x, y })) },
      mark: {
        type: "image",
        width: layout.dw,
        height: layout.dh,
        align: "left",
        baseline: "top",
        aspect: false,
        aria: false,
      },
      encoding: { x: px("x"), y: px("y"), url: { field: "url", type: "nominal" } },
    },
    {
      data: { values: cells.map(({ x, y, x2, y2 }) => ({ x, y, x2, y2 })) },
      mark: { type: "rect", fill: null, stroke: "#bbbbbb", strokeWidth: 0.5, aria: false },
      encoding: { x: px("x"), y: px("y"), x2: { field: "x2" }, y2: { field: "y2" } },
    },
  ];
}

/** The text layers: row labels, their scales, captions and column titles (a layer only where there is text). */
function textLayers(
  cells: Cell[],
  labels: RowLabel[],
  titles: readonly string[] | undefined,
  layout: Layout,
): Record<string, unknown>[] {
  const { dw, dh, gap, labelWidth, titleHeight, rowHeight } = layout;
  const layers: Record<string, unknown>[] = [];
  const text = (values: Record<string, unknown>[], mark: Record<string, unknown>) => {
    if (values.length === 0) return;
    layers.push({
      data: { values },
      mark: { type: "text", aria: false, ...mark },
      encoding: { x: px("x"), y: px("y"), text: { field: "text", type: "nominal" } },
    });
  };
  const rowMiddle = (i: number) => titleHeight + i * (rowHeight + gap) + dh / 2;
  text(
    labels.filter((l) => l.text !== "").map((l) => ({
      x: labelWidth - 8,
      y: rowMiddle(labels.indexOf(l)) - (l.sub ? 7 : 0),
      text: l.text,
    })),
    { align: "right", baseline: "middle", fontSize: 12 },
  );
  text(
    labels.flatMap((
      l,
      i,
    ) => (l.sub ? [{ x: labelWidth - 8, y: rowMiddle(i) + (l.text ? 8 : 0), text: l.sub }] : [])),
    { align: "right", baseline: "middle", fontSize: 10, color: "#555555" },
  );
  text(
    cells.filter((c) => c.caption !== "").map((c) => ({ x: c.x + dw / 2, y: c.y2 + 3, text: c.caption })),
    { align: "center", baseline: "top", fontSize: 11 },
  );
  text(
    (titles ?? []).map((t, j) => ({ x: labelWidth + j * (dw + gap) + dw / 2, y: titleHeight - 5, text: t })),
    { align: "center", baseline: "bottom", fontSize: 11, fontWeight: "bold" },
  );
  return layers;
}

/**
 * A figure showing rows of small images, e.g. clean inputs, their adversarial versions and the
 * perturbations. "image" rows are grayscale (or RGB) over `range`; perturbation rows use a
 * blue-white-red map centred at 0 and scaled to ±eps (or the row's max |value|), which is written
 * under the row label.
 *
 * @example
 * ```ts
 * import { imageGrid } from "./images.ts";
 * const clean = [new Float32Array(28 * 28).fill(0.2)];
 * const adv = [clean[0].map((v, i) => v + (i % 2 ? 0.1 : -0.1))];
 * const delta = [adv[0].map((v, i) => v - clean[0][i])];
 * const fig = await imageGrid([
 *   { label: "clean", images: clean, captions: ["7"] },
 *   { label: "adversarial", images: adv, captions: ["7 → 3"] },
 *   { label: "perturbation", images: delta },
 * ], { eps: 0.1 });
 * ```
 */
export async function imageGrid(rows: readonly ImageRow[], options: ImageGridOptions = {}): Promise<Figure> {
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new Error("imageGrid(): rows must be a non-empty array");
  }
  const { range = [0, 1], titles } = options;
  const unpacked = await Promise.all(rows.map((r) => unpack(r, options.shape)));
  const shape = commonShape(rows, unpacked);
  const labels = rowLabels(rows, unpacked, options);
  const layout = gridLayout(rows, unpacked, labels, shape, options);
  const cells = await gridCells(rows, unpacked, labels, shape, layout, range);
  const layer = [...imageLayers(cells, layout), ...textLayers(cells, labels, titles, layout)];
  const { dw, gap, labelWidth, titleHeight, rowHeight, columns } = layout;
  const spec: Record<string, unknown> = {
    width: labelWidth + columns * (dw + gap) - gap,
    height: titleHeight + rows.length * (rowHeight + gap) - gap,
    padding: 4,
    config: { view: { stroke: null }, font: "sans-serif" },
    layer,
  };
  if (options.title !== undefined) spec.title = { text: options.title, anchor: "start", fontSize: 14 };
  const vl = spec as unknown as TopLevelSpec;
  const svg = await renderSvg(vl);
  return new Figure(
    vl,
    svg.replaceAll("<image ", '<image style="image-rendering:pixelated" '),
    options.title ?? "images",
  );
}

/** Options of {@linkcode weightImage}. */
export interface WeightImageOptions {
  /** Figure title. */
  title?: string;
  /** Row label. Default "" (only the colour scale is written). */
  label?: string;
  /** A caption under each picture, e.g. the class. */
  captions?: readonly string[];
  /** The weight shown fully red (its negative fully blue). Default: max |weight|. */
  scale?: number;
  /** Target on-screen width of one picture in pixels. Default 4x the image width. */
  displayWidth?: number;
}

/**
 * Shows a linear model's weight vector (or one per class) as `height` x `width` pictures on a
 * blue-white-red scale centred at 0: red pixels push towards the class, blue ones away.
 *
 * @example
 * ```ts
 * import { weightImage } from "./images.ts";
 * const w = new Float32Array(28 * 28).map((_, i) => Math.sin(i / 30));
 * const fig = await weightImage(w, 28, 28, { title: "weights" });
 * ```
 */
export function weightImage(
  weights: Float32Array | readonly Float32Array[],
  height = 28,
  width = 28,
  options: WeightImageOptions = {},
): Promise<Figure> {
  const images = weights instanceof Float32Array ? [weights] : weights;
  return imageGrid(
    [{
      label: options.label ?? "",
      images,
      kind: "diverging",
      captions: options.captions,
      scale: options.scale,
    }],
    { shape: [height, width], width: options.displayWidth ?? width * 4, title: options.title ?? "weights" },
  );
}
