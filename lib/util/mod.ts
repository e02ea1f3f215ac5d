/** Shared helpers: atomic files, progress, the Jupyter display API. @module */
export * from "./fs.ts";
export * from "./jupyter.ts";
export * from "./progress.ts";
