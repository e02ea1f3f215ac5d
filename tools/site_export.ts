/**
 * Changes made to an executed notebook before it is exported to the site: a cell's finished progress
 * displays (see lib/util/progress.ts) collapse into one summary line. Live progress in Jupyter is not
 * affected; this only rewrites the executed copy that the site shows and offers for download.
 *
 * @module
 */

/** One output of a code cell, as far as the site reads it. */
export interface NotebookOutput {
  output_type?: string;
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  [key: string]: unknown;
}

/** One cell, as far as the site reads it. */
export interface NotebookCell {
  cell_type?: string;
  source?: string | string[];
  outputs?: NotebookOutput[];
  [key: string]: unknown;
}

/** A notebook, as far as the site reads it. */
export interface Notebook {
  cells?: NotebookCell[];
  [key: string]: unknown;
}

/** Class of the HTML that lib/util/progress.ts draws; marks an output as a progress display. */
export const PROGRESS_CLASS = "advex-progress";

/** Class of the one summary line that replaces a cell's progress displays. */
export const PROGRESS_SUMMARY_CLASS = "advex-progress-summary";

function joined(value: unknown): string {
  return Array.isArray(value) ? value.join("") : typeof value === "string" ? value : "";
}

/** Whether `output` is a progress display drawn by lib/util/progress.ts. */
export function isProgressOutput(output: NotebookOutput): boolean {
  if (output.output_type !== "display_data" && output.output_type !== "update_display_data") return false;
  return joined(output.data?.["text/html"]).includes(`class="${PROGRESS_CLASS}"`);
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * The one summary output that stands for `lines` (the final text of each progress display of a cell):
 * the line itself when there is one, otherwise a count with the first and last, the full list folded
 * away in a `<details>` element.
 */
export function progressSummary(lines: readonly string[]): NotebookOutput {
  if (lines.length === 0) throw new RangeError("progressSummary: lines must not be empty");
  const plain = lines.length === 1
    ? lines[0]
    : `${lines.length} progress bars finished, from ${lines[0]} to ${lines.at(-1)}`;
  const style = `font-family:monospace;font-size:12px;color:#57606a`;
  const html = lines.length === 1
    ? `<div class="${PROGRESS_SUMMARY_CLASS}" style="${style}">✓ ${escapeHtml(lines[0])}</div>`
    : `<details class="${PROGRESS_SUMMARY_CLASS}" style="${style}"><summary>✓ ${lines.length} ` +
      `progress bars finished (last: ${escapeHtml(lines.at(-1)!)})</summary>` +
      lines.map((line) => `<div>${escapeHtml(line)}</div>`).join("") + `</details>`;
  return { output_type: "display_data", data: { "text/plain": plain, "text/html": html }, metadata: {} };
}

/**
 * Replaces the progress displays of every code cell by one summary output at the place of the first;
 * other outputs keep their order. Returns how many progress displays were removed in all (the
 * notebook is changed in place).
 */
export function collapseProgress(notebook: Notebook): number {
  let removed = 0;
  for (const cell of notebook.cells ?? []) {
    if (cell.cell_type !== "code" || !Array.isArray(cell.outputs)) continue;
    const first = cell.outputs.findIndex(isProgressOutput);
    if (first < 0) continue;
    const lines = cell.outputs.filter(isProgressOutput).map((o) => joined(o.data?.["text/plain"]).trim());
    const rest = cell.outputs.filter((o) => !isProgressOutput(o));
    const before = cell.outputs.slice(0, first).length;
    cell.outputs = [...rest.slice(0, before), progressSummary(lines), ...rest.slice(before)];
    removed += lines.length;
  }
  return removed;
}
