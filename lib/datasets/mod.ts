/**
 * Constructed datasets (Ilyas et al.): non-robust datasets D_rand and D_det made by targeted attacks, robust
 * datasets D_R (and D_NR) made by matching a model's representation; built in resumable chunks and stored
 * as dataset files.
 * @module
 */
export * from "./chunked.ts";
export * from "./non_robust.ts";
export * from "./robust.ts";
export * from "./targets.ts";
