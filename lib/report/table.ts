/**
 * Result tables for notebooks: a list of rows shown as an HTML table in a cell (and in the exported HTML),
 * and as aligned text in a terminal.
 * @module
 */

/** How to show a column's numbers. */
export type ColumnFormat = "percent" | "int" | "fixed2" | "fixed3" | "fixed4" | "seconds" | "text";

/** Options of {@linkcode table}. */
export interface TableOptions {
  /** Caption above the table. */
  caption?: string;
  /** Format per column; numbers default to 4 significant digits. */
  formats?: Record<string, ColumnFormat>;
}

/** A displayable table: the last expression of a cell shows it. */
export interface Table {
  rows: Record<string, unknown>[];
  toHtml(): string;
  toText(): string;
  [key: symbol]: () => Record<string, string>;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Formats one value. */
export function formatValue(v: unknown, format?: ColumnFormat): string {
  if (typeof v !== "number") return v === undefined || v === null ? "" : String(v);
  if (!Number.isFinite(v)) return String(v);
  switch (format) {
    case "percent":
      return `${(100 * v).toFixed(1)}%`;
    case "int":
      return Math.round(v).toLocaleString("en-US");
    case "fixed2":
      return v.toFixed(2);
    case "fixed3":
      return v.toFixed(3);
    case "fixed4":
      return v.toFixed(4);
    case "seconds":
      return `${v.toFixed(1)} s`;
    case "text":
      return String(v);
    default:
      return Number.isInteger(v) ? v.toLocaleString("en-US") : Number(v.toPrecision(4)).toString();
  }
}

/**
 * A table of `rows` (columns: the union of their keys, in order of first appearance).
 *
 * @example
 * ```ts
 * import { table } from "./table.ts";
 * const t = table([{ model: "cnn", accuracy: 0.991 }], { formats: { accuracy: "percent" } });
 * if (!t.toText().includes("99.1%")) throw new Error("bad format");
 * ```
 */
export function table(rows: Record<string, unknown>[], options: TableOptions = {}): Table {
  const columns: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
  const cell = (r: Record<string, unknown>, c: string) => formatValue(r[c], options.formats?.[c]);
  const t: Table = {
    rows,
    toHtml() {
      const head = columns.map((c) => `<th style="text-align:left;padding:2px 10px">${escapeHtml(c)}</th>`)
        .join("");
      const body = rows.map((r) =>
        "<tr>" +
        columns.map((c) => {
          const align = typeof r[c] === "number" ? "right" : "left";
          return `<td style="text-align:${align};padding:2px 10px">${escapeHtml(cell(r, c))}</td>`;
        }).join("") +
        "</tr>"
      ).join("");
      const caption = options.caption
        ? `<caption style="text-align:left;font-weight:bold">${escapeHtml(options.caption)}</caption>`
        : "";
      return `<table class="advex-table" style="border-collapse:collapse">${caption}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
    },
    toText() {
      const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r, c).length)));
      const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd();
      return [
        options.caption ?? "",
        line(columns),
        line(widths.map((w) => "-".repeat(w))),
        ...rows.map((r) => line(columns.map((c) => cell(r, c)))),
      ]
        .filter((l, i) => i > 0 || l).join("\n");
    },
    [Symbol.for("Jupyter.display")]() {
      return { "text/plain": t.toText(), "text/html": t.toHtml() };
    },
  };
  return t;
}
