/**
 * Progress for long work (training, attacks over a test set, dataset construction), shown at once in the
 * terminal and, inside a notebook, as one output that updates in place (a display with a `display_id`).
 * @module
 */
import { kernelDisplay } from "./jupyter.ts";
import { readEnvChoice } from "./env.ts";

/** Where progress goes. `"auto"` shows it in a notebook cell when in a kernel, else on stderr. */
export type ProgressMode = "auto" | "terminal" | "notebook" | "silent";

/** Every {@linkcode ProgressMode}, the values `ADVEX_PROGRESS` may take. */
export const PROGRESS_MODES: readonly ProgressMode[] = ["auto", "terminal", "notebook", "silent"];

/** A running progress report. */
export interface Progress {
  /** Reports `done` units finished out of the total, with an optional note such as the current loss. */
  update(done: number, note?: string): void;
  /** Marks the work finished (shows the final state and elapsed time). */
  finish(note?: string): Promise<void>;
}

/** Options of {@linkcode createProgress}. */
export interface ProgressOptions {
  /** What is being done, e.g. "train madry-cnn x4". */
  label: string;
  /** Total units of work. */
  total: number;
  /** Unit name shown after counts. Default "steps". */
  unit?: string;
  /** Where to show it. Default: env `ADVEX_PROGRESS` or `"auto"`. */
  mode?: ProgressMode;
  /** Minimum milliseconds between two redraws. Default 500 (terminal lines when not a TTY: 10000). */
  intervalMs?: number;
}

let displayCounter = 0;

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - 60 * m)).padStart(2, "0")}s`;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function resolveMode(mode: ProgressMode | undefined): ProgressMode {
  let m = mode;
  if (!m) {
    m = readEnvChoice("ADVEX_PROGRESS", PROGRESS_MODES) ?? "auto";
  }
  if (m === "auto") return kernelDisplay() ? "notebook" : "terminal";
  return m;
}

/**
 * Starts a progress report.
 *
 * @example
 * ```ts
 * import { createProgress } from "./progress.ts";
 * const p = createProgress({ label: "demo", total: 3, mode: "silent" });
 * for (let i = 1; i <= 3; i++) p.update(i);
 * await p.finish();
 * ```
 */
export function createProgress(options: ProgressOptions): Progress {
  const mode = resolveMode(options.mode);
  const unit = options.unit ?? "steps";
  const total = Math.max(0, options.total);
  const start = performance.now();
  const isTty = mode === "terminal" && Deno.stderr.isTerminal();
  const interval = options.intervalMs ?? (mode === "terminal" && !isTty ? 10_000 : 500);
  const displayId = `advex-progress-${Deno.pid}-${++displayCounter}`;
  const display = mode === "notebook" ? kernelDisplay() : undefined;
  let last = -Infinity;
  let pending: Promise<void> = Promise.resolve();
  let shown = false;
  let lastDone = 0;
  let lastNote = "";

  const text = (done: number, note: string | undefined, final: boolean) => {
    const elapsed = (performance.now() - start) / 1000;
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const eta = frac > 0 && !final ? elapsed * (1 - frac) / frac : 0;
    const pct = (100 * frac).toFixed(0).padStart(3);
    const timing = final
      ? `done in ${formatSeconds(elapsed)}`
      : `${formatSeconds(elapsed)} elapsed, ~${formatSeconds(eta)} left`;
    return {
      frac,
      line: `${options.label}: ${pct}% ${done}/${total} ${unit}, ${timing}${note ? ` | ${note}` : ""}`,
    };
  };

  const draw = (done: number, note: string | undefined, final: boolean) => {
    const { frac, line } = text(done, note, final);
    if (mode === "terminal") {
      const enc = new TextEncoder();
      if (isTty) Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${line}${final ? "\n" : ""}`));
      else Deno.stderr.writeSync(enc.encode(`${line}\n`));
    } else if (display) {
      const width = (100 * frac).toFixed(1);
      const html = `<div class="advex-progress" style="font-family:monospace;font-size:12px">` +
        `<div style="background:#e5e7eb;width:320px;height:8px;border-radius:4px;overflow:hidden">` +
        `<div style="background:${final ? "#16a34a" : "#2563eb"};width:${width}%;height:8px"></div></div>` +
        `<div>${escapeHtml(line)}</div></div>`;
      const opts = shown
        ? { raw: true, display_id: displayId, update: true }
        : { raw: true, display_id: displayId };
      shown = true;
      pending = pending.then(() => display({ "text/plain": line, "text/html": html }, opts)).catch(() => {});
    }
  };

  return {
    update(done: number, note?: string) {
      lastDone = done;
      lastNote = note ?? "";
      if (mode === "silent") return;
      const now = performance.now();
      if (now - last < interval && done < total) return;
      last = now;
      draw(done, note, false);
    },
    async finish(note?: string) {
      if (mode !== "silent") draw(total > 0 ? Math.max(lastDone, total) : lastDone, note ?? lastNote, true);
      await pending;
    },
  };
}
