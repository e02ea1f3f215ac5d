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
  /**
   * Where terminal lines go, one call per line (each ends in a newline). Default: stderr, redrawn in place
   * when it is a terminal.
   */
  write?: (line: string) => void;
  /** The clock, in milliseconds. Default `performance.now`. */
  now?: () => number;
  /** Makes the text of a line from its state. Default: label, percentage, counts, elapsed and time left. */
  format?: (state: ProgressState) => string;
}

/** What a progress line shows. */
export interface ProgressState {
  label: string;
  done: number;
  total: number;
  unit: string;
  /** Seconds since the start. */
  elapsed: number;
  /** Estimated seconds left (0 once final; Infinity before any progress). */
  remaining: number;
  note: string | undefined;
  final: boolean;
}

/** The default line: `label:  42% 21/50 steps, 3.1s elapsed, ~4.3s left | note`. */
export function formatProgress(s: ProgressState): string {
  const frac = s.total > 0 ? Math.min(1, s.done / s.total) : 1;
  const pct = (100 * frac).toFixed(0).padStart(3);
  const timing = s.final
    ? `done in ${formatSeconds(s.elapsed)}`
    : `${formatSeconds(s.elapsed)} elapsed, ~${formatSeconds(s.remaining)} left`;
  return `${s.label}: ${pct}% ${s.done}/${s.total} ${s.unit}, ${timing}${s.note ? ` | ${s.note}` : ""}`;
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
  const now = options.now ?? (() => performance.now());
  const format = options.format ?? formatProgress;
  const start = now();
  const isTty = mode === "terminal" && !options.write && Deno.stderr.isTerminal();
  const interval = options.intervalMs ?? (mode === "terminal" && !isTty ? 10_000 : 500);
  const displayId = `advex-progress-${Deno.pid}-${++displayCounter}`;
  const display = mode === "notebook" ? kernelDisplay() : undefined;
  let last = -Infinity;
  let pending: Promise<void> = Promise.resolve();
  let shown = false;
  let lastDone = 0;
  let lastNote = "";

  const text = (done: number, note: string | undefined, final: boolean) => {
    const elapsed = (now() - start) / 1000;
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const remaining = final ? 0 : frac > 0 ? elapsed * (1 - frac) / frac : Infinity;
    return {
      frac,
      line: format({ label: options.label, done, total, unit, elapsed, remaining, note, final }),
    };
  };

  const draw = (done: number, note: string | undefined, final: boolean) => {
    const { frac, line } = text(done, note, final);
    if (mode === "terminal") {
      const enc = new TextEncoder();
      if (options.write) options.write(`${line}\n`);
      else if (isTty) Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${line}${final ? "\n" : ""}`));
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
      const t = now();
      if (t - last < interval && done < total) return;
      last = t;
      draw(done, note, false);
    },
    async finish(note?: string) {
      if (mode !== "silent") draw(total > 0 ? Math.max(lastDone, total) : lastDone, note ?? lastNote, true);
      await pending;
    },
  };
}
