/** Shared helpers: atomic files, progress, the Jupyter display API. @module */
export * from "./env.ts";
export * from "./fs.ts";
export * from "./jupyter.ts";
export * from "./names.ts";
export * from "./progress.ts";
