/**
 * Rendering a Vega-Lite spec to a static SVG string, headless (no canvas, no fonts, no browser).
 * @module
 */
import * as vl from "vega-lite";
import * as vega from "vega";
import type { TopLevelSpec } from "vega-lite";

export type { TopLevelSpec };
import { prefixSvgIds, uniqueIdPrefix } from "./svg_ids.ts";

/** Thrown when a spec cannot be compiled or rendered; `message` says what is wrong with it. */
export class PlotSpecError extends Error {
  /** Creates the error; `options.cause` keeps the underlying Vega or Vega-Lite error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PlotSpecError";
  }
}

/** Options of {@linkcode renderSvg}. */
export interface RenderSvgOptions {
  /**
   * Prefix for the ids inside the SVG (clip paths, gradients). Default: a fresh unique prefix, so that
   * several SVGs can be inlined in one page.
   */
  idPrefix?: string;
  /** Treat Vega-Lite and Vega warnings (for example a field missing from the data) as errors. Default false. */
  strict?: boolean;
  /** Receives warnings when not `strict`. Default: `console.warn`. */
  onWarning?: (message: string) => void;
  /** Scale factor applied to the SVG's width and height. Default 1. */
  scale?: number;
}

const VIEW_KEYS = ["mark", "layer", "facet", "hconcat", "vconcat", "concat", "repeat"] as const;
const MARKS = new Set([
  "arc",
  "area",
  "bar",
  "image",
  "line",
  "point",
  "rect",
  "rule",
  "text",
  "tick",
  "trail",
  "circle",
  "square",
  "geoshape",
  "boxplot",
  "errorband",
  "errorbar",
]);
const FIELD_TYPES = new Set(["quantitative", "ordinal", "nominal", "temporal", "geojson"]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}

/** Collects problems that Vega-Lite would report obscurely (or not at all) into readable sentences. */
function specProblems(spec: unknown, path: string, problems: string[]): void {
  if (!isObject(spec)) {
    problems.push(`${path} must be an object, got ${describe(spec)}`);
    return;
  }
  if (!VIEW_KEYS.some((k) => k in spec)) {
    problems.push(`${path} has none of the keys ${VIEW_KEYS.map((k) => `"${k}"`).join(", ")}`);
  }
  if ("mark" in spec) {
    const mark = spec.mark;
    const type = isObject(mark) ? mark.type : mark;
    if (typeof type !== "string" || !MARKS.has(type)) {
      problems.push(`${path}.mark: unknown mark type ${describe(type)} (known: ${[...MARKS].join(", ")})`);
    }
  }
  if ("encoding" in spec) {
    if (!isObject(spec.encoding)) {
      problems.push(`${path}.encoding must be an object, got ${describe(spec.encoding)}`);
    } else {
      for (const [channel, def] of Object.entries(spec.encoding)) {
        for (const d of Array.isArray(def) ? def : [def]) {
          if (isObject(d) && "type" in d && !FIELD_TYPES.has(d.type as string)) {
            problems.push(
              `${path}.encoding.${channel}.type: unknown type ${describe(d.type)} ` +
                `(known: ${[...FIELD_TYPES].join(", ")})`,
            );
          }
        }
      }
    }
  }
  if ("data" in spec && isObject(spec.data) && "values" in spec.data) {
    const values = spec.data.values;
    if (!Array.isArray(values) && typeof values !== "string" && !isObject(values)) {
      problems.push(`${path}.data.values must be an array of rows, got ${describe(values)}`);
    }
  }
  for (const key of ["layer", "hconcat", "vconcat", "concat"] as const) {
    if (!(key in spec)) continue;
    const children = spec[key];
    if (!Array.isArray(children)) {
      problems.push(`${path}.${key} must be an array, got ${describe(children)}`);
      continue;
    }
    children.forEach((child, i) => specProblems(child, `${path}.${key}[${i}]`, problems));
  }
  if (("facet" in spec || "repeat" in spec) && "spec" in spec) {
    specProblems(spec.spec, `${path}.spec`, problems);
  }
}

/**
 * Throws a {@linkcode PlotSpecError} listing what is wrong with `spec`, if anything is.
 *
 * @example
 * ```ts
 * import { checkSpec } from "./render.ts";
 * checkSpec({ mark: "point", data: { values: [{ a: 1 }] } }); // fine
 * ```
 */
export function checkSpec(spec: unknown): asserts spec is TopLevelSpec {
  const problems: string[] = [];
  specProblems(spec, "spec", problems);
  if (problems.length > 0) {
    throw new PlotSpecError(`Invalid Vega-Lite spec: ${problems.join("; ")}`);
  }
}

type VegaLogger = NonNullable<NonNullable<ConstructorParameters<typeof vega.View>[1]>["logger"]>;

interface CollectingLogger extends VegaLogger {
  readonly warnings: string[];
  readonly errors: string[];
}

/**
 * A logger that collects Vega-Lite's and Vega's messages instead of printing them. Vega copies the
 * methods onto its view, so they must not rely on `this`.
 */
function collectingLogger(): CollectingLogger {
  const warnings: string[] = [];
  const errors: string[] = [];
  let level = vega.Warn;
  const text = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ");
  const logger = {
    warnings,
    errors,
    level(value?: number) {
      if (value === undefined) return level;
      level = value;
      return logger;
    },
    error(...args: unknown[]) {
      errors.push(text(args));
      return logger;
    },
    warn(...args: unknown[]) {
      warnings.push(text(args));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  return logger as CollectingLogger;
}

/**
 * Compiles a Vega-Lite spec and renders it to a standalone SVG string.
 *
 * Throws {@linkcode PlotSpecError} with a readable message when the spec is invalid. Warnings (such as a
 * field that no row has) go to `options.onWarning`, or become errors with `strict: true`.
 *
 * @example
 * ```ts
 * import { renderSvg } from "./render.ts";
 * const svg = await renderSvg({
 *   data: { values: [{ eps: 0, acc: 0.99 }, { eps: 0.3, acc: 0.1 }] },
 *   mark: "line",
 *   encoding: { x: { field: "eps", type: "quantitative" }, y: { field: "acc", type: "quantitative" } },
 * });
 * console.assert(svg.startsWith("<svg"));
 * ```
 */
export async function renderSvg(spec: TopLevelSpec, options: RenderSvgOptions = {}): Promise<string> {
  const { strict = false, onWarning = (m: string) => console.warn(m), scale = 1 } = options;
  checkSpec(spec);
  const logger = collectingLogger();
  let vgSpec;
  try {
    // Vega tags the data rows it ingests; compile a copy so the caller's spec and rows stay untouched.
    vgSpec = vl.compile(structuredClone(spec), { logger }).spec;
  } catch (e) {
    throw new PlotSpecError(`Invalid Vega-Lite spec: ${(e as Error).message}`, { cause: e });
  }
  let svg: string;
  let view: vega.View | undefined;
  try {
    view = new vega.View(vega.parse(vgSpec), { renderer: "none", logger, logLevel: vega.Warn });
    svg = await view.toSVG(scale);
  } catch (e) {
    throw new PlotSpecError(`Could not render the Vega-Lite spec: ${(e as Error).message}`, { cause: e });
  } finally {
    view?.finalize();
  }
  if (logger.errors.length > 0) {
    throw new PlotSpecError(`Could not render the Vega-Lite spec: ${logger.errors.join("; ")}`);
  }
  if (logger.warnings.length > 0) {
    if (strict) {
      throw new PlotSpecError(`Vega-Lite spec produced warnings: ${logger.warnings.join("; ")}`);
    }
    for (const w of logger.warnings) onWarning(w);
  }
  return prefixSvgIds(svg, options.idPrefix ?? uniqueIdPrefix());
}
