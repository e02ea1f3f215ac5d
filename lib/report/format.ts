/**
 * Number formats the chapters' prose and tables share, so that every notebook writes a share, a gap or a
 * duration the same way.
 * @module
 */

/**
 * A share in [0, 1] as a percentage with `digits` decimals ("97.3%"); `null` or `undefined` (a number that
 * was not measured) as "n/a".
 *
 * @example
 * ```ts
 * import { pct } from "./format.ts";
 * if (pct(0.9732) !== "97.3%" || pct(null) !== "n/a") throw new Error("pct");
 * ```
 */
export function pct(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "n/a";
  return `${(100 * v).toFixed(digits)}%`;
}

/** The difference `b - a` of two shares in percentage points, signed ("+4.2 points", "-0.8 points"). */
export function points(a: number, b: number, digits = 1): string {
  const d = 100 * (b - a);
  const text = Math.abs(d).toFixed(digits);
  return `${d > 0 && Number(text) !== 0 ? "+" : d < 0 && Number(text) !== 0 ? "-" : ""}${text} points`;
}

/** A duration in seconds as "42 s", "3 min 05 s" or "1 h 02 min". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "n/a";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${String(Math.round(seconds - 60 * m)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}
