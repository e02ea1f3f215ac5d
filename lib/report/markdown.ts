/**
 * Markdown built from numbers and names, for the prose cells of the notebooks. The {@linkcode md} tag keeps
 * the template's own text as written (that is the author's Markdown) and escapes every interpolated value,
 * so that a set name such as `D_det` cannot start an italic run and a `|` cannot split a table cell.
 * Mathematics and code are placed deliberately, with {@linkcode math} and {@linkcode code}; fragments built
 * with `md` nest inside other `md` templates unescaped, and {@linkcode joinMarkdown} joins a list of them.
 *
 * @example
 * ```ts
 * import { code, joinMarkdown, math, md } from "./markdown.ts";
 * const name = "D_det";
 * const text = md`On ${math("\\hat D_{det}")} (set ${name}, ${code("x_1")}): **${0.5 * 100}%**`;
 * // text.markdown === "On $\\hat D_{\\text{det}}$ (set D\\_det, `x_1`): **50%**"
 * const list = joinMarkdown(["a_b", md`**c**`], "; "); // "a\\_b; **c**"
 * ```
 * @module
 */

/** A piece of Markdown whose text is final: interpolated into {@linkcode md} as it is. */
export class Markdown {
  /** The Markdown source. */
  readonly markdown: string;

  /** Wraps Markdown source that needs no escaping (build it with {@linkcode md} instead where you can). */
  constructor(markdown: string) {
    if (typeof markdown !== "string") {
      throw new TypeError(`Markdown: markdown must be a string, got ${typeof markdown}`);
    }
    this.markdown = markdown;
  }

  /** The Markdown source. */
  toString(): string {
    return this.markdown;
  }

  /** Shown by a Jupyter kernel as rendered Markdown (as `Deno.jupyter.md` would). */
  [Symbol.for("Jupyter.display")](): Record<string, string> {
    return { "text/markdown": this.markdown };
  }
}

/** Characters escaped with a backslash: emphasis, code, links, headings, tables, strike-through, math. */
const BACKSLASHED = /[\\`*_[\]#|~$]/g;

/**
 * Escapes `text` so that Markdown shows it literally: emphasis, code, link, heading, table and math
 * characters get a backslash, `<`, `>` and `&` become HTML entities.
 *
 * @example
 * ```ts
 * import { escapeMarkdown } from "./markdown.ts";
 * escapeMarkdown("D_det *x* <b>"); // "D\\_det \\*x\\* &lt;b&gt;"
 * ```
 */
export function escapeMarkdown(text: string): string {
  if (typeof text !== "string") {
    throw new TypeError(`escapeMarkdown: text must be a string, got ${typeof text}`);
  }
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(BACKSLASHED, "\\$&");
}

function valueMarkdown(value: unknown, where: string): string {
  if (value instanceof Markdown) return value.markdown;
  if (Array.isArray(value)) {
    throw new TypeError(`${where}: got an array; join it with joinMarkdown(list, separator) first`);
  }
  if (value === undefined || value === null) {
    throw new TypeError(`${where}: got ${value}; interpolate a string, a number or Markdown`);
  }
  return escapeMarkdown(String(value));
}

/**
 * Tagged template for Markdown: the literal text is kept as written, each value is escaped
 * ({@linkcode escapeMarkdown}) unless it is {@linkcode Markdown} (from `md`, {@linkcode math}, {@linkcode code}
 * or {@linkcode joinMarkdown}). The result displays as Markdown when it ends a notebook cell. Arrays,
 * `undefined` and `null` are refused with a TypeError (they are almost always a mistake in prose).
 *
 * @example
 * ```ts
 * import { md } from "./markdown.ts";
 * md`The model on ${"D_rand"} reaches **${"97.5%"}**.`.markdown; // "The model on D\\_rand reaches **97.5%**."
 * ```
 */
export function md(strings: TemplateStringsArray, ...values: unknown[]): Markdown {
  let out = strings[0];
  values.forEach((value, i) => {
    out += valueMarkdown(value, `md: value ${i + 1}`) + strings[i + 1];
  });
  return new Markdown(out);
}

/**
 * Joins values into one piece of Markdown, escaping those that are not {@linkcode Markdown}; the separator
 * is Markdown as written. Use it instead of `list.join(sep)` inside {@linkcode md}, which would escape
 * Markdown fragments a second time.
 */
export function joinMarkdown(values: readonly unknown[], separator = ", "): Markdown {
  if (!Array.isArray(values)) {
    throw new TypeError(`joinMarkdown: values must be an array, got ${typeof values}`);
  }
  return new Markdown(values.map((v, i) => valueMarkdown(v, `joinMarkdown: item ${i + 1}`)).join(separator));
}

/**
 * Inline TeX mathematics, `$tex$`. Subscripts and superscripts in braces that are words of two or more
 * letters are set upright, as names: `D_{det}` becomes `D_{\text{det}}`; single letters and numbers stay
 * mathematical.
 *
 * @example
 * ```ts
 * import { math } from "./markdown.ts";
 * math("\\hat D_{det}").markdown; // "$\\hat D_{\\text{det}}$"
 * math("x_{i}^{2}").markdown;     // "$x_{i}^{2}$"
 * ```
 */
export function math(tex: string): Markdown {
  if (typeof tex !== "string" || tex.trim() === "") {
    throw new TypeError(`math: tex must be a non-empty string, got ${JSON.stringify(tex)}`);
  }
  if (tex.includes("$")) {
    throw new RangeError(`math: tex must not contain '$' (it adds the delimiters): ${tex}`);
  }
  const upright = tex.replace(/([_^])\{([A-Za-z]{2,})\}/g, "$1{\\text{$2}}");
  return new Markdown(`$${upright}$`);
}

/**
 * Inline code, shown literally: a code span fenced with more backticks than the text contains in a row.
 *
 * @example
 * ```ts
 * import { code } from "./markdown.ts";
 * code(".cache/results/01_x.json").markdown; // "`.cache/results/01_x.json`"
 * ```
 */
export function code(text: string): Markdown {
  if (typeof text !== "string") throw new TypeError(`code: text must be a string, got ${typeof text}`);
  if (text === "") throw new RangeError("code: text must not be empty");
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : "";
  return new Markdown(`${fence}${pad}${text}${pad}${fence}`);
}
