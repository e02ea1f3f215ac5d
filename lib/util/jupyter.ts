/**
 * Access to the Jupyter kernel's display API. `Deno.jupyter` exists only inside `deno jupyter` (reading it
 * elsewhere throws), so library code asks here instead of touching it directly.
 * @module
 */

/** A Jupyter MIME bundle: MIME type to content. */
export type MimeBundle = Record<string, unknown>;

/** Options of the kernel's display function (`Deno.jupyter.display`). */
export interface KernelDisplayOptions {
  /** The object is a MIME bundle already. */
  raw?: boolean;
  /** Id under which the output can be replaced later. */
  display_id?: string;
  /** Replace the output shown under `display_id`. */
  update?: boolean;
}

/** The kernel's display function. */
export type KernelDisplay = (bundle: MimeBundle, options?: KernelDisplayOptions) => Promise<void>;

/**
 * Returns `Deno.jupyter.display` inside a Deno Jupyter kernel, or `undefined` anywhere else. Outside the
 * kernel, merely reading `Deno.jupyter` throws; this function never does.
 *
 * @example
 * ```ts
 * import { kernelDisplay } from "./jupyter.ts";
 * const display = kernelDisplay();
 * if (display) await display({ "text/plain": "hello" }, { raw: true });
 * ```
 */
export function kernelDisplay(): KernelDisplay | undefined {
  try {
    const deno = (globalThis as { Deno?: unknown }).Deno as { jupyter?: { display?: unknown } } | undefined;
    const display = deno?.jupyter?.display;
    return typeof display === "function" ? (display as KernelDisplay).bind(deno!.jupyter) : undefined;
  } catch {
    return undefined;
  }
}
